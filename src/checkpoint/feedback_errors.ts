/**
 * Checks of feedback requests and answers shared by every store.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import { checkDelay } from "../time/clock.ts";
import type { FeedbackRequest, FeedbackResponse } from "../context/task_context.ts";
import type { FeedbackRecord } from "./feedback_store.ts";

const TYPES = ["approval", "text", "selection"];

/**
 * Checks a feedback request.
 *
 * @param request The request.
 * @param taskId The asking task, for messages.
 * @throws {TypeError} When a field is missing or malformed.
 * @throws {RangeError} When `timeoutMs` is not a finite number > 0.
 */
export function checkRequest(request: FeedbackRequest, taskId: string): void {
  const where = `Cannot request feedback in task "${taskId}"`;
  if (!request || typeof request !== "object") {
    throw new TypeError(`${where}: request must be an object`);
  }
  if (!TYPES.includes(request.type)) {
    throw new TypeError(
      `${where}: type must be "approval", "text" or "selection", got ${
        JSON.stringify(request.type)
      }`,
    );
  }
  if (typeof request.prompt !== "string" || request.prompt === "") {
    throw new TypeError(`${where}: prompt must be a non-empty string`);
  }
  if (request.type === "selection") {
    const o = request.options;
    if (!Array.isArray(o) || o.length === 0 || o.some((x) => typeof x !== "string")) {
      throw new TypeError(`${where}: a selection needs options, a non-empty array of strings`);
    }
  }
  try {
    // Any finite value is honoured (long timers are chained); Infinity and NaN are refused.
    checkDelay(request.timeoutMs, "timeoutMs", false);
  } catch {
    const t = request.timeoutMs as unknown;
    throw new RangeError(
      `${where}: timeoutMs must be a positive number, got ${String(t)}` +
        (typeof t === "number" && t > 0 ? " (any finite value is honoured)" : ""),
    );
  }
}

/**
 * Checks an answer against its request.
 *
 * @param record The stored request.
 * @param response The answer.
 * @throws {TypeError} When the answer does not fit the request type.
 */
export function checkResponse(record: FeedbackRecord, response: Partial<FeedbackResponse>): void {
  const where = `Cannot answer feedback request "${record.id}"`;
  if (!response || typeof response !== "object") {
    throw new TypeError(`${where}: the answer must be an object`);
  }
  const r = record.request;
  if (r.type === "approval" && typeof response.approved !== "boolean") {
    throw new TypeError(`${where}: an approval needs approved: true or false`);
  }
  if (r.type === "text" && typeof response.text !== "string") {
    throw new TypeError(`${where}: a text request needs text: string`);
  }
  if (r.type === "selection" && !r.options!.includes(response.selected as string)) {
    throw new TypeError(
      `${where}: selected must be one of ${
        r.options!.map((o) => JSON.stringify(o)).join(", ")
      }, got ${JSON.stringify(response.selected)}`,
    );
  }
}

/**
 * The error for a second answer.
 *
 * @param id The request id.
 * @returns The error (code `FEEDBACK_ALREADY_ANSWERED`).
 */
export function alreadyAnswered(id: string): WorkflowError {
  return new WorkflowError(`Cannot answer feedback request "${id}": it was already answered`, {
    code: "FEEDBACK_ALREADY_ANSWERED",
  });
}

/**
 * The error for an unknown request.
 *
 * @param id The request id.
 * @returns The error (code `FEEDBACK_NOT_FOUND`).
 */
export function notFound(id: string): WorkflowError {
  return new WorkflowError(`Cannot answer feedback request "${id}": no such request`, {
    code: "FEEDBACK_NOT_FOUND",
  });
}

/**
 * The error for a cancelled request.
 *
 * @param id The request id.
 * @param reason Why it was cancelled.
 * @returns The error (code `FEEDBACK_CANCELLED`).
 */
export function cancelledError(id: string, reason?: string): WorkflowError {
  return new WorkflowError(
    `Feedback request "${id}" was cancelled${reason ? `: ${reason}` : ""}`,
    { code: "FEEDBACK_CANCELLED" },
  );
}
