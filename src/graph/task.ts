/**
 * `task()`: plain functions as named, registered workflow tasks.
 *
 * @module
 */
import type { TaskContext } from "../context/task_context.ts";
import { isNonRetryable, WorkflowError } from "../errors.ts";
import { checkDelay } from "../time/clock.ts";

/** Backoff between retries: delay before retry k (0-based) is `min(initialDelayMs * factor ** k, maxDelayMs)`. */
export interface RetryPolicy {
  /** Retries after the first attempt (so `maxRetries + 1` attempts in all). */
  maxRetries: number;
  /** Delay before the first retry. @default {1000} */
  initialDelayMs?: number;
  /** Growth factor per retry. @default {2} */
  factor?: number;
  /** Upper bound of any delay. @default {60000} */
  maxDelayMs?: number;
  /** Multiply each delay by a uniform random factor in [0.5, 1.5). @default {false} */
  jitter?: boolean;
  /**
   * Decides, on the host, whether an attempt that threw `error` may be retried: `false` fails
   * the task at once (so does a throwing `retryIf`). Errors from Web Workers, Redis workers and
   * containers arrive rebuilt with their class. A `NonRetryableError` is never retried,
   * whatever this says. @default {every error but a NonRetryableError is retried}
   */
  retryIf?: (error: unknown) => boolean;
}

/** Options of {@linkcode task}. */
export interface TaskOptions {
  /** Name of the {@linkcode TaskHandler} that runs this task. @default {"direct"} */
  handler?: string;
  /** Retries on failure: a count (1 s, 2 s, 4 s… backoff) or a {@linkcode RetryPolicy}. @default {0} */
  retries?: number | RetryPolicy;
  /**
   * Per-attempt time limit; aborts `ctx.signal` and fails the attempt. Any finite value above 0
   * is honoured; `Infinity`, NaN and values <= 0 are a `RangeError` (omit it for no limit).
   * @default {undefined} (none)
   */
  timeoutMs?: number;
  /** How often this task may run in one run (loops, iterations): a whole number >= 1, or `Infinity`. @default {100} */
  maxCycles?: number;
  /** URL of the module that defines the task (found from the call stack when omitted). */
  module?: string;
  /**
   * Deno permissions for the task when it runs in a Web Worker (`handler: "worker"`), as in the
   * `deno.permissions` option of `new Worker`. @default {"inherit"}
   */
  permissions?: WorkerPermissions;
}

/** Deno's permission descriptor for Web Workers (`"inherit"`, `"none"` or per permission). */
export type WorkerPermissions =
  | "inherit"
  | "none"
  | {
    env?: "inherit" | boolean | string[];
    net?: "inherit" | boolean | string[];
    ffi?: "inherit" | boolean | string[];
    read?: "inherit" | boolean | string[];
    run?: "inherit" | boolean | string[];
    sys?: "inherit" | boolean | string[];
    write?: "inherit" | boolean | string[];
    import?: "inherit" | boolean | string[];
  };

/** A task function: receives its input and the {@linkcode TaskContext}. */
export type TaskFn<I, O> = (input: I, ctx: TaskContext) => O | Promise<O>;

/** Retry settings after normalisation. */
export interface NormalizedRetry {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Delay before the first retry. */
  initialDelayMs: number;
  /** Growth factor per retry. */
  factor: number;
  /** Upper bound of a delay. */
  maxDelayMs: number;
  /** Whether delays are randomised by 0.5–1.5×. */
  jitter: boolean;
  /** Whether an error may be retried (absent: every error but a `NonRetryableError`). */
  retryIf?: (error: unknown) => boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const registry = new Map<string, Task<never, unknown>>();

/**
 * A named unit of work. Create with {@linkcode task}.
 */
export class Task<I = unknown, O = unknown> {
  /** The task id, unique in the process. */
  readonly name: string;
  /** The options it was defined with. */
  readonly options: Readonly<TaskOptions>;
  /** URL of the module that defined it (workers import it to find the task by name). */
  readonly module: string | undefined;
  /** Handler name. */
  readonly handler: string;
  /** @internal Normalised retry policy (`maxRetries: 0` when none). */
  readonly retry: NormalizedRetry;
  /** Cycle budget. */
  readonly maxCycles: number;
  // Typed without I and O so that Task<I, O> stays assignable to Task (see `fn`).
  readonly #fn: (input: never, ctx: TaskContext) => unknown;

  /** @internal Use {@linkcode task}. */
  constructor(name: string, fn: TaskFn<I, O>, options: TaskOptions, module: string | undefined) {
    this.name = name;
    this.#fn = fn;
    this.options = Object.freeze({ ...options });
    this.module = module;
    this.handler = options.handler ?? "direct";
    this.retry = normalizeRetry(name, options.retries);
    this.maxCycles = options.maxCycles ?? 100;
  }

