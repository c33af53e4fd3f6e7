/**
 * The queries of `redisRunStore()`: pages of runs over its indexes, the runs an orchestrator
 * should take, and live changes.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type {
  Claimable,
  JournalEntry,
  RunPage,
  RunQuery,
  RunRecord,
  StoreEvent,
} from "../store/run_store.ts";
import { decodeCursor, encodeCursor, pageLimit, sinceMs } from "../store/store_util.ts";
import type { Clock } from "../time/clock.ts";
import type { RedisKeys } from "./keys.ts";
import type { Subscriber } from "./subscriber.ts";

/** What the queries need of the store. */
export interface RunStorePort {
  /** The connection. */
  readonly redis: Redis;
  /** Key names. */
  readonly keys: RedisKeys;
  /** Time source of leases. */
  readonly clock: Clock;
  /** A record by id. */
  read(runId: string): Promise<RunRecord | undefined>;
  /** Whether a waiting run's feedback request is settled. */
  answered(record: RunRecord): Promise<boolean>;
  /** Journal entries after a position. */
  entries(runId: string, afterSeq?: number): Promise<JournalEntry[]>;
  /** The store's subscriber (created on first use). */
  subscriber(): Subscriber;
  /** Whether the store is closed. */
  closed(): boolean;
}

/**
 * Runs of the store, newest first, filtered, a page at a time.
 *
 * @param port The store.
 * @param query Filters and page.
 * @returns The page.
 */
export async function listRuns(port: RunStorePort, query: RunQuery): Promise<RunPage> {
  const limit = pageLimit(query.limit);
  const statuses = query.status === undefined ? [] : [query.status].flat();
  const index = statuses.length === 1
    ? port.keys.runIndex(`status:${statuses[0]}`)
    : query.flow !== undefined
    ? port.keys.runIndex(`flow:${query.flow}`)
    : port.keys.runIndex("all");
  const min = query.since === undefined ? "-inf" : String(sinceMs(query.since));
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const max = cursor ? String(cursor.ms) : "+inf";
  const out: RunRecord[] = [];
  // Newest first; equal times by id, largest first (Redis orders equal scores so in reverse).
  for (let offset = 0; out.length <= limit;) {
    const rows = await port.redis.call(
      "ZREVRANGEBYSCORE",
      index,
      max,
      min,
      "WITHSCORES",
      "LIMIT",
      String(offset),
      "200",
    ) as string[];
    if (!rows.length) break;
    for (let i = 0; i < rows.length && out.length <= limit; i += 2) {
      const [id, ms] = [rows[i], Number(rows[i + 1])];
      offset++;
      if (cursor && ms === cursor.ms && id >= cursor.id) continue;
      const r = await port.read(id);
      if (!r) {
        await port.redis.zrem(index, id); // its keys expired
        offset--;
        continue;
      }
      if (statuses.length && !statuses.includes(r.status)) continue;
      if (query.flow !== undefined && r.flow !== query.flow) continue;
      out.push(r);
    }
  }
  const runs = out.slice(0, limit);
  const last = out.length > limit ? runs[limit - 1] : undefined;
  return {
    runs,
    ...(last ? { cursor: encodeCursor(Date.parse(last.createdAt), last.runId) } : {}),
  };
}

/**
 * Runs an orchestrator should take now: queued, expired, retry or answered.
 *
 * @param port The store.
 * @param limit At most this many.
 * @returns The runs with the reason.
 */
export async function claimableRuns(port: RunStorePort, limit: number): Promise<Claimable[]> {
  const now = port.clock.now();
  const out: Claimable[] = [];
  const seen = new Set<string>();
  const add = (runId: string, reason: Claimable["reason"]) => {
    if (out.length < limit && !seen.has(runId)) {
      seen.add(runId);
      out.push({ runId, reason });
    }
  };
  const queued = await port.redis.call(
    "ZRANGE",
    port.keys.runIndex("status:queued"),
    "0",
    String(limit - 1),
  ) as string[];
  for (const id of queued) add(id, "queued");
  const expired = await port.redis.call(
    "ZRANGEBYSCORE",
    port.keys.runLeases(),
    "-inf",
    `(${now}`,
    "LIMIT",
    "0",
    String(limit),
  ) as string[];
  for (const id of expired) {
    const r = await port.read(id);
    if (r?.status === "running") add(id, "expired");
    else if (r?.status === "failed" && r.retryRequested) add(id, "retry");
    else if (r?.status === "waiting" && await port.answered(r)) add(id, "answered");
  }
  for (const id of await port.redis.call("SMEMBERS", port.keys.runRetries()) as string[]) {
    const r = await port.read(id);
    if (r?.status === "failed" && (!r.owner || (r.leaseUntil ?? 0) < now)) add(id, "retry");
  }
  const waiting = await port.redis.call(
    "ZRANGE",
    port.keys.runIndex("status:waiting"),
    "0",
    "999",
  ) as string[];
  for (const id of waiting) {
    const r = await port.read(id);
    if (r && (!r.owner || (r.leaseUntil ?? 0) < now) && await port.answered(r)) {
      add(id, "answered");
    }
  }
  return out;
}

/**
 * Live changes of one run or of every run, from the store's pub/sub channel.
 *
 * @param port The store.
 * @param options The run, and what ends the watch.
 * @returns The changes.
 */
export async function* watchRuns(
  port: RunStorePort,
  options: { runId?: string; signal?: AbortSignal },
): AsyncIterable<StoreEvent> {
  const { runId, signal } = options;
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  const onMessage = (m: string) => {
    queue.push(m);
    wake?.();
  };
  const onAbort = () => wake?.();
  const sub = port.subscriber();
  const channel = port.keys.runEvents();
  await sub.on(channel, onMessage);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal?.aborted && !port.closed()) {
      const m = queue.shift();
      if (m === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 1000);
        });
        continue;
      }
      const [kind, id, from, to] = m.split("\n");
      if (runId !== undefined && id !== runId) continue;
      if (kind === "run") {
        const record = await port.read(id);
        if (record) yield { type: "run", record };
      } else if (kind === "journal") {
        const entries = (await port.entries(id, Number(from) - 1)).filter((e) =>
          e.seq <= Number(to)
        );
        if (entries.length) yield { type: "journal", runId: id, entries };
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await sub.off(channel, onMessage).catch(() => {});
  }
}
