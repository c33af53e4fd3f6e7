/**
 * Run-time errors of the engine and their wire format.
 *
 * Caller mistakes are built-in errors (`TypeError`, `RangeError`, `FlowSyntaxError`); failures
 * during a run are {@linkcode WorkflowError}s with a string `code`. {@linkcode toErrorRecord} and
 * {@linkcode fromErrorRecord} carry errors across Web Workers, Redis and containers with their
 * class, message, stack, code and cause.
 *
 * @module
 */
import { preview, safeString, truncate } from "./safe_text.ts";
import { decodeError, encodeError, type ErrorRecord, jsonSafe } from "./error_wire.ts";

export type { ErrorRecord };

/** Options shared by every {@linkcode WorkflowError} constructor. */
export interface WorkflowErrorOptions {
  /** Machine-readable error code, e.g. `"MAX_STEPS"`. @default {"WORKFLOW_ERROR"} */
  code?: string;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Base class of every run-time failure of a workflow.
 *
 * @example Checking the code
 * ```ts
 * import { WorkflowError } from "@graflow/graflow";
 * const error = new WorkflowError("Cannot run flow: too many steps", { code: "MAX_STEPS" });
 * if (error.code !== "MAX_STEPS") throw new Error("unexpected");
 * ```
 */
export class WorkflowError extends Error {
  /** Machine-readable error code. */
  readonly code: string;

  /**
   * Creates the instance.
   *
   * @param message What failed and why.
   * @param options The code and cause.
   */
  constructor(message: string, options: WorkflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WorkflowError";
    this.code = options.code ?? "WORKFLOW_ERROR";
  }
}

/** A task failed (its last attempt threw or timed out); `cause` holds what it threw. */
export class TaskFailedError extends WorkflowError {
  /** The id of the task that failed. */
  readonly taskId: string;

  /**
   * Creates the instance.
   *
   * @param taskId The failing task.
   * @param cause What the task threw.
   * @param code The error code. @default {"TASK_FAILED"}
   */
  constructor(taskId: string, cause: unknown, code = "TASK_FAILED") {
    super(`Task "${taskId}" failed: ${describeCause(cause)}`, { code, cause });
    this.name = "TaskFailedError";
    this.taskId = taskId;
  }
}

/** A task with a retry policy failed on every one of its `maxRetries + 1` attempts. */
export class RetryLimitExceededError extends TaskFailedError {
  /** Number of attempts made. */
  readonly attempts: number;

  /**
   * Creates the instance.
   *
   * @param taskId The failing task.
   * @param attempts How many attempts were made.
   * @param cause What the last attempt threw.
   */
  constructor(taskId: string, attempts: number, cause: unknown) {
    super(taskId, cause, "RETRY_LIMIT_EXCEEDED");
    this.message = `Task "${taskId}" failed after ${attempts} attempts: ${describeCause(cause)}`;
    this.name = "RetryLimitExceededError";
    this.attempts = attempts;
  }
}

/** A task ran past its `timeoutMs`; its signal was aborted. */
export class TaskTimeoutError extends WorkflowError {
  /** The task that timed out. */
  readonly taskId: string;
  /** The limit that was exceeded. */
  readonly timeoutMs: number;

  /**
   * Creates the instance.
   *
   * @param taskId The task.
   * @param timeoutMs Its limit in milliseconds.
   */
  constructor(taskId: string, timeoutMs: number) {
    super(`Task "${taskId}" timed out: no result after ${timeoutMs} ms`, { code: "TASK_TIMEOUT" });
    this.name = "TaskTimeoutError";
    this.taskId = taskId;
    this.timeoutMs = timeoutMs;
  }
}

/** A task was activated more often than its `maxCycles` allows. */
export class CycleLimitExceededError extends WorkflowError {
  /** The task whose budget ran out. */
  readonly taskId: string;
  /** Its `maxCycles`. */
  readonly limit: number;