  /**
   * Calls the task function; this is what a custom handler runs.
   *
   * @param input The task input.
   * @param ctx The task context.
   * @returns What the function returns.
   */
  invoke(input: I, ctx: TaskContext): O | Promise<O> {
    return this.#fn(input as never, ctx) as O | Promise<O>;
  }

  /**
   * @internal The function itself (typed loosely so that a `Task<number, string>` is still a
   * `Task`, e.g. for `parallel([...])` and `ctx.next(...)`).
   */
  get fn(): (...args: never[]) => unknown {
    return this.#fn;
  }
}

/**
 * Defines a task and registers it under `name` in the process-wide registry.
 *
 * @param name Task id matching `[A-Za-z_][A-Za-z0-9_.-]*`.
 * @param fn The work: `(input, ctx) => result`.
 * @param options Handler, retries, timeout, cycle budget, module URL.
 * @returns The task.
 * @throws {TypeError} When the name is malformed, or another task already has it.
 * @throws {RangeError} When an option is out of range.
 *
 * @example Defining a task
 * ```ts
 * import { task } from "@graflow/graflow";
 * const double = task("doc_double", (n: number) => n * 2, { retries: 2 });
 * if (double.name !== "doc_double") throw new Error("unexpected");
 * ```
 */
export function task<I = unknown, O = unknown>(
  name: string,
  fn: TaskFn<I, O>,
  options: TaskOptions = {},
): Task<I, O> {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `Cannot define task ${JSON.stringify(name)}: a task name must match [A-Za-z_][A-Za-z0-9_.-]*`,
    );
  }
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot define task "${name}": fn must be a function, got ${typeof fn}`);
  }
  validateOptions(name, options);
  const module = options.module ?? callerModule();
  const existing = registry.get(name);
  if (existing) {
    // Only the very same function, with the same options, is the same task again (a module
    // evaluated twice); two functions are two tasks, even with the same source text: their
    // closures may differ (`task("mult", (x) => x * k)` for two values of k).
    if (existing.fn === (fn as unknown) && sameOptions(existing.options, options)) {
      return existing as unknown as Task<I, O>;
    }
    throw new TypeError(
      `Cannot define task "${name}": a different task with this name already exists` +
        (existing.module ? ` (defined in ${existing.module})` : ""),
    );
  }
  const t = new Task(name, fn, options, module);
  registry.set(name, t as unknown as Task<never, unknown>);
  return t;
}

/** Whether two option objects hold the same values (JSON data compared by content). */
function sameOptions(a: Readonly<TaskOptions>, b: TaskOptions): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof TaskOptions>;
  for (const key of keys) {
    const x = a[key], y = b[key];
    if (Object.is(x, y)) continue;
    if (typeof x !== "object" || typeof y !== "object" || x === null || y === null) return false;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

/**
 * Looks a task up by name in the process-wide registry.
 *
 * @param name The task id.
 * @returns The task, or `undefined`.
 */
export function getTask(name: string): Task | undefined {
  return registry.get(name) as Task | undefined;
}

/**
 * The names of every registered task.
 *
 * @returns The names of every registered task.
 */
export function registeredTaskNames(): string[] {
  return [...registry.keys()];
}

/**
 * Finds a task by name, importing `module` first when it is not registered yet.
 *
 * @param name The task id.
 * @param module URL of the module that defines it.
 * @returns The task.
 * @throws {WorkflowError} `TASK_NOT_FOUND` when neither the registry nor the module has it.
 */
export async function resolveTask(name: string, module?: string): Promise<Task> {
  const found = registry.get(name);
  if (found) return found as Task;
  if (module) {
    try {
      await import(module);
    } catch (error) {
      throw new WorkflowError(
        `Cannot find task "${name}": importing its module ${module} failed: ${
          (error as Error)?.message ?? error
        }`,
        { code: "TASK_NOT_FOUND", cause: error },
      );
    }
    const loaded = registry.get(name);
    if (loaded) return loaded as Task;
  }
  throw new WorkflowError(
    `Cannot find task "${name}": it is not registered` +
      (module ? ` and its module ${module} does not define it` : " and no module URL is known"),
    { code: "TASK_NOT_FOUND" },
  );
}

function validateOptions(name: string, o: TaskOptions): void {
  if (typeof o !== "object" || o === null) {
    throw new TypeError(`Cannot define task "${name}": options must be an object, got ${o}`);
  }
  if (o.handler !== undefined && (typeof o.handler !== "string" || o.handler === "")) {
    throw new TypeError(`Cannot define task "${name}": handler must be a non-empty string`);
  }
  if (o.timeoutMs !== undefined) checkDuration(name, "timeoutMs", o.timeoutMs, false);
  if (o.maxCycles !== undefined && !(o.maxCycles >= 1)) {
    throw new RangeError(
      `Cannot define task "${name}": maxCycles must be at least 1, got ${o.maxCycles}`,
    );
  }
  if (o.maxCycles !== undefined && !Number.isInteger(o.maxCycles) && o.maxCycles !== Infinity) {
    throw new RangeError(
      `Cannot define task "${name}": maxCycles must be a whole number or Infinity, got ${o.maxCycles}`,
    );
  }
  if (o.module !== undefined) {
    try {
      new URL(o.module);
    } catch {
      throw new TypeError(`Cannot define task "${name}": module must be a URL, got "${o.module}"`);
    }
  }
}

/**
 * Checks a duration option with `checkDelay`: any finite value is honoured (timers past
 * 2^31−1 ms are chained), so only non-finite, negative (or, without `allowZero`, zero) values
 * are refused.
 */
function checkDuration(name: string, key: string, value: unknown, allowZero: boolean): void {
  try {
    checkDelay(value, key, allowZero);
  } catch {
    throw new RangeError(
      `Cannot define task "${name}": ${key} must be a ${
        allowZero ? "finite number >= 0" : "positive number"
      }, got ${String(value)}` +
        (typeof value === "number" && !Number.isFinite(value)
          ? " (any finite value is honoured; omit it for no limit)"
          : ""),
    );
  }
}

function normalizeRetry(name: string, retries: TaskOptions["retries"]): NormalizedRetry {
  const p: RetryPolicy = typeof retries === "number"
    ? { maxRetries: retries }
    : retries ?? { maxRetries: 0 };
  const r: NormalizedRetry = {
    maxRetries: p.maxRetries,
    initialDelayMs: p.initialDelayMs ?? 1000,
    factor: p.factor ?? 2,
    maxDelayMs: p.maxDelayMs ?? 60000,
    jitter: p.jitter ?? false,
    ...(p.retryIf !== undefined ? { retryIf: p.retryIf } : {}),
  };
  if (r.retryIf !== undefined && typeof r.retryIf !== "function") {
    throw new TypeError(
      `Cannot define task "${name}": retries.retryIf must be a function, got ${typeof r.retryIf}`,
    );
  }
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0) {
    throw new RangeError(
      `Cannot define task "${name}": retries must be a whole number >= 0, got ${r.maxRetries}`,
    );
  }
  if (!(typeof r.factor === "number" && Number.isFinite(r.factor) && r.factor >= 0)) {
    throw new RangeError(
      `Cannot define task "${name}": retries.factor must be a finite number >= 0, got ${r.factor}`,
    );
  }
  checkDuration(name, "retries.initialDelayMs", r.initialDelayMs, true);
  checkDuration(name, "retries.maxDelayMs", r.maxDelayMs, true);
  if (typeof r.jitter !== "boolean") {
    throw new TypeError(`Cannot define task "${name}": retries.jitter must be a boolean`);
  }
  return r;
}

/**
 * Whether an attempt that threw `error` may be retried under `policy` (attempts left aside): not
 * for a `NonRetryableError` (or an error whose `retryable` is `false`), nor when `retryIf`
 * returns `false` or throws.
 *
 * @param policy The normalised policy.
 * @param error What the attempt threw.
 * @returns True when a retry is allowed.
 */
export function mayRetry(policy: NormalizedRetry, error: unknown): boolean {
  if (isNonRetryable(error)) return false;
  if (policy.retryIf === undefined) return true;
  try {
    return Boolean(policy.retryIf(error));
  } catch {
    return false;
  }
}

/**
 * Delay before retry `k` (0-based) under `policy`.
 *
 * @param policy The normalised policy.
 * @param k Retry index.
 * @param random Source of randomness for jitter.
 * @returns Milliseconds to wait.
 */
export function retryDelay(policy: NormalizedRetry, k: number, random = Math.random): number {
  const base = Math.min(policy.initialDelayMs * policy.factor ** k, policy.maxDelayMs);
  return policy.jitter ? base * (0.5 + random()) : base;
}

const OWN_DIR = new URL("../", import.meta.url).href;

function callerModule(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = line.match(/((?:file|https?|jsr|data):[^\s)]+?):\d+:\d+\)?\s*$/);
    if (!m) continue;
    const url = m[1];
    // Frames of the engine itself (src/) are skipped: the first other frame defined the task.
    if (url.startsWith(OWN_DIR)) continue;
    return url;
  }
  return undefined;
}
