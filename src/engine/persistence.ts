/**
 * The port between the run loop and what a run keeps outside itself: checkpoints and
 * human-in-the-loop requests. The engine calls a {@linkcode RunPersistence} and offers it an
 * {@linkcode EnginePort}; neither sees the other's internals.
 *
 * @module
 */
import type { Channel } from "../channels/channel.ts";
import type {
  CheckpointInfo,
  CheckpointOptions,
  FeedbackRequest,
  FeedbackResponse,
} from "../context/task_context.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { WorkflowEvent } from "../observability/events.ts";

/** A running task attempt, as persistence sees it. */
export interface AttemptRef {
  /** The task id. */
  readonly taskId: string;
  /** 1-based execution count of the task in the run. */
  readonly cycle: number;
}

/** What the engine offers persistence. */
export interface EnginePort {
  /** The run id. */
  readonly runId: string;
  /** The flow's graph. */
  readonly graph: Graph;
  /** The run's plan. */
  readonly plan: Plan;
  /** The run's channel. */
  readonly channel: Channel;
  /**
   * The run state now, as data (running tasks count as pending; `rerun` keeps its attempt).
   *
   * @param rerun An attempt that takes an immediate checkpoint.
   */
  snapshot(rerun?: AttemptRef): RunStateData;
  /**
   * Records a written checkpoint (in the state, and as an event).
   *
   * @param path Its base path.
   * @param steps Task executions it holds.
   * @param taskId The task that asked for it.
   */
  checkpointWritten(path: string, steps: number, taskId?: string): void;
  /**
   * Records a feedback request of an attempt.
   *
   * @param attempt The asking attempt.
   * @param id The request id.
   */
  feedbackRequested(attempt: AttemptRef, id: string): void;
  /**
   * Emits an event.
   *
   * @param event The event without run id and time.
   */
  note(event: DistributiveOmit<WorkflowEvent, "runId" | "time">): void;
  /**
   * Ends the run as waiting for feedback.
   *
   * @param feedback The open request and the checkpoint to resume from.
   */
  wait(feedback: { id: string; checkpoint: string }): void;
  /**
   * Stops the run with an error.
   *
   * @param error Why.
   */
  fail(error: unknown): void;
}

/** `Omit` applied to each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Checkpoints and human in the loop, as the engine uses them. */
export interface RunPersistence {
  /**
   * Writes the deferred checkpoints of a task that just succeeded; must take its snapshot
   * before it returns (the state must not change in between). The run does not start new
   * tasks, nor finish, before the promise settles.
   *
   * @param taskId The task.
   * @param requests Its `ctx.checkpoint()` calls.
   */
  afterTask(taskId: string, requests: CheckpointOptions[]): Promise<void>;
  /**
   * Writes an immediate checkpoint for a running attempt (it re-runs on resume).
   *
   * @param attempt The attempt (or `undefined` from the host).
   * @param options Path and metadata.
   */
  checkpointNow(
    attempt: AttemptRef | undefined,
    options: CheckpointOptions,
  ): Promise<CheckpointInfo>;
  /**
   * Asks a person and waits (or ends the run as waiting).
   *
   * @param attempt The asking attempt.
   * @param request The question.
   * @param n 1-based number of this request among the attempt's requests.
   * @param signal Aborted when the attempt is stopped.
   */
  requestFeedback(
    attempt: AttemptRef,
    request: FeedbackRequest,
    n: number,
    signal: AbortSignal,
  ): Promise<FeedbackResponse>;
}
