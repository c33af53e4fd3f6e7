/**
 * The journal tables of the local run store: appending a run's transitions (the first position
 * must follow the last one stored; many rows per statement), keeping its latest snapshot, and
 * reading both back. Writers call these inside a transaction that checked the run's lease.
 *
 * @module
 */
import type { DatabaseSync } from "../deps/sqlite.ts";
import { WorkflowError } from "../errors.ts";
import type { JournalEntry, JournalSnapshot } from "./run_store.ts";
import { sql } from "./sqlite_schema.ts";

/** Journal rows per INSERT statement (SQLite allows 32,766 parameters). */
const ROWS_PER_INSERT = 200;

/** A journal row as stored. */
interface JournalRow {
  seq: number;
  at: number;
  tr: string;
}

/**
 * Inserts journal rows.
 *
 * @param db The connection (in a transaction).
 * @param runId The run.
 * @param entries The entries, in order (at least one).
 * @throws {WorkflowError} `JOURNAL_CONFLICT` when the first position does not follow the last.
 */
export function appendJournal(db: DatabaseSync, runId: string, entries: JournalEntry[]): void {
  const last = (sql(db, "SELECT MAX(seq) AS seq FROM journal WHERE run_id = ?")
    .get(runId) as { seq: number | null }).seq ?? 0;
  if (entries[0].seq !== last + 1) {
    throw new WorkflowError(
      `Cannot append to the journal of run "${runId}": position ${
        entries[0].seq
      } is taken or out of order (the journal ends at ${last})`,
      { code: "JOURNAL_CONFLICT" },
    );
  }
  // Many rows per statement: a batch of a busy run costs a few statements, not one per row.
  for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) {
    const rows = entries.slice(i, i + ROWS_PER_INSERT);
    const args: (string | number)[] = [];
    for (const e of rows) args.push(runId, e.seq, e.at, JSON.stringify(e.tr));
    sql(
      db,
      `INSERT INTO journal (run_id, seq, at, tr) VALUES ${
        Array(rows.length).fill("(?, ?, ?, ?)").join(", ")
      }`,
    ).run(...args);
  }
}

/**
 * Stores a run's snapshot in place of the previous one.
 *
 * @param db The connection (in a transaction).
 * @param runId The run.
 * @param snapshot The snapshot.
 */
export function saveSnapshot(db: DatabaseSync, runId: string, snapshot: JournalSnapshot): void {
  sql(db, "INSERT OR REPLACE INTO snapshots (run_id, seq, data) VALUES (?, ?, ?)")
    .run(runId, snapshot.seq, JSON.stringify(snapshot.data));
}

/**
 * A run's latest snapshot and the journal entries after it.
 *
 * @param db The connection.
 * @param runId The run.
 * @returns The snapshot (if any) and the entries in order.
 */
export function readJournal(
  db: DatabaseSync,
  runId: string,
): { snapshot?: JournalSnapshot; entries: JournalEntry[] } {
  const snap = sql(db, "SELECT seq, data FROM snapshots WHERE run_id = ?").get(runId) as
    | { seq: number; data: string }
    | undefined;
  return {
    ...(snap ? { snapshot: { seq: snap.seq, data: JSON.parse(snap.data) } } : {}),
    entries: journalEntries(db, runId, snap?.seq ?? 0),
  };
}

/**
 * A run's journal entries after a position.
 *
 * @param db The connection.
 * @param runId The run.
 * @param afterSeq Only entries after this position.
 * @returns The entries in order.
 */
export function journalEntries(db: DatabaseSync, runId: string, afterSeq: number): JournalEntry[] {
  const rows = sql(
    db,
    "SELECT seq, at, tr FROM journal WHERE run_id = ? AND seq > ? ORDER BY seq",
  ).all(runId, afterSeq) as unknown as JournalRow[];
  return rows.map((r) => ({ seq: r.seq, at: r.at, tr: JSON.parse(r.tr) }));
}
