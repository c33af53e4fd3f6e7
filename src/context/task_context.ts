/**
 * `ctx`: what a running task sees of its run.
 *
 * @module
 */
import type { Channel } from "../channels/channel.ts";
import type { Task } from "../graph/task.ts";
import { checkMapOptions, type GroupPolicy, type PolicySpec } from "../graph/policies.ts";

/** Options of {@linkcode TaskContext.next}. */
export interface NextOptions {
  /** Skip the caller's static successors (jump). @default {false} (true for a node of the flow) */
  goto?: boolean;
}

/** Options of {@linkcode TaskContext.checkpoint}. */
export interface CheckpointOptions {
  /** Your data, stored in `.meta.json`. */
  metadata?: Record<string, unknown>;
  /** Write after the task succeeded (true) or now (false; the task re-runs on resume). @default {true} */
  deferred?: boolean;
  /** Base path of the files. @default {"<checkpointDir>/<runId>/step_<steps>"} */
  path?: string;
}

/** What an immediate checkpoint returns. */
export interface CheckpointInfo {
  /** Base path (files are `<path>.state.json`, `.meta.json`, `.channel`). */
  path: string;
  /** The `.meta.json` contents. */
  metadata: CheckpointMetadata;
}

/** Contents of a checkpoint's `.meta.json`. */
export interface CheckpointMetadata {
  /** Unique id of the checkpoint. */
  checkpointId: string;
  /** The run. */
  runId: string;
  /** ISO time of writing. */
  createdAt: string;
  /** Task executions so far. */
  steps: number;
  /** The task that asked for it (if any). */
  taskId?: string;
  /** Your metadata. */
  user: Record<string, unknown>;
  /** SHA-256 (hex) of the `.state.json` and `.channel` files. */
  checksum: { state: string; channel: string };
  /** File format version. */
  schemaVersion: number;
}

/** A question for a person. */
export interface FeedbackRequest {
  /** Kind of answer expected. */
  type: "approval" | "text" | "selection";
  /** The question. */
  prompt: string;
  /** Choices for `selection`. */
  options?: string[];
  /** How long to wait before checkpointing and returning `status: "waiting"`. */
  timeoutMs: number;
  /** Your data (shown to whoever answers). */
  metadata?: Record<string, unknown>;
}

/** An answer from a person. */
export interface FeedbackResponse {
  /** For `approval`. */
  approved?: boolean;
  /** For `text`. */
  text?: string;
  /** For `selection`. */
  selected?: string;
  /** Who answered. */
  respondedBy?: string;
  /** ISO time of the answer. */
  respondedAt: string;
}

/** Key of the method through which a handler reports to a task's run (see `notifyRun`). */
export const RUN_NOTICE: unique symbol = Symbol.for("graflow.runNotice");

/** What a handler can report to the run of a task it runs. */
export interface RunNotice {
  /** The kind of report. */
  type: "task.waiting";
  /** Why the task waits, e.g. `"no-worker"`. */
  reason: string;
  /** How long it has waited. */
  waitedMs: number;
  /** A sentence for people. */
  message: string;
}

/** @internal What a run implements for the contexts of its task attempts. */
export interface ContextHost<R> {
  readonly runId: string;
  readonly channel: Channel;
  result(taskId: string): Promise<unknown>;
  checkpoint(ref: R, options: CheckpointOptions): Promise<CheckpointInfo | undefined>;
  requestFeedback(
    ref: R,
    ctx: EngineTaskContext<R>,
    request: FeedbackRequest,
  ): Promise<FeedbackResponse>;
  notice(ref: R, notice: RunNotice): void;
}

/** A `ctx.next` call recorded during an attempt. */
export interface NextCall {
  /** The task, or its name (resolved by name in the flow, then the task registry). */
  task: Task | string;
  /** Its input, when given. */
  input: unknown;
  /** Whether an input was given (else it gets the caller's result). */
  hasInput: boolean;
  /** `{ goto }` as given. */
  goto: boolean | undefined;
}

/** Options of {@linkcode TaskContext.map}. */
export interface MapCallOptions {
  /**
   * A built-in policy: `strict()`, `bestEffort()`, `atLeast(n)` or `firstSuccess()` (custom
   * functions cannot be kept in checkpoints nor sent from workers). @default {strict()}
   */
  policy?: GroupPolicy;
  /** Most items in flight at once (a whole number >= 1). @default {Infinity} */
  concurrency?: number;
}

/** A `ctx.map` call recorded during an attempt. */
export interface MapCall {
  /** The task, or its name (resolved in the flow, then the task registry). */
  task: Task | string;
  /** The items. */
  items: unknown[];
  /** The policy as data (built-in policies only). */
  policy?: PolicySpec;
  /** The bound, when finite. */
  concurrency?: number;
}

