/**
 * Query parameters of the API, checked: every bad value is a 400 `BAD_QUERY` (or `BAD_CURSOR`)
 * that names the parameter.
 *
 * @module
 */
import type { RunRecordStatus } from "../store/run_store.ts";
import { HttpError } from "./http_error.ts";

/** Every run status. */
export const STATUSES: readonly RunRecordStatus[] = [
  "queued",
  "running",
  "waiting",
  "completed",
  "failed",
  "cancelled",
  "terminated",
];

/**
 * A whole-number query parameter.
 *
 * @param raw The value, if given.
 * @param name Its name, for the message.
 * @param min Smallest allowed.
 * @param max Largest allowed.
 * @returns The number, or `undefined` when absent.
 */
export function intParam(raw: string | undefined, name: string, min: number, max: number) {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new HttpError(
      400,
      "BAD_QUERY",
      `Cannot read query parameter ${name}: expected a whole number ${min}-${max}, got ${
        JSON.stringify(raw.slice(0, 40))
      }`,
    );
  }
  return n;
}

/**
 * A boolean query parameter (`true`, `false`, `1`, `0`).
 *
 * @param raw The value, if given.
 * @param name Its name, for the message.
 * @returns The boolean, or `undefined` when absent.
 */
export function boolParam(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new HttpError(
    400,
    "BAD_QUERY",
    `Cannot read query parameter ${name}: expected true or false, got ${
      JSON.stringify(raw.slice(0, 40))
    }`,
  );
}

/**
 * The list filters of `GET /runs` from a query string.
 *
 * @param q The query.
 * @returns The store query.
 * @throws {HttpError} 400 `BAD_QUERY` naming the parameter.
 */
export function runQuery(q: URLSearchParams): {
  status?: RunRecordStatus[];
  flow?: string;
  since?: number;
  limit: number;
  cursor?: string;
} {
  const status = q.getAll("status").flatMap((s) => s.split(",")).filter(Boolean);
  for (const s of status) {
    if (!STATUSES.includes(s as RunRecordStatus)) {
      throw new HttpError(
        400,
        "BAD_QUERY",
        `Cannot read query parameter status: expected ${STATUSES.join(", ")}, got ${
          JSON.stringify(s.slice(0, 40))
        }`,
      );
    }
  }
  const sinceRaw = q.get("since") ?? undefined;
  let since: number | undefined;
  if (sinceRaw !== undefined) {
    since = /^\d+$/.test(sinceRaw) ? Number(sinceRaw) : Date.parse(sinceRaw);
    if (!Number.isFinite(since)) {
      throw new HttpError(
        400,
        "BAD_QUERY",
        `Cannot read query parameter since: expected an ISO time or epoch milliseconds, got ${
          JSON.stringify(sinceRaw.slice(0, 40))
        }`,
      );
    }
  }
  const cursor = q.get("cursor") ?? undefined;
  if (cursor !== undefined && !/^[A-Za-z0-9+/=_-]{1,600}$/.test(cursor)) {
    throw new HttpError(
      400,
      "BAD_CURSOR",
      `Cannot list runs: cursor ${JSON.stringify(cursor.slice(0, 40))} is malformed`,
    );
  }
  const flow = q.get("flow") || undefined;
  return {
    ...(status.length ? { status: status as RunRecordStatus[] } : {}),
    ...(flow ? { flow } : {}),
    ...(since !== undefined ? { since } : {}),
    limit: intParam(q.get("limit") ?? undefined, "limit", 1, 1000) ?? 50,
    ...(cursor ? { cursor } : {}),
  };
}
