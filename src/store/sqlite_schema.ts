/**
 * The SQLite database of `localRunStore()`: opened in WAL mode, its tables and their rows as
 * records.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "../deps/sqlite.ts";
import type { RunRecord, RunRecordStatus } from "./run_store.ts";

/** Durability of a commit: survives a killed process, or also a power loss (fsync). */
export type Durability = "process" | "power";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  flow TEXT NOT NULL,
  version TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  error TEXT,
  created_at TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_at TEXT,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  owner TEXT,
  lease_until INTEGER,
  fence INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT,
  steps INTEGER NOT NULL DEFAULT 0,
  checkpoints TEXT NOT NULL DEFAULT '[]',
  feedback TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  retry_requested INTEGER NOT NULL DEFAULT 0,
  graph_key TEXT NOT NULL,
  trace TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_by_key ON runs (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created_ms DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_ms DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS runs_by_flow ON runs (flow, created_ms DESC, run_id DESC);
CREATE TABLE IF NOT EXISTS journal (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  tr TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graphs (
  key TEXT PRIMARY KEY,
  graph TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
  run_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  seq_from INTEGER,
  seq_to INTEGER
);
CREATE TABLE IF NOT EXISTS channel (
  run_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT,
  list TEXT,
  expires_at INTEGER,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feedback (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  record TEXT NOT NULL,
  settlement TEXT
);
CREATE INDEX IF NOT EXISTS feedback_by_time ON feedback (created_at DESC, id DESC);
`;

/**
 * Opens (and creates) the database.
 *
 * @param path The database file.
 * @param durability What a commit survives.
 * @returns The connection.
 */
export function openDatabase(path: string, durability: Durability): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = 10000;`);
  db.exec(`PRAGMA journal_mode = WAL;`);
  db.exec(`PRAGMA synchronous = ${durability === "power" ? "FULL" : "NORMAL"};`);
  db.exec(SCHEMA);
  return db;
}

const statements = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

/**
 * `db.prepare(text)`, prepared once per connection and text (preparing costs more than most
 * statements here take to run).
 *
 * @param db The connection.
 * @param text The statement.
 * @returns The prepared statement.
 */
export function sql(db: DatabaseSync, text: string): StatementSync {
  let cache = statements.get(db);
  if (!cache) statements.set(db, cache = new Map());
  let s = cache.get(text);
  if (!s) cache.set(text, s = db.prepare(text));
  return s;
}

/**
 * Runs `fn` in one write transaction (`BEGIN IMMEDIATE`), rolled back when it throws.
 *
 * @param db The connection.
 * @param fn The work.
 * @returns What `fn` returns.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  sql(db, "BEGIN IMMEDIATE").run();
  try {
    const out = fn();
    sql(db, "COMMIT").run();
    return out;
  } catch (error) {
    sql(db, "ROLLBACK").run();
    throw error;
  }
}

/** A row of the runs table. */
export interface RunRow {
  run_id: string;
  flow: string;
  version: string;
  status: string;
  input: string;
  output: string | null;
  error: string | null;
  created_at: string;
  created_ms: number;
  started_at: string | null;
  updated_at: string;
  finished_at: string | null;
  owner: string | null;
  lease_until: number | null;
  fence: number;
  idempotency_key: string | null;
  steps: number;
  checkpoints: string;
  feedback: string | null;
  cancel_requested: number;
  retry_requested: number;
  trace: string | null;
}

/** The columns of a run record (all but the graph). */
export const RUN_COLUMNS =
  "run_id, flow, version, status, input, output, error, created_at, created_ms, started_at, " +
  "updated_at, finished_at, owner, lease_until, fence, idempotency_key, steps, checkpoints, " +
  "feedback, cancel_requested, retry_requested, trace";

/**
 * A run row as a record.
 *
 * @param r The row.
 * @returns The record.
 */
export function toRecord(r: RunRow): RunRecord {
  return {
    runId: r.run_id,
    flow: r.flow,
    version: r.version,
    status: r.status as RunRecordStatus,
    input: JSON.parse(r.input),
    ...(r.output !== null ? { output: JSON.parse(r.output) } : {}),
    ...(r.error !== null ? { error: JSON.parse(r.error) } : {}),
    createdAt: r.created_at,
    ...(r.started_at !== null ? { startedAt: r.started_at } : {}),
    updatedAt: r.updated_at,
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
    ...(r.owner !== null ? { owner: r.owner } : {}),
    ...(r.lease_until !== null ? { leaseUntil: r.lease_until } : {}),
    fence: r.fence,
    ...(r.idempotency_key !== null ? { idempotencyKey: r.idempotency_key } : {}),
    steps: r.steps,
    checkpoints: JSON.parse(r.checkpoints),
    ...(r.feedback !== null ? { feedback: JSON.parse(r.feedback) } : {}),
    ...(r.cancel_requested ? { cancelRequested: true } : {}),
    ...(r.retry_requested ? { retryRequested: true } : {}),
    ...(r.trace !== null ? { trace: JSON.parse(r.trace) } : {}),
  };
}
