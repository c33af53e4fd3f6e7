/**
 * Where human-in-the-loop requests and answers are kept.
 *
 * @module
 */
import type { FeedbackRequest, FeedbackResponse } from "../context/task_context.ts";

/** A stored feedback request and, once given, its answer. */
export interface FeedbackRecord {
  /** Request id. */
  id: string;
  /** The run that asked. */
  runId: string;
  /** The task that asked. */
  taskId: string;
  /** The question. */
  request: FeedbackRequest;
  /** ISO time of the request. */
  createdAt: string;
  /** The answer, once given. */
  response?: FeedbackResponse;
  /** Set when the request was cancelled instead of answered. */
  cancelled?: FeedbackCancellation;
}

/** How a request was cancelled. */
export interface FeedbackCancellation {
  /** ISO time. */
  at: string;
  /** Who cancelled it. */
  by?: string;
  /** Why. */
  reason?: string;
}

/** Options of {@linkcode FeedbackStore.list}. */
export interface FeedbackListOptions {
  /** Only requests with neither an answer nor a cancellation. @default {false} */
  pending?: boolean;
  /** Only requests of this run. */
  runId?: string;
  /** At most this many (newest first). @default {100} */
  limit?: number;
}

/**
 * Stores feedback requests and answers (files by default; Redis with the Redis backend). Every
 * implementation passes one conformance suite. A request is settled once, by an answer or a
 * cancellation, whichever comes first.
 */
export interface FeedbackStore {
  /** Saves a new request (an existing id is kept as is). */
  create(record: FeedbackRecord): Promise<void>;
  /** Reads a request and its answer or cancellation. */
  get(id: string): Promise<FeedbackRecord | undefined>;
  /**
   * Stores the answer; rejects with `FEEDBACK_NOT_FOUND`, `FEEDBACK_ALREADY_ANSWERED` or
   * `FEEDBACK_CANCELLED`.
   */
  respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord>;
  /** Cancels an open request; `wait` then rejects with `FEEDBACK_CANCELLED`. */
  cancel(id: string, cancellation: FeedbackCancellation): Promise<FeedbackRecord>;
  /** Requests, newest first. */
  list(options?: FeedbackListOptions): Promise<FeedbackRecord[]>;
  /**
   * Resolves with the answer once there is one; rejects with `FEEDBACK_CANCELLED` when the
   * request is cancelled, with `signal.reason` on abort.
   */
  wait(id: string, signal: AbortSignal): Promise<FeedbackResponse>;
}

/**
 * The requests of a list, filtered, newest first.
 *
 * @param records Every request.
 * @param options Filters and limit.
 * @returns The selection.
 */
export function selectFeedback(
  records: FeedbackRecord[],
  options: FeedbackListOptions = {},
): FeedbackRecord[] {
  return records
    .filter((r) => !options.pending || (!r.response && !r.cancelled))
    .filter((r) => options.runId === undefined || r.runId === options.runId)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
    .slice(0, options.limit ?? 100);
}
