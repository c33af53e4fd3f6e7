/**
 * A {@linkcode FeedbackStore} in memory (one process; tests, CLIs, servers answering in-process).
 *
 * @module
 */
import type { FeedbackResponse } from "../context/task_context.ts";
import {
  type FeedbackCancellation,
  type FeedbackListOptions,
  type FeedbackRecord,
  type FeedbackStore,
  selectFeedback,
} from "./feedback_store.ts";
import { alreadyAnswered, cancelledError, notFound } from "./feedback_errors.ts";

/**
 * Keeps feedback requests and answers in memory; `wait` resolves the moment an answer arrives.
 *
 * @example Answering in-process
 * ```ts
 * import { MemoryFeedbackStore } from "@graflow/graflow";
 * const store = new MemoryFeedbackStore();
 * await store.create({
 *   id: "r1", runId: "run", taskId: "t", createdAt: new Date().toISOString(),
 *   request: { type: "approval", prompt: "Ship it?", timeoutMs: 1000 },
 * });
 * await store.respond("r1", { approved: true, respondedAt: new Date().toISOString() });
 * ```
 */
export class MemoryFeedbackStore implements FeedbackStore {
  readonly #records = new Map<string, FeedbackRecord>();
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Saves a new request (an existing id is kept as is). */
  async create(record: FeedbackRecord): Promise<void> {
    if (!this.#records.has(record.id)) this.#records.set(record.id, structuredClone(record));
  }

  /** Reads a request and its answer or cancellation. */
  async get(id: string): Promise<FeedbackRecord | undefined> {
    const r = this.#records.get(id);
    return r && structuredClone(r);
  }

  #open(id: string): FeedbackRecord {
    const r = this.#records.get(id);
    if (!r) throw notFound(id);
    if (r.response) throw alreadyAnswered(id);
    if (r.cancelled) throw cancelledError(id, r.cancelled.reason);
    return r;
  }

  #settled(id: string, r: FeedbackRecord): FeedbackRecord {
    for (const wake of this.#waiters.get(id) ?? []) wake();
    this.#waiters.delete(id);
    return structuredClone(r);
  }

  /** Stores the answer; refuses unknown, answered and cancelled requests. */
  async respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord> {
    const r = this.#open(id);
    r.response = structuredClone(response);
    return this.#settled(id, r);
  }

  /** Cancels an open request. */
  async cancel(id: string, cancellation: FeedbackCancellation): Promise<FeedbackRecord> {
    const r = this.#open(id);
    r.cancelled = structuredClone(cancellation);
    return this.#settled(id, r);
  }

  /** Requests, newest first. */
  async list(options?: FeedbackListOptions): Promise<FeedbackRecord[]> {
    return selectFeedback([...this.#records.values()], options).map((r) => structuredClone(r));
  }

  /** Resolves with the answer once there is one. */
  wait(id: string, signal: AbortSignal): Promise<FeedbackResponse> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const r = this.#records.get(id);
        if (r?.response) resolve(structuredClone(r.response));
        else if (r?.cancelled) reject(cancelledError(id, r.cancelled.reason));
        else return false;
        return true;
      };
      if (check()) return;
      if (signal.aborted) return reject(signal.reason);
      const set = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, set);
      const onAbort = () => {
        set.delete(wake);
        reject(signal.reason);
      };
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        check();
      };
      set.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
