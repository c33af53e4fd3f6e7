/**
 * `provideFeedback()`: answers a human-in-the-loop request, while its run waits or after it
 * ended as `waiting` (then `resume()` the run: the same `ctx.requestFeedback()` call returns the
 * stored answer at once).
 *
 * @module
 */
import { join } from "node:path";
import type { FeedbackResponse } from "../context/task_context.ts";
import type { FeedbackRecord, FeedbackStore } from "./feedback_store.ts";
import { FileFeedbackStore } from "./file_feedback_store.ts";
import { checkResponse, notFound } from "./feedback_errors.ts";

/** Folder of the default store under the checkpoint directory. */
const FEEDBACK_DIR = "feedback";

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