/** What a task asked for during one attempt; applied when the attempt succeeds. */
export interface Directives {
  /** `ctx.next` calls. */
  next?: NextCall[];
  /** `ctx.map`. */
  map?: MapCall;
  /** `ctx.nextIteration`. */
  iterate?: { input: unknown; hasInput: boolean };
  /** `ctx.terminate`. */
  terminate?: { reason?: string };
  /** `ctx.cancel`. */
  cancel?: { reason?: string };
  /** Deferred `ctx.checkpoint` calls (written by the run's persistence, not the state). */
  checkpoints?: CheckpointOptions[];
}

/**
 * The context of one task attempt (`ctx`): identity, cancellation, the run's channel and
 * results, and the calls that change the graph at run time. Tasks running in Web Workers, Redis
 * workers or containers get an implementation that carries these calls back to the run.
 */
export interface TaskContext {
  /** The task id. */
  readonly taskId: string;
  /** The run id. */
  readonly runId: string;
  /** 1-based attempt number (retries increase it). */
  readonly attempt: number;
  /** 1-based execution count of this task in the run. */
  readonly cycle: number;
  /** Aborted on run cancel, task timeout or worker shutdown. */
  readonly signal: AbortSignal;
  /** The run's key-value store. */
  readonly channel: Channel;
  /**
   * Result of any completed task of this run.
   *
   * @param taskId The task.
   * @returns Its latest result, or `undefined` when it has not completed.
   */
  result<T = unknown>(taskId: string): Promise<T | undefined>;
  /**
   * Adds a task at run time: a new task runs after this one (whose successors still run); a
   * task of the flow, or `{ goto: true }`, is a jump (this task's static successors are skipped).
   *
   * @param task The task to run.
   * @param input Its input (default: this task's result).
   * @param options `goto`.
   */
  next(task: Task, input?: unknown, options?: NextOptions): void;
  /**
   * Runs this task again with `input` (default: this execution's result); its successors wait
   * for the execution that does not iterate and get that execution's result.
   *
   * @param input Input of the next execution.
   */
  nextIteration(input?: unknown): void;
  /**
   * Maps over a list decided at run time: after this task succeeds, `task` runs once per item
   * (on its own handler, at most `concurrency` at a time, under `policy`), and this task's
   * successors receive the results array in item order instead of this task's return value
   * (which is also what `ctx.result` and `RunResult.results` then give for this task).
   *
   * @param task The task run per item (it receives the item).
   * @param items The items (structured data).
   * @param options Policy (built-in), concurrency.
   * @throws {TypeError} When called twice, together with `nextIteration`, with a custom policy
   * or `critical()`, or with items that are not an array.
   * @throws {RangeError} When `concurrency` is not a whole number >= 1.
   */
  map(task: Task, items: unknown[], options?: MapCallOptions): void;
  /**
   * Finishes the run normally after this task (`status: "terminated"`); nothing else runs.
   *
   * @param reason Why.
   */
  terminate(reason?: string): void;
  /**
   * Fails the run with `WorkflowCanceledError` after this task.
   *
   * @param reason Why.
   */
  cancel(reason?: string): void;
  /**
   * Saves a checkpoint: deferred (after this task succeeded and its successors were queued) or
   * immediate (`deferred: false`, written now; this task re-runs from its start on resume).
   *
   * @param options Metadata, timing, path.
   * @returns For immediate checkpoints, the base path and metadata; else `undefined`.
   */
  checkpoint(options?: CheckpointOptions): Promise<CheckpointInfo | undefined>;
  /**
   * Asks a person and waits for the answer (or, after `timeoutMs`, checkpoints and ends the run
   * with `status: "waiting"`; after `resume()` the same call returns the stored answer).
   *
   * @param request The question.
   * @returns The answer.
   */
  requestFeedback(request: FeedbackRequest): Promise<FeedbackResponse>;
}

/**
 * Records what a task asks for (`next`, `nextIteration`, `terminate`, `cancel`, deferred
 * checkpoints) so that it is applied when the attempt succeeds. Base of the engine's context
 * and of the contexts of tasks running elsewhere.
 */
export abstract class DirectiveRecorder {
  /** The task id. */
  abstract readonly taskId: string;
  /** @internal Calls recorded during this attempt. */
  directives: Directives | undefined;

  /**
   * Adds a task at run time (see {@linkcode TaskContext.next}).
   *
   * @param task The task to run.
   * @param args Its input, then options.
   */
  next(task: Task, ...args: [input?: unknown, options?: NextOptions]): void {
    if (!task || typeof (task as Task).invoke !== "function") {
      throw new TypeError(
        `Cannot call next() from task "${this.taskId}": expected a Task, got ${typeof task}`,
      );
    }
    const d = (this.directives ??= {});
    (d.next ??= []).push({ task, input: args[0], hasInput: args.length > 0, goto: args[1]?.goto });
  }

