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
}

/** Stores feedback requests and answers (files by default; Redis with the Redis backend). */
export interface FeedbackStore {
  /** Saves a new request. */
  create(record: FeedbackRecord): Promise<void>;
  /** Reads a request and its answer. */
  get(id: string): Promise<FeedbackRecord | undefined>;
  /** Stores the answer; rejects when the request is unknown or already answered. */
  respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord>;
  /** Resolves with the answer once there is one; rejects with `signal.reason` on abort. */
  wait(id: string, signal: AbortSignal): Promise<FeedbackResponse>;
}
