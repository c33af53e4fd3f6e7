/**
 * The persistence of a run, composed from its checkpoint writer and its feedback store: what
 * the engine calls through its `RunPersistence` port.
 *
 * @module
 */
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import type { EnginePort, RunPersistence } from "../engine/persistence.ts";
import type { Clock } from "../time/clock.ts";
import { type CheckpointSettings, RunCheckpoints } from "./run_checkpoints.ts";
import { requestFeedback } from "./run_feedback.ts";

/** What a run's persistence is made of. */
export interface PersistenceSettings extends CheckpointSettings {
  /** Where feedback requests and answers are kept (none: requests fail). */
  feedbackStore?: FeedbackStore;
  /** The run's clock. */
  clock: Clock;
  /** The run is recorded in a store: waiting for feedback needs no checkpoint. */
  durable: boolean;
}

/**
 * The persistence of one run.
 *
 * @param settings Checkpoint folder and retention, feedback store, clock.
 * @returns A factory of the port implementation, given the engine's port.
 */
export function runPersistence(
  settings: PersistenceSettings,
): (port: EnginePort) => RunPersistence {
  return (port) => {
    const checkpoints = new RunCheckpoints(port, settings);
    return {
      afterTask: (taskId, requests) => checkpoints.afterTask(taskId, requests),
      checkpointNow: (attempt, options) => checkpoints.now(attempt, options),
      requestFeedback: (attempt, request, n, signal) =>
        requestFeedback(
          port,
          settings.feedbackStore,
          checkpoints,
          settings.clock,
          settings.durable && settings.checkpointDir === undefined,
          attempt,
          request,
          n,
          signal,
        ),
    };
  };
}
