/**
 * What both run stores share: cursors, page limits, and their errors.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { Lease, RunRecord } from "./run_store.ts";

const RUN_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * A page cursor for a run created at `ms` with id `runId`.
 *
 * @param ms Creation time.
 * @param runId The run id.
 * @returns The opaque cursor.
 */
export function encodeCursor(ms: number, runId: string): string {
  return btoa(`${ms}:${runId}`).replace(/=+$/, "");
}

/**
 * Reads a cursor made by {@linkcode encodeCursor}.
 *
 * @param cursor The cursor, as received.
 * @returns Creation time and run id.
 * @throws {TypeError} When it is not a cursor of this store.
 */
export function decodeCursor(cursor: string): { ms: number; id: string } {
  let text: string;
  try {
    text = atob(String(cursor));
  } catch {
    throw new TypeError(`Cannot list runs: cursor ${JSON.stringify(cursor)} is malformed`);
  }
  const colon = text.indexOf(":");
  const ms = Number(text.slice(0, colon));
  const id = text.slice(colon + 1);
  if (colon < 1 || !Number.isSafeInteger(ms) || ms < 0 || !RUN_ID.test(id)) {
    throw new TypeError(`Cannot list runs: cursor ${JSON.stringify(cursor)} is malformed`);
  }
  return { ms, id };
}

/**
 * Checks a page size.
 *
 * @param limit The requested size.
 * @returns The size to use.
 * @throws {RangeError} When it is not a whole number 1–1000.
 */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError(`Cannot list runs: limit must be a whole number 1-1000, got ${limit}`);
  }
  return limit;
}

/**
 * A `since` filter as epoch milliseconds.
 *
 * @param since ISO time or epoch ms.
 * @returns Epoch ms.
 * @throws {TypeError} When it is not a time.
 */
export function sinceMs(since: string | number): number {
  const ms = typeof since === "number" ? since : Date.parse(since);
  if (!Number.isFinite(ms)) {
    throw new TypeError(
      `Cannot list runs: since must be an ISO time or epoch ms, got ${JSON.stringify(since)}`,
    );
  }
  return ms;
}

/**
 * The error for a run that does not exist.
 *
 * @param runId The run id.
 * @returns `WorkflowError` code `RUN_NOT_FOUND`.
 */
export function notFound(runId: string): WorkflowError {
  return new WorkflowError(`Cannot find run "${runId}": no such run in the store`, {
    code: "RUN_NOT_FOUND",
  });
}

/**
 * The error for a write with a stale lease.
 *
 * @param runId The run.
 * @param lease The stale lease.
 * @param now The record now, if it exists.
 * @returns `WorkflowError` code `FENCED`.
 */
export function fenced(
  runId: string,
  lease: Lease,
  now: { owner?: string | null; fence: number } | RunRecord | undefined,
): WorkflowError {
  if (!now) return notFound(runId);
  return new WorkflowError(
    `Cannot write run "${runId}" as ${lease.owner} (fence ${lease.fence}): ${
      now.owner
        ? `${now.owner} holds it with fence ${now.fence}`
        : `its lease was given up (fence ${now.fence})`
    }`,
    { code: "FENCED" },
  );
}
