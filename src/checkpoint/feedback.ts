/**
 * Human in the loop: `ctx.requestFeedback()` waits for an answer; when nobody answers in time
 * the run checkpoints and resolves with `status: "waiting"`; `provideFeedback()` answers, and
 * after `resume()` the same call returns the stored answer at once.
 *
 * @module
 */
import { join } from "node:path";
import type { Engine } from "../engine/engine.ts";
import { WorkflowError } from "../errors.ts";
import type { RunOptions } from "../engine/run_options.ts";
import type {
  EngineTaskContext,
  FeedbackRequest,
  FeedbackResponse,
} from "../context/task_context.ts";
import type { FeedbackRecord, FeedbackStore } from "./feedback_store.ts";
import { FileFeedbackStore } from "./file_feedback_store.ts";
import { checkRequest, checkResponse, notFound } from "./feedback_errors.ts";

/** Folder of the default store under the checkpoint directory. */
const FEEDBACK_DIR = "feedback";

function storeFor(options: RunOptions, taskId: string): FeedbackStore {
  const store = options.feedbackStore ?? options.backend?.feedbackStore?.();
  if (store) return store;
  if (options.checkpointDir) {
    return new FileFeedbackStore(join(options.checkpointDir, FEEDBACK_DIR));
  }
  throw new WorkflowError(
    `Cannot request feedback in task "${taskId}": set run({ checkpointDir }) or run({ feedbackStore })`,
    { code: "FEEDBACK_UNAVAILABLE" },
  );
}

/**
 * The engine hook behind `ctx.requestFeedback`.
 *
 * @param engine The run.
 * @param ctx The asking task's context.
 * @param request The question.
 * @returns The answer.
 */
export async function requestFeedback(
  engine: Engine,
  ctx: EngineTaskContext,
  request: FeedbackRequest,
): Promise<FeedbackResponse> {
  checkRequest(request, ctx.taskId);
  const store = storeFor(engine.options, ctx.taskId);
  // The n-th request of this task's cycle has the same id when the task re-runs after resume.
  const n = ++ctx.feedbackCalls;
  const id = `${engine.runId}.${ctx.taskId}.c${ctx.cycle}.n${n}`;
  const key = `${ctx.taskId}#${ctx.cycle}`;
  const ids = (engine.feedbackRequests[key] ??= []);
  if (!ids.includes(id)) ids.push(id);
  const existing = await store.get(id);
  const received = (response: FeedbackResponse) => {
    engine.note("feedback.received", { feedbackId: id, taskId: ctx.taskId });
    return response;
  };
  if (existing?.response) return received(existing.response);
  if (!existing) {
    await store.create({
      id,
      runId: engine.runId,
      taskId: ctx.taskId,
      request: structuredClone(request),
      createdAt: new Date().toISOString(),
    });
  }
  engine.note("feedback.requested", { feedbackId: id, taskId: ctx.taskId });
  const timeout = AbortSignal.timeout(request.timeoutMs);
  try {
    return received(await store.wait(id, AbortSignal.any([ctx.signal, timeout])));
  } catch (error) {
    if (!timeout.aborted || ctx.signal.aborted) throw error;
  }
  // Nobody answered in time: checkpoint (this task re-runs on resume) and end as waiting.
  const info = await engine.checkpoint(ctx, { deferred: false, metadata: { feedback_id: id } });
  engine.halt({ kind: "waiting", feedback: { id, checkpoint: info!.path } });
  throw new WorkflowError(
    `Task "${ctx.taskId}" is waiting for feedback "${id}": no answer within ${request.timeoutMs} ms`,
    { code: "WAITING_FOR_FEEDBACK" },
  );
}

/** Where {@linkcode provideFeedback} finds the request. */
export type FeedbackTarget = { checkpointDir: string } | { store: FeedbackStore };

/**
 * Answers a feedback request, while the run waits or after it ended as `waiting` (then
 * `resume()` the run). A second answer to the same request is refused.
 *
 * @param id The request id (`result.feedback.id`, or from the `feedback.requested` event).
 * @param response The answer; `respondedAt` defaults to now.
 * @param target The checkpoint directory of the run (default file store) or a store.
 * @returns The request with its answer.
 * @throws {WorkflowError} `FEEDBACK_NOT_FOUND` or `FEEDBACK_ALREADY_ANSWERED`.
 * @throws {TypeError} When the answer does not fit the request.
 *
 * @example Approving
 * ```ts ignore
 * import { provideFeedback, resume } from "@graflow/graflow";
 * await provideFeedback(result.feedback!.id, { approved: true, respondedBy: "ana" }, { checkpointDir });
 * await resume(result.feedback!.checkpoint, { checkpointDir });
 * ```
 */
export async function provideFeedback(
  id: string,
  response: Omit<FeedbackResponse, "respondedAt"> & { respondedAt?: string },
  target: FeedbackTarget,
): Promise<FeedbackRecord> {
  const store = "store" in target
    ? target.store
    : new FileFeedbackStore(join(target.checkpointDir, FEEDBACK_DIR));
  const record = await store.get(id);
  if (!record) throw notFound(id);
  checkResponse(record, response);
  return store.respond(id, {
    ...response,
    respondedAt: response.respondedAt ?? new Date().toISOString(),
  });
}
