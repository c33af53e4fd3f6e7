/**
 * Human in the loop inside a run: `ctx.requestFeedback()` waits for an answer; when nobody
 * answers in time the run checkpoints and ends as `waiting`; after `resume()` the same call
 * (the n-th request of the same task cycle) finds the stored answer at once.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { FeedbackRequest, FeedbackResponse } from "../context/task_context.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import { checkRequest } from "../checkpoint/feedback_errors.ts";
import type { AttemptRef, EnginePort } from "../engine/persistence.ts";
import { type Clock, clockSleep } from "../time/clock.ts";
import type { RunCheckpoints } from "./run_checkpoints.ts";

/**
 * Asks a person for a running attempt and waits for the answer, or ends the run as waiting.
 *
 * @param port The run.
 * @param store Where requests and answers are kept (`undefined`: the run has none).
 * @param checkpoints The run's checkpoint writer (for the waiting checkpoint).
 * @param clock The run's clock (for the timeout).
 * @param journalOnly The run is recorded in a store and has no checkpoint folder: it waits
 * without a checkpoint (an orchestrator continues it from its journal once answered).
 * @param attempt The asking attempt.
 * @param request The question.
 * @param n 1-based number of this request among the attempt's requests.
 * @param signal Aborted when the attempt is stopped.
 * @returns The answer.
 * @throws {WorkflowError} `FEEDBACK_UNAVAILABLE` without a store; `WAITING_FOR_FEEDBACK` when
 * nobody answered in time (the run then ends as waiting).
 */
export async function requestFeedback(
  port: EnginePort,
  store: FeedbackStore | undefined,
  checkpoints: RunCheckpoints,
  clock: Clock,
  journalOnly: boolean,
  attempt: AttemptRef,
  request: FeedbackRequest,
  n: number,
  signal: AbortSignal,
): Promise<FeedbackResponse> {
  const taskId = attempt.taskId;
  checkRequest(request, taskId);
  if (!store) {
    throw new WorkflowError(
      `Cannot request feedback in task "${taskId}": set run({ checkpointDir }) or run({ feedbackStore })`,
      { code: "FEEDBACK_UNAVAILABLE" },
    );
  }
  // The n-th request of this task's cycle has the same id when the task re-runs after resume.
  const id = `${port.runId}.${taskId}.c${attempt.cycle}.n${n}`;
  port.feedbackRequested(attempt, id);
  const existing = await store.get(id);
  const received = (response: FeedbackResponse) => {
    port.note({ type: "feedback.received", feedbackId: id, taskId });
    return response;
  };
  if (existing?.response) return received(existing.response);
  if (!existing) {
    await store.create({
      id,
      runId: port.runId,
      taskId,
      request: structuredClone(request),
      createdAt: new Date(clock.now()).toISOString(),
    });
  }
  port.note({ type: "feedback.requested", feedbackId: id, taskId });
  const done = new AbortController();
  const timedOut = new AbortController();
  clockSleep(clock, request.timeoutMs, AbortSignal.any([signal, done.signal])).then(
    () => timedOut.abort(new Error("no answer in time")),
    () => {},
  );
  try {
    return received(await store.wait(id, AbortSignal.any([signal, timedOut.signal])));
  } catch (error) {
    if (!timedOut.signal.aborted || signal.aborted) throw error;
  } finally {
    done.abort();
  }
  // Nobody answered in time: checkpoint (this task re-runs on resume) and end as waiting.
  const checkpoint = journalOnly
    ? undefined
    : (await checkpoints.now(attempt, { metadata: { feedbackId: id } })).path;
  port.wait({ id, checkpoint: checkpoint ?? "" });
  throw new WorkflowError(
    `Task "${taskId}" is waiting for feedback "${id}": no answer within ${request.timeoutMs} ms`,
    { code: "WAITING_FOR_FEEDBACK" },
  );
}
