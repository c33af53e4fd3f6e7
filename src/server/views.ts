/**
 * What the API sends: run records, feedback requests and errors as JSON (values stay in the
 * codec's JSON form: plain JSON as is, other values tagged `{ "$type": ... }`).
 *
 * @module
 */
import type { ErrorRecord } from "../errors.ts";
import type { FeedbackRecord } from "../checkpoint/feedback_store.ts";
import type { RunRecord } from "../store/run_store.ts";

/** A run as the API sends it (the store's record). */
export type ApiRun = RunRecord & {
  /** Milliseconds from start to end (or to now while it runs), if it started. */
  durationMs?: number;
};

/**
 * A run record for the API.
 *
 * @param r The record.
 * @param now The time, for the duration of a run that has not ended.
 * @returns The API's form.
 */
export function apiRun(r: RunRecord, now: number = Date.now()): ApiRun {
  const out: ApiRun = { ...r };
  if (r.startedAt) {
    const end = r.finishedAt ? Date.parse(r.finishedAt) : now;
    out.durationMs = Math.max(0, end - Date.parse(r.startedAt));
  }
  return out;
}

/** An error and its causes, outermost first. */
export interface ApiError {
  /** Class name. */
  name: string;
  /** Message. */
  message: string;
  /** Code, if any. */
  code?: string;
  /** Stack, if recorded. */
  stack?: string;
  /** Extra data (taskId, groupId, ...). */
  props?: Record<string, unknown>;
  /** The cause, recursively. */
  cause?: ApiError;
}

/**
 * An error record for the API, its cause chain kept (at most 16 deep).
 *
 * @param e The record.
 * @param depth Current depth.
 * @returns The API's form.
 */
export function apiError(e: ErrorRecord, depth = 0): ApiError {
  const out: ApiError = { name: String(e.name ?? "Error"), message: String(e.message ?? "") };
  if (e.code !== undefined) out.code = String(e.code);
  if (e.stack !== undefined) out.stack = String(e.stack);
  if (e.props !== undefined) out.props = e.props;
  if (e.cause && depth < 16) out.cause = apiError(e.cause, depth + 1);
  return out;
}

/** A feedback request as the API sends it. */
export type ApiFeedback = FeedbackRecord & {
  /** `pending`, `answered` or `cancelled`. */
  state: "pending" | "answered" | "cancelled";
};

/**
 * A feedback record for the API.
 *
 * @param f The record.
 * @returns The API's form.
 */
export function apiFeedback(f: FeedbackRecord): ApiFeedback {
  return { ...f, state: f.response ? "answered" : f.cancelled ? "cancelled" : "pending" };
}