  /**
   * Creates the instance.
   *
   * @param taskId The task.
   * @param limit Its `maxCycles`.
   */
  constructor(taskId: string, limit: number) {
    super(
      `Cannot run task "${taskId}" again: it reached its cycle limit of ${limit} (maxCycles)`,
      { code: "CYCLE_LIMIT_EXCEEDED" },
    );
    this.name = "CycleLimitExceededError";
    this.taskId = taskId;
    this.limit = limit;
  }
}

/**
 * Throw it from a task to fail the task at once, without the retries its policy allows (like
 * BullMQ's `UnrecoverableError`). It keeps its class across Web Workers, Redis workers and
 * containers; so does any subclass registered with {@linkcode registerErrorClass}, and any
 * error whose own `retryable` property is `false` (which crosses as data).
 *
 * @example A validation failure that retrying cannot fix
 * ```ts
 * import { flow, NonRetryableError, task } from "@graflow/graflow";
 * let calls = 0;
 * const check = task("doc_nonretry_check", () => {
 *   calls++;
 *   throw new NonRetryableError("Cannot import order: field \"total\" is missing");
 * }, { retries: 3 });
 * await flow`${check}`.run().catch(() => {});
 * if (calls !== 1) throw new Error("unexpected");
 * ```
 */
export class NonRetryableError extends WorkflowError {
  /** Always `false`: the engine does not retry the task that threw it. */
  readonly retryable = false;

  /**
   * Creates the instance.
   *
   * @param message What failed and why.
   * @param options The code and cause. @default {code: "NON_RETRYABLE"}
   */
  constructor(message: string, options: WorkflowErrorOptions = {}) {
    super(message, { code: "NON_RETRYABLE", ...options });
    this.name = "NonRetryableError";
  }
}

/**
 * Whether an error forbids retries: a {@linkcode NonRetryableError} (also after crossing a
 * process boundary), or any error whose `retryable` property is `false`.
 *
 * @param error What a task threw.
 * @returns True when the task must not be retried.
 */
export function isNonRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return true;
  try {
    return (error as { retryable?: unknown } | null)?.retryable === false;
  } catch {
    return false;
  }
}

/** One failed member of a parallel group. */
export interface GroupFailure {
  /** The task that failed. */
  taskId: string;
  /** What it threw. */
  error: unknown;
}

/** A parallel group failed under its policy; its successors did not run. */
export class ParallelGroupError extends WorkflowError {
  /** The group. */
  readonly groupId: string;
  /** The failures the policy objects to. */
  readonly failed: GroupFailure[];
  /** Members that succeeded. */
  readonly succeeded: string[];

  /**
   * Creates the instance.
   *
   * @param groupId The group.
   * @param failed The failures that failed the group.
   * @param succeeded Members that succeeded.
   * @param reason What the policy required.
   */
  constructor(groupId: string, failed: GroupFailure[], succeeded: string[], reason?: string) {
    const names = failed.map((f) => `"${f.taskId}"`).join(", ");
    super(
      `Parallel group "${groupId}" failed: ${reason ?? `${failed.length} member(s) failed`}` +
        (names ? ` (failed: ${names})` : ""),
      { code: "PARALLEL_GROUP_FAILED", cause: failed[0]?.error },
    );
    this.name = "ParallelGroupError";
    this.groupId = groupId;
    this.failed = failed;
    this.succeeded = succeeded;
  }
}

/** The run was canceled by `ctx.cancel()`. */
export class WorkflowCanceledError extends WorkflowError {
  /** The task that canceled the run. */
  readonly taskId: string | undefined;
  /** The reason given to `cancel`. */
  readonly reason: string | undefined;

  /**
   * Creates the instance.
   *
   * @param taskId The task that called `cancel`.
   * @param reason Its reason.
   */
  constructor(taskId: string | undefined, reason?: string) {
    super(
      `Workflow canceled${taskId ? ` by task "${taskId}"` : ""}${reason ? `: ${reason}` : ""}`,
      { code: "CANCELED" },
    );
    this.name = "WorkflowCanceledError";
    this.taskId = taskId;
    this.reason = reason;
  }
}

/** A checkpoint file is missing, truncated, tampered with, or of a newer schema. */
export class CheckpointError extends WorkflowError {
  /** The file at fault. */
  readonly path: string;

  /**
   * Creates the instance.
   *
   * @param path The file.
   * @param reason What is wrong with it.
   * @param cause The underlying error.
   */
  constructor(path: string, reason: string, cause?: unknown) {
    super(`Cannot load checkpoint "${path}": ${reason}`, { code: "CHECKPOINT_INVALID", cause });
    this.name = "CheckpointError";
    this.path = path;
  }
}

/** A task threw something that is not an `Error`; the value is kept in `value`. */
export class NonErrorThrownError extends WorkflowError {
  /** What was thrown. */
  readonly value: unknown;

