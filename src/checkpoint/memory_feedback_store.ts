/**
 * A {@linkcode FeedbackStore} in memory (one process; tests, CLIs, servers answering in-process).
 *
 * @module
 */
import type { FeedbackResponse } from "../context/task_context.ts";
import type { FeedbackRecord, FeedbackStore } from "./feedback_store.ts";
import { alreadyAnswered, notFound } from "./feedback_errors.ts";

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
  readonly #waiters = new Map<string, Set<(r: FeedbackResponse) => void>>();

  /** Saves a new request (an existing id is kept as is). */
  async create(record: FeedbackRecord): Promise<void> {
    if (!this.#records.has(record.id)) this.#records.set(record.id, structuredClone(record));
  }

  /** Reads a request and its answer. */
  async get(id: string): Promise<FeedbackRecord | undefined> {
    const r = this.#records.get(id);
    return r && structuredClone(r);
  }

  /** Stores the answer; refuses unknown and already answered requests. */
  async respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord> {
    const r = this.#records.get(id);
    if (!r) throw notFound(id);
    if (r.response) throw alreadyAnswered(id);
    r.response = structuredClone(response);
    for (const wake of this.#waiters.get(id) ?? []) wake(structuredClone(response));
    this.#waiters.delete(id);
    return structuredClone(r);
  }

  /** Resolves with the answer once there is one. */
  wait(id: string, signal: AbortSignal): Promise<FeedbackResponse> {
    const r = this.#records.get(id);
    if (r?.response) return Promise.resolve(structuredClone(r.response));
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const set = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, set);
      const onAbort = () => {
        set.delete(wake);
        reject(signal.reason);
      };
      const wake = (response: FeedbackResponse) => {
        signal.removeEventListener("abort", onAbort);
        resolve(response);
      };
      set.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
