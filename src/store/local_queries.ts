/**
 * The read queries of the local run store that filter many runs: pages of runs, and the runs an
 * orchestrator should take.
 *
 * @module
 */
import type { DatabaseSync } from "../deps/sqlite.ts";
import type { Claimable, RunPage, RunQuery } from "./run_store.ts";
import { RUN_COLUMNS, type RunRow, sql, toRecord } from "./sqlite_schema.ts";
import { decodeCursor, encodeCursor, pageLimit, sinceMs } from "./store_util.ts";

/**
 * Runs, newest first, filtered, a page at a time.
 *
 * @param db The connection.
 * @param query Filters and page.
 * @returns The page.
 */
export function listRuns(db: DatabaseSync, query: RunQuery): RunPage {
  const limit = pageLimit(query.limit);
  const where: string[] = [];
  const args: (string | number)[] = [];
  const statuses = query.status === undefined ? [] : [query.status].flat();
  if (statuses.length) {
    where.push(`status IN (${statuses.map(() => "?").join(", ")})`);
    args.push(...statuses);
  }
  if (query.flow !== undefined) {
    where.push("flow = ?");
    args.push(query.flow);
  }
  if (query.since !== undefined) {
    where.push("created_ms >= ?");
    args.push(sinceMs(query.since));
  }
  if (query.cursor !== undefined) {
    const c = decodeCursor(query.cursor);
    where.push("(created_ms < ? OR (created_ms = ? AND run_id < ?))");
    args.push(c.ms, c.ms, c.id);
  }
  const rows = sql(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_ms DESC, run_id DESC LIMIT ?`,
  ).all(...args, limit + 1) as unknown as RunRow[];
  const runs = rows.slice(0, limit).map(toRecord);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  return { runs, ...(last ? { cursor: encodeCursor(last.created_ms, last.run_id) } : {}) };
}

/**
 * Runs an orchestrator should take now: queued, expired, retry or answered.
 *
 * @param db The connection.
 * @param now The time (epoch ms).
 * @param limit At most this many.
 * @returns The runs, oldest first.
 */
export function claimableRuns(db: DatabaseSync, now: number, limit: number): Claimable[] {
  const rows = sql(
    db,
    `SELECT run_id AS runId, CASE
         WHEN status = 'queued' THEN 'queued'
         WHEN status = 'running' THEN 'expired'
         WHEN status = 'failed' THEN 'retry'
         ELSE 'answered' END AS reason
       FROM runs WHERE status = 'queued'
         OR (status = 'running' AND (owner IS NULL OR lease_until IS NULL OR lease_until < ?))
         OR (status = 'failed' AND retry_requested = 1 AND (owner IS NULL OR lease_until < ?))
         OR (status = 'waiting' AND (owner IS NULL OR lease_until < ?) AND EXISTS (
           SELECT 1 FROM feedback f WHERE f.id = json_extract(runs.feedback, '$.id')
             AND f.settlement IS NOT NULL))
       ORDER BY created_ms LIMIT ?`,
  ).all(now, now, now, limit) as unknown as Claimable[];
  return rows.map((r) => ({ runId: r.runId, reason: r.reason }));
}