  /**
   * Creates the instance.
   *
   * @param value The thrown value.
   */
  constructor(value: unknown) {
    super(`threw a non-Error value: ${preview(value)}`, { code: "NON_ERROR_THROWN" });
    this.name = "NonErrorThrownError";
    this.value = value;
  }
}

/**
 * What a task threw, as an `Error` that is safe to read: an `Error` stays as it is; anything
 * else, and an `Error` whose properties cannot be read (a revoked `Proxy`, a throwing `message`
 * getter), becomes a {@linkcode NonErrorThrownError}. Never throws.
 *
 * @param raw What was thrown.
 * @returns An error whose `name`, `message` and `stack` can be read.
 */
export function asError(raw: unknown): Error {
  let isError: boolean;
  try {
    isError = raw instanceof Error;
  } catch {
    return new NonErrorThrownError("(a value that cannot be inspected, e.g. a revoked Proxy)");
  }
  if (!isError) return new NonErrorThrownError(raw);
  try {
    // Reading these must work: the engine and the wire format read them later.
    void String((raw as Error).name), String((raw as Error).message), (raw as Error).stack;
    return raw as Error;
  } catch {
    return new NonErrorThrownError("(an Error whose name, message or stack cannot be read)");
  }
}

const MAX_CAUSE_TEXT = 2_000;

function describeCause(cause: unknown): string {
  let text: string;
  try {
    text = cause instanceof Error
      ? safeString(cause.message || cause.name, MAX_CAUSE_TEXT)
      : `threw a non-Error value: ${preview(cause)}`;
  } catch {
    text = "threw a value whose properties cannot be read";
  }
  return truncate(text, MAX_CAUSE_TEXT);
}

type ErrorClass = new (...args: never[]) => Error;
const errorClasses = new Map<string, ErrorClass>();
for (
  const c of [
    Error,
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
    WorkflowError,
    TaskFailedError,
    RetryLimitExceededError,
    TaskTimeoutError,
    CycleLimitExceededError,
    NonRetryableError,
    ParallelGroupError,
    WorkflowCanceledError,
    CheckpointError,
    NonErrorThrownError,
  ] as ErrorClass[]
) errorClasses.set(c.name, c);

/**
 * Lets {@linkcode fromErrorRecord} rebuild instances of your own error class (by its `name`)
 * when they come back from a Web Worker, Redis worker or container.
 *
 * @param errorClass The class; its `name` is the key.
 *
 * @example Registering a class
 * ```ts
 * import { registerErrorClass } from "@graflow/graflow";
 * class QuotaError extends Error {}
 * registerErrorClass(QuotaError);
 * ```
 */
export function registerErrorClass(errorClass: new (...args: never[]) => Error): void {
  errorClasses.set(errorClass.name, errorClass);
}

/**
 * Converts any thrown value into an {@linkcode ErrorRecord}. Never throws: a revoked `Proxy`,
 * throwing getters, cyclic causes and huge messages give a record that says what could be read
 * (messages and stacks are cut to bounded lengths).
 *
 * @param error What was thrown.
 * @param depth How deep in a cause chain this error is (causes past 8 levels are dropped). @default {0}
 * @returns Its JSON form.
 */
export function toErrorRecord(error: unknown, depth = 0): ErrorRecord {
  return encodeError(error, depth, wireHooks);
}

/**
 * Rebuilds an error from an {@linkcode ErrorRecord}: the same class when it is known (built-in,
 * engine or registered with {@linkcode registerErrorClass}), else an `Error` with the same `name`.
 * Never throws, whatever it is given: malformed fields are replaced, keys such as `__proto__`
 * or `constructor` are not copied, causes are followed 8 levels deep and texts are cut to
 * bounded lengths; something that is not a record at all gives a `WorkflowError` with code
 * `"BAD_ERROR_RECORD"`.
 *
 * @param record The JSON form.
 * @returns The error.
 */
export function fromErrorRecord(record: ErrorRecord): Error {
  return decodeError(record, wireHooks);
}

const wireHooks = {
  nonError(value: unknown): Error {
    return new NonErrorThrownError(jsonSafe(value));
  },
  unreadable(): Error {
    return new NonErrorThrownError("(a value that cannot be inspected, e.g. a revoked Proxy)");
  },
  classOf(name: string): ErrorClass {
    return errorClasses.get(name) ?? Error;
  },
  bad(why: string): Error {
    return new WorkflowError(`Cannot read an error record: ${why}`, { code: "BAD_ERROR_RECORD" });
  },
};
