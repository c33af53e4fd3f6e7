/**
 * The change log of the local run store: every committed change of a run record or journal adds
 * a row to `events`, which `watch()` reads in order (by id) in this process and in the others
 * sharing the database. Rows older than ten minutes are trimmed.
 *
 * @module
 */
import type { DatabaseSync } from "../deps/sqlite.ts";
import { sql } from "./sqlite_schema.ts";
import type { JournalEntry, RunRecord, StoreEvent } from "./run_store.ts";

const KEEP_MS = 600_000;

/** Writes and reads the change log of one connection. */
export class EventLog {
  readonly #db: DatabaseSync;
  readonly #wakers = new Set<() => void>();
  #writes = 0;

  /** @param db The connection. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Logs a change (inside the write's transaction).
   *
   * @param runId The run.
   * @param kind Its record, or its journal (positions `seqs`).
   * @param now The time (epoch ms).
   * @param seqs The journal positions written.
   */
  add(runId: string, kind: "run" | "journal", now: number, seqs?: [number, number]): void {
    sql(this.#db, "INSERT INTO events (run_id, kind, at, seq_from, seq_to) VALUES (?, ?, ?, ?, ?)")
      .run(runId, kind, now, seqs?.[0] ?? null, seqs?.[1] ?? null);
    if (++this.#writes % 1000 === 0) {
      // Ids grow with time: delete up to the first event still young enough (no full scan).
      sql(
        this.#db,
        `DELETE FROM events WHERE id <
          COALESCE((SELECT id FROM events WHERE at >= ? ORDER BY id LIMIT 1), 0)`,
      ).run(now - KEEP_MS);
    }
  }

  /** Wakes the watchers of this process (after a commit, or at close). */
  notify(): void {
    for (const wake of this.#wakers) wake();
  }

  /**
   * Changes from now on, of one run or of all.
   *
   * @param o The run, how to read records and journal entries, polling, when to stop.
   * @returns The changes, in order.
   */
  async *watch(o: {
    runId?: string;
    signal?: AbortSignal;
    pollMs: number;
    closed(): boolean;
    get(runId: string): Promise<RunRecord | undefined>;
    entries(runId: string, afterSeq: number): Promise<JournalEntry[]>;
  }): AsyncIterable<StoreEvent> {
    const { runId, signal } = o;
    let last = (sql(this.#db, "SELECT COALESCE(MAX(id), 0) AS id FROM events").get() as {
      id: number;
    }).id;
    while (!signal?.aborted && !o.closed()) {
      const rows = sql(
        this.#db,
        `SELECT id, run_id, kind, seq_from, seq_to FROM events WHERE id > ?
         ${runId ? "AND run_id = ?" : ""} ORDER BY id LIMIT 1000`,
      ).all(...(runId ? [last, runId] : [last])) as unknown as {
        id: number;
        run_id: string;
        kind: string;
        seq_from: number | null;
        seq_to: number | null;
      }[];
      for (const row of rows) {
        last = row.id;
        if (row.kind === "run") {
          const record = await o.get(row.run_id);
          if (record) yield { type: "run", record };
        } else if (row.seq_from !== null) {
          const entries = (await o.entries(row.run_id, row.seq_from - 1))
            .filter((e) => e.seq <= row.seq_to!);
          if (entries.length) yield { type: "journal", runId: row.run_id, entries };
        }
      }
      if (rows.length) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#wakers.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, o.pollMs);
        this.#wakers.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }
}
