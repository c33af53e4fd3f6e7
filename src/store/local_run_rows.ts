/**
 * The writes of the local run store's `runs` table: the row of a new run (its graph stored once
 * per flow version, in `graphs`), and a patch of a run's fields (a final status also clears its
 * owner, lease and cancel request). Callers check ids, leases and statuses in the same
 * transaction.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { DatabaseSync } from "../deps/sqlite.ts";
import { FINAL_STATUSES, type NewRun, type RunPatch } from "./run_store.ts";
import { sql } from "./sqlite_schema.ts";

/**
 * Inserts a new run (owned by `run.owner` with fence 1 when it starts running).
 *
 * @param db The connection (in a transaction).
 * @param run The run.
 * @param now The time (ms).
 */
export function insertRun(db: DatabaseSync, run: NewRun, now: number): void {
  const iso = new Date(now).toISOString();
  const owned = run.status === "running";
  // Runs of one flow version share their graph's row.
  const graph = JSON.stringify(run.graph ?? null);
  const graphKey = createHash("sha256").update(graph).digest("hex").slice(0, 32);
  sql(db, "INSERT OR IGNORE INTO graphs (key, graph) VALUES (?, ?)").run(graphKey, graph);
  sql(
    db,
    `INSERT INTO runs (run_id, flow, version, status, input, created_at, created_ms, started_at,
      updated_at, owner, lease_until, fence, idempotency_key, graph_key, trace)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    run.runId,
    run.flow,
    run.version,
    run.status,
    JSON.stringify(run.input ?? null),
    iso,
    now,
    owned ? iso : null,
    iso,
    owned ? run.owner ?? null : null,
    owned ? now + (run.leaseMs ?? 0) : null,
    owned ? 1 : 0,
    run.idempotencyKey ?? null,
    graphKey,
    run.trace ? JSON.stringify(run.trace) : null,
  );
}

/**
 * Applies a patch to a run's row.
 *
 * @param db The connection (in a transaction).
 * @param runId The run.
 * @param patch The fields to change.
 * @param iso The time, as `updated_at`.
 */
export function patchRun(db: DatabaseSync, runId: string, patch: RunPatch, iso: string): void {
  const sets: string[] = [];
  const args: (string | number | null)[] = [];
  const set = (column: string, value: string | number | null) => {
    sets.push(`${column} = ?`);
    args.push(value);
  };
  set("updated_at", iso);
  if (patch.status !== undefined) set("status", patch.status);
  if ("output" in patch) set("output", JSON.stringify(patch.output ?? null));
  if ("error" in patch) set("error", patch.error ? JSON.stringify(patch.error) : null);
  if (patch.startedAt !== undefined) set("started_at", patch.startedAt);
  if (patch.finishedAt !== undefined) set("finished_at", patch.finishedAt);
  if (patch.steps !== undefined) set("steps", patch.steps);
  if (patch.checkpoints !== undefined) set("checkpoints", JSON.stringify(patch.checkpoints));
  if ("feedback" in patch) {
    set("feedback", patch.feedback ? JSON.stringify(patch.feedback) : null);
  }
  if (patch.retryRequested !== undefined) set("retry_requested", patch.retryRequested ? 1 : 0);
  if (patch.trace !== undefined) set("trace", JSON.stringify(patch.trace));
  if (patch.status && FINAL_STATUSES.includes(patch.status)) {
    set("owner", null);
    set("lease_until", null);
    set("cancel_requested", 0);
  }
  sql(db, `UPDATE runs SET ${sets.join(", ")} WHERE run_id = ?`).run(...args, runId);
}