  /**
   * Runs this task again (see {@linkcode TaskContext.nextIteration}).
   *
   * @param args The input of the next execution.
   */
  nextIteration(...args: [input?: unknown]): void {
    if (this.directives?.map) {
      throw new TypeError(
        `Cannot call nextIteration() from task "${this.taskId}": it already called map()`,
      );
    }
    (this.directives ??= {}).iterate = { input: args[0], hasInput: args.length > 0 };
  }

  /**
   * Maps `task` over `items` after this task (see {@linkcode TaskContext.map}).
   *
   * @param task The task run per item.
   * @param items The items.
   * @param options Policy, concurrency.
   */
  map(task: Task, items: unknown[], options: MapCallOptions = {}): void {
    const what = `map() from task "${this.taskId}"`;
    if (!task || typeof (task as Task).invoke !== "function") {
      throw new TypeError(`Cannot call ${what}: expected a Task, got ${typeof task}`);
    }
    if (!Array.isArray(items)) {
      throw new TypeError(
        `Cannot call ${what}: items must be an array, got ${
          items === null ? "null" : typeof items
        }`,
      );
    }
    if (this.directives?.map) throw new TypeError(`Cannot call ${what}: it was already called`);
    if (this.directives?.iterate) {
      throw new TypeError(`Cannot call ${what}: the task already called nextIteration()`);
    }
    checkMapOptions(`${what} over "${task.name}"`, options);
    const policy = options.policy;
    if (policy !== undefined && policy.spec === undefined) {
      throw new TypeError(
        `Cannot call ${what}: a custom policy function cannot be kept in checkpoints nor sent from workers; use strict(), bestEffort(), atLeast(n) or firstSuccess()`,
      );
    }
    const c = options.concurrency;
    (this.directives ??= {}).map = {
      task,
      items: [...items],
      ...(policy ? { policy: structuredClone(policy.spec!) } : {}),
      ...(c !== undefined && c !== Infinity ? { concurrency: c } : {}),
    };
  }

  /**
   * Finishes the run after this task.
   *
   * @param reason Why.
   */
  terminate(reason?: string): void {
    (this.directives ??= {}).terminate = { reason };
  }

  /**
   * Fails the run with `WorkflowCanceledError` after this task.
   *
   * @param reason Why.
   */
  cancel(reason?: string): void {
    (this.directives ??= {}).cancel = { reason };
  }
}

/** @internal The engine's context of one task attempt (`R`: the run's record of the attempt). */
export class EngineTaskContext<R = unknown> extends DirectiveRecorder implements TaskContext {
  /** The task id. */
  readonly taskId: string;
  /** The run id. */
  readonly runId: string;
  /** 1-based attempt number (retries increase it). */
  readonly attempt: number;
  /** 1-based execution count of this task in the run. */
  readonly cycle: number;
  /** @internal Number of `requestFeedback` calls made so far by this attempt. */
  feedbackCalls = 0;
  readonly #host: ContextHost<R>;
  readonly #ref: R;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #aborted = false;

  /** @internal Created by the engine. */
  constructor(host: ContextHost<R>, ref: R, taskId: string, attempt: number, cycle: number) {
    super();
    this.#host = host;
    this.#ref = ref;
    this.taskId = taskId;
    this.runId = host.runId;
    this.attempt = attempt;
    this.cycle = cycle;
  }

  /** Aborted on run cancel, task timeout or worker shutdown. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** @internal Aborts `signal` (created on first access, so tasks that never read it cost nothing). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** The run's key-value store. */
  get channel(): Channel {
    return this.#host.channel;
  }

  /**
   * Result of any completed task of this run.
   *
   * @param taskId The task.
   * @returns Its latest result, or `undefined` when it has not completed.
   */
  result<T = unknown>(taskId: string): Promise<T | undefined> {
    return this.#host.result(taskId) as Promise<T | undefined>;
  }

  /**
   * Saves a checkpoint: deferred (after this task succeeded and its successors were queued) or
   * immediate (`deferred: false`, written now; this task re-runs from its start on resume).
   *
   * @param options Metadata, timing, path.
   * @returns For immediate checkpoints, the base path and metadata; else `undefined`.
   */
  checkpoint(options: CheckpointOptions = {}): Promise<CheckpointInfo | undefined> {
    if (options.deferred === false) return this.#host.checkpoint(this.#ref, options);
    ((this.directives ??= {}).checkpoints ??= []).push(options);
    return Promise.resolve(undefined);
  }

  /**
   * Asks a person and waits for the answer (or, after `timeoutMs`, checkpoints and ends the run
   * with `status: "waiting"`; after `resume()` the same call returns the stored answer).
   *
   * @param request The question.
   * @returns The answer.
   */
  requestFeedback(request: FeedbackRequest): Promise<FeedbackResponse> {
    return this.#host.requestFeedback(this.#ref, this, request);
  }

  /** @internal A handler's report about this task (see `notifyRun`). */
  [RUN_NOTICE](notice: RunNotice): void {
    this.#host.notice(this.#ref, notice);
  }
}
