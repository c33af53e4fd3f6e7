/**
 * Group commit for an SQLite connection: the writes issued in one turn of the event loop commit
 * in one transaction (one WAL append and lock round for the writes of many runs), each in a
 * savepoint of its own, so that a write that throws changes nothing and fails alone. A write's
 * promise settles after its commit.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { DatabaseSync } from "../deps/sqlite.ts";
import { sql, transaction } from "./sqlite_schema.ts";

interface Pending {
  fn: () => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The writes of one connection, committed in batches. */
export class WriteBatch {
  readonly #db: DatabaseSync;
  readonly #closed: () => Error | undefined;
  readonly #committed: () => void;
  #pending: Pending[] = [];

  /**
   * @param db The connection.
   * @param closed The error for a write after close, or `undefined` while open.
   * @param committed Called after each commit (e.g. to wake watchers).
   */
  constructor(db: DatabaseSync, closed: () => Error | undefined, committed: () => void) {
    this.#db = db;
    this.#closed = closed;
    this.#committed = committed;
  }

  /**
   * Runs `fn` in the next batch's transaction.
   *
   * @param fn The write (synchronous; it may throw to fail alone).
   * @returns What `fn` returned, once committed.
   */
  write<T>(fn: () => T): Promise<T> {
    const closed = this.#closed();
    if (closed) return Promise.reject(closed);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.#pending.push({ fn, resolve: resolve as (value: unknown) => void, reject });
    if (this.#pending.length === 1) setImmediate(() => this.commit());
    return promise;
  }

  /** Commits the writes waiting now, then settles them. */
  commit(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (!batch.length) return;
    const closed = this.#closed();
    if (closed) return batch.forEach((w) => w.reject(closed));
    const db = this.#db;
    const several = batch.length > 1;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      transaction(db, () => {
        for (const w of batch) {
          if (several) sql(db, "SAVEPOINT w").run();
          try {
            outcomes.push({ ok: true, value: w.fn() });
          } catch (error) {
            if (!several) throw error;
            sql(db, "ROLLBACK TO w").run();
            outcomes.push({ ok: false, value: error });
          }
          if (several) sql(db, "RELEASE w").run();
        }
      });
    } catch (error) {
      return batch.forEach((w) => w.reject(error));
    }
    batch.forEach((w, i) =>
      outcomes[i].ok ? w.resolve(outcomes[i].value) : w.reject(outcomes[i].value)
    );
    this.#committed();
  }
}
