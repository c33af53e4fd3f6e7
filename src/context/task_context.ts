/**
 * `ctx`: what a running task sees of its run ({@linkcode TaskContext}), with the options and
 * results of its calls. What a context records during an attempt is `./directive_recorder.ts`;
 * the engine's context is `./engine_task_context.ts`, the context of a task that runs elsewhere
 * `./remote_task.ts`.
 *
 * @module
 */
import type { Channel } from "../channels/channel.ts";
import type { Task } from "../graph/task.ts";
import type { GroupPolicy } from "../graph/policies.ts";

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
