/**
 * The feedback store of `localRunStore()`: requests and answers in its SQLite database, so that
 * any process of the machine (the server, the CLI) can list and answer them.
 *
 * @module
 */
import type { DatabaseSync } from "../deps/sqlite.ts";
import { sql } from "./sqlite_schema.ts";
import type { FeedbackResponse } from "../context/task_context.ts";
import {
  type FeedbackCancellation,
  type FeedbackListOptions,
  type FeedbackRecord,
  type FeedbackStore,
  selectFeedback,
} from "../checkpoint/feedback_store.ts";
import {
  alreadyAnswered,
  cancelledError,
  checkResponse,
  notFound,
} from "../checkpoint/feedback_errors.ts";

type Settlement = FeedbackResponse & { cancelled?: FeedbackCancellation };

/** Feedback requests in the run store's database. */
export class LocalFeedbackStore implements FeedbackStore {
  readonly #db: DatabaseSync;
  readonly #pollMs: number;
  readonly #changed: () => void;
  readonly #wakers = new Set<() => void>();

  /**
   * @internal Created by `localRunStore()`.
   *
   * @param db The database.
   * @param pollMs How often `wait` looks for answers given by other processes.
   * @param changed Called after every write.
   */
  constructor(db: DatabaseSync, pollMs: number, changed: () => void) {
    this.#db = db;
    this.#pollMs = pollMs;
    this.#changed = changed;
  }

  #read(id: string): FeedbackRecord | undefined {
    const row = sql(this.#db, "SELECT record, settlement FROM feedback WHERE id = ?").get(id) as
      | { record: string; settlement: string | null }
      | undefined;
    if (!row) return undefined;
    const record = JSON.parse(row.record) as FeedbackRecord;
    if (row.settlement) {
      const s = JSON.parse(row.settlement) as Settlement;
      if (s.cancelled) record.cancelled = s.cancelled;
      else record.response = s;
    }
    return record;
  }

  /** Saves a new request (an existing id is kept as is). */
  async create(record: FeedbackRecord): Promise<void> {
    const { response: _r, cancelled: _c, ...request } = record;
    sql(
      this.#db,
      "INSERT OR IGNORE INTO feedback (id, run_id, created_at, record) VALUES (?, ?, ?, ?)",
    ).run(record.id, record.runId, record.createdAt, JSON.stringify(request));
    this.#changed();
  }

  /** Reads a request and its answer or cancellation. */
  async get(id: string): Promise<FeedbackRecord | undefined> {
    return this.#read(id);
  }

  #settle(id: string, settlement: Settlement): FeedbackRecord {
    const record = this.#read(id);
    const refuse = (r: FeedbackRecord | undefined) =>
      !r
        ? notFound(id)
        : r.cancelled
        ? cancelledError(id, r.cancelled.reason)
        : alreadyAnswered(id);
    if (!record || record.response || record.cancelled) throw refuse(record);
    if (!settlement.cancelled) checkResponse(record, settlement);
    const r = sql(
      this.#db,
      "UPDATE feedback SET settlement = ? WHERE id = ? AND settlement IS NULL",
    ).run(JSON.stringify(settlement), id);
    if (Number(r.changes) !== 1) throw refuse(this.#read(id));
    for (const wake of this.#wakers) wake();
    this.#changed();
    return this.#read(id)!;
  }

  /** Stores the answer; refuses unknown, answered and cancelled requests. */
  async respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord> {
    return this.#settle(id, response);
  }

  /** Cancels an open request. */
  async cancel(id: string, cancellation: FeedbackCancellation): Promise<FeedbackRecord> {
    return this.#settle(id, { cancelled: cancellation } as Settlement);
  }

  /** Requests, newest first. */
  async list(options: FeedbackListOptions = {}): Promise<FeedbackRecord[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (options.pending) where.push("settlement IS NULL");
    if (options.runId !== undefined) {
      where.push("run_id = ?");
      args.push(options.runId);
    }
    const rows = sql(
      this.#db,
      `SELECT id FROM feedback ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    ).all(...args, options.limit ?? 100) as unknown as { id: string }[];
    return selectFeedback(rows.map((r) => this.#read(r.id)!).filter(Boolean), options);
  }

  /** Resolves with the answer once there is one; rejects when cancelled or aborted. */
  async wait(id: string, signal: AbortSignal): Promise<FeedbackResponse> {
    for (;;) {
      signal.throwIfAborted();
      const r = this.#read(id);
      if (r?.response) return r.response;
      if (r?.cancelled) throw cancelledError(id, r.cancelled.reason);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#wakers.delete(done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, this.#pollMs);
        this.#wakers.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** @internal Wakes every waiter (the store is closing). */
  closeWaits(): void {
    for (const wake of this.#wakers) wake();
  }
}
