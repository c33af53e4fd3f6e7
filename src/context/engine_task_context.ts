/**
 * The engine's context of one task attempt ({@linkcode EngineTaskContext}), and what the run
 * implements for it ({@linkcode ContextHost}): the run's channel and results, immediate
 * checkpoints, feedback requests and handlers' notices go to the host; the rest is recorded.
 *
 * @module
 */
import type { Channel } from "../channels/channel.ts";
import { DirectiveRecorder } from "./directive_recorder.ts";
import {
  type CheckpointInfo,
  type CheckpointOptions,
  type FeedbackRequest,
  type FeedbackResponse,
  RUN_NOTICE,
  type RunNotice,
  type TaskContext,
} from "./task_context.ts";

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
