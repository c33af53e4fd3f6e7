/**
 * `redisRunStore()`: the run store for fleets, in Redis. Each change of a record is one Lua
 * script that checks the lease and fencing token (`run_store_scripts.ts`); journals are lists,
 * indexes sorted sets, changes are announced by pub/sub for `watch`. With a secret, journal
 * entries and snapshots — what decides whether a task runs again — are signed and bound to their
 * run and position. A run's keys expire `retentionMs` after it ends.
 *
 * Redis Cluster is not supported (scripts touch a run's keys and the prefix's indexes at once).
 * Records, sealed journal entries and script replies are read in `run_store_records.ts`, queries
 * run in `run_store_queries.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { WorkflowError } from "../errors.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import type { SnapshotChannel } from "../channels/channel.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import type {
  Claimable,
  JournalEntry,
  JournalSnapshot,
  Lease,
  NewRun,
  RunPage,
  RunPatch,
  RunQuery,
  RunRecord,
  RunStore,
  StoreEvent,
} from "../store/run_store.ts";
import { notFound } from "../store/store_util.ts";
import {
  connectRedis,
  envVar,
  type RedisConnectionOptions,
  redisUrl,
  safeUrl,
} from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { quit, redisChannelOn } from "./redis_channel.ts";
import { redisFeedbackStoreOn } from "./redis_feedback_store.ts";
import { checkDuration, DEFAULT_RETENTION_MS } from "./retention.ts";
import { Signer } from "./signing.ts";
import { Subscriber } from "./subscriber.ts";
import { checkTransport } from "./transport_policy.ts";
import { claimableRuns, listRuns, type RunStorePort, watchRuns } from "./run_store_queries.ts";
import {
  checkReply,
  conflict,
  newControl,
  openEntries,
  openSigned,
  sealEntries,
  sealSnapshot,
  toRecord,
  VALUE_FIELDS,
} from "./run_store_records.ts";
import {
  STORE_ACQUIRE,
  STORE_APPEND,
  STORE_CANCEL,
  STORE_CREATE,
  STORE_RELEASE,
  STORE_RENEW,
  STORE_RETRY,
  STORE_SNAPSHOT,
  STORE_UPDATE,
} from "./run_store_scripts.ts";

/** Options of {@linkcode redisRunStore}. */
export interface RedisRunStoreOptions extends RedisConnectionOptions {
  /** Key prefix (its own, or the backend's). @default {"graflow"} */
  prefix?: string;
  /** HMAC secret: journal entries, snapshots and feedback are signed. @default {env GRAFLOW_SECRET} */
  secret?: string;
  /** Without a secret, allow a Redis that is not on this machine. @default {false} */
  insecure?: boolean;
  /** How long a run's keys stay after it ended. @default {604800000} (7 days) */
  retentionMs?: number;
  /** Time source of leases (tests use a fake clock). @default {the system clock} */
  clock?: Clock;
}

/** The Redis run store (see {@linkcode redisRunStore}). */
export class RedisRunStore implements RunStore {
  /** `"redis"`. */
  readonly kind = "redis";
  /** Feedback requests, in the same Redis (signed with the same secret). */
  readonly feedback: FeedbackStore;
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #signer: Signer;
  readonly #retention: number;
  readonly #clock: Clock;
  #subscriber: Subscriber | undefined;
  #closed = false;
  readonly #port: RunStorePort;

  /**
   * Opens the store. Prefer {@linkcode redisRunStore}.
   *
   * @param options Connection, prefix, secret, retention.
   */
  constructor(options: RedisRunStoreOptions = {}) {
    const what = "Cannot create redisRunStore";
    this.#keys = new RedisKeys(options.prefix);
    this.#retention = checkDuration(what, "retentionMs", options.retentionMs, DEFAULT_RETENTION_MS);
    const secret = options.secret ?? envVar("GRAFLOW_SECRET");
    const url = redisUrl(options.url);
    checkTransport({
      action: "create redisRunStore",
      url,
      safeUrl: safeUrl(url),
      secret,
      insecure: options.insecure,
    });
    this.#signer = new Signer(secret, this.#keys.prefix);
    this.#clock = options.clock ?? systemClock;
    this.#redis = connectRedis({ ...options, url, connectionName: "graflow-run-store" });
    this.#port = {
      redis: this.#redis,
      keys: this.#keys,
      clock: this.#clock,
      read: (runId) => this.#read(runId),
      answered: (r) => this.#answered(r),
      entries: (runId, after) => this.entries(runId, after),
      subscriber: () => this.#subscriber ??= new Subscriber(this.#redis),
      closed: () => this.#closed,
    };
    this.feedback = redisFeedbackStoreOn(this.#redis, this.#signer, {
      prefix: this.#keys.prefix,
      pollMs: 500,
      retentionMs: this.#retention,
    });
  }

  #base(): [string, number, string] {
    const now = this.#clock.now();
    return [this.#keys.prefix, now, new Date(now).toISOString()];
  }

  async #read(runId: string): Promise<RunRecord | undefined> {
    const [rec, ...values] = await this.#redis.hmget(
      this.#keys.runRecord(runId),
      "rec",
      ...VALUE_FIELDS,
    );
    if (!rec) return undefined;
    return toRecord(JSON.parse(rec), values);
  }

  channel(runId: string): SnapshotChannel {
    return redisChannelOn(this.#redis, { runId, prefix: this.#keys.prefix });
  }

  async create(run: NewRun): Promise<{ record: RunRecord; created: boolean; lease?: Lease }> {
    const [prefix, now, iso] = this.#base();
    const owned = run.status === "running";
    const key = run.idempotencyKey;
    const idem = key === undefined
      ? this.#keys.runRecord(run.runId)
      : this.#keys.idempotency(createHash("sha256").update(key).digest("hex"));
    const r = await STORE_CREATE.run(this.#redis, [this.#keys.runRecord(run.runId), idem], [
      prefix,
      now,
      iso,
      JSON.stringify(newControl(run, now, iso)),
      JSON.stringify(run.graph ?? null),
      key === undefined ? "0" : "1",
      JSON.stringify(run.input ?? null),
    ]) as [number, string?];
    if (r[0] === -1) {
      throw new WorkflowError(`Cannot record run "${run.runId}": a run with this id exists`, {
        code: "RUN_EXISTS",
      });
    }
    if (r[0] === 0) return { record: (await this.#read(r[1]!))!, created: false };
    const record = (await this.#read(run.runId))!;
    return { record, created: true, ...(owned ? { lease: { owner: run.owner!, fence: 1 } } : {}) };
  }

  get(runId: string): Promise<RunRecord | undefined> {
    return this.#read(runId);
  }

  async graph(runId: string): Promise<unknown> {
    const g = await this.#redis.hget(this.#keys.runRecord(runId), "graph");
    if (g === null) throw notFound(runId);
    return JSON.parse(g);
  }

  list(query: RunQuery = {}): Promise<RunPage> {
    return listRuns(this.#port, query);
  }

  claimable(limit = 100): Promise<Claimable[]> {
    return claimableRuns(this.#port, limit);
  }

  watch(options: { runId?: string; signal?: AbortSignal } = {}): AsyncIterable<StoreEvent> {
    return watchRuns(this.#port, options);
  }

  async acquire(runId: string, owner: string, leaseMs: number): Promise<Lease | undefined> {
    const fence = Number(
      await STORE_ACQUIRE.run(this.#redis, [this.#keys.runRecord(runId)], [
        ...this.#base(),
        owner,
        leaseMs,
      ]),
    );
    return fence > 0 ? { owner, fence } : undefined;
  }

  async renew(runId: string, lease: Lease, leaseMs: number): Promise<RunRecord | undefined> {
    if (this.#closed) return undefined;
    const r = await STORE_RENEW.run(this.#redis, [this.#keys.runRecord(runId)], [
      ...this.#base(),
      lease.owner,
      lease.fence,
      leaseMs,
    ]);
    return r ? this.#read(runId) : undefined;
  }

  async release(runId: string, lease: Lease): Promise<void> {
    if (this.#closed) return;
    await STORE_RELEASE.run(this.#redis, [this.#keys.runRecord(runId)], [
      ...this.#base(),
      lease.owner,
      lease.fence,
    ]);
  }

  async #answered(r: RunRecord): Promise<boolean> {
    if (!r.feedback) return false;
    const f = await this.feedback.get(r.feedback.id).catch(() => undefined);
    return !!(f?.response || f?.cancelled);
  }

  async append(runId: string, lease: Lease, entries: JournalEntry[]): Promise<void> {
    if (!entries.length) return;
    const reply = checkReply(
      await STORE_APPEND.run(
        this.#redis,
        [this.#keys.runRecord(runId), this.#keys.runJournal(runId)],
        [
          ...this.#base(),
          lease.owner,
          lease.fence,
          entries[0].seq,
          ...sealEntries(this.#signer, runId, entries),
        ],
      ),
      runId,
      lease,
    );
    if (reply.startsWith("SEQ")) throw conflict(runId, entries[0].seq);
  }

  async snapshot(runId: string, lease: Lease, snapshot: JournalSnapshot): Promise<void> {
    checkReply(
      await STORE_SNAPSHOT.run(
        this.#redis,
        [this.#keys.runRecord(runId), this.#keys.runSnapshot(runId)],
        [...this.#base(), lease.owner, lease.fence, sealSnapshot(this.#signer, runId, snapshot)],
      ),
      runId,
      lease,
    );
  }

  async journal(runId: string): Promise<{ snapshot?: JournalSnapshot; entries: JournalEntry[] }> {
    const raw = await this.#redis.call("GET", this.#keys.runSnapshot(runId)) as string | null;
    const snapshot = raw
      ? openSigned<JournalSnapshot>(this.#signer, "snapshot", runId, raw)
      : undefined;
    return { ...(snapshot ? { snapshot } : {}), entries: await this.entries(runId, snapshot?.seq) };
  }

  async entries(runId: string, afterSeq = 0): Promise<JournalEntry[]> {
    const rows = await this.#redis.call(
      "LRANGE",
      this.#keys.runJournal(runId),
      String(afterSeq),
      "-1",
    ) as string[];
    return openEntries(this.#signer, runId, rows, afterSeq);
  }

  async update(
    runId: string,
    lease: Lease,
    patch: RunPatch,
    entries: JournalEntry[] = [],
  ): Promise<RunRecord> {
    const { output, error, checkpoints, ...control } = patch;
    const values: string[] = [];
    if ("output" in patch) values.push("output", JSON.stringify(output ?? null));
    if ("error" in patch) values.push("error", JSON.stringify(error ?? null));
    if (checkpoints !== undefined) values.push("checkpoints", JSON.stringify(checkpoints));
    const ctl: Record<string, unknown> = { ...control };
    if ("feedback" in patch && patch.feedback === undefined) ctl.feedback = null;
    const reply = await STORE_UPDATE.run(
      this.#redis,
      [this.#keys.runRecord(runId), this.#keys.runJournal(runId), this.#keys.runSnapshot(runId)],
      [
        ...this.#base(),
        lease.owner,
        lease.fence,
        JSON.stringify(ctl),
        this.#retention,
        entries[0]?.seq ?? 0,
        entries.length,
        ...sealEntries(this.#signer, runId, entries),
        ...values,
      ],
    );
    if (!Array.isArray(reply)) {
      checkReply(reply, runId, lease);
      throw conflict(runId, entries[0]?.seq ?? 0);
    }
    const [rec, ...rest] = reply as (string | null)[];
    return toRecord(JSON.parse(rec!), rest);
  }

  async cancel(runId: string): Promise<RunRecord> {
    const r = String(
      await STORE_CANCEL.run(
        this.#redis,
        [this.#keys.runRecord(runId), this.#keys.runJournal(runId), this.#keys.runSnapshot(runId)],
        [...this.#base(), this.#retention],
      ),
    );
    if (r === "MISSING") throw notFound(runId);
    if (r.startsWith("FINISHED\n")) {
      throw new WorkflowError(`Cannot cancel run "${runId}": it is already ${r.slice(9)}`, {
        code: "RUN_FINISHED",
      });
    }
    return (await this.#read(runId))!;
  }

  async retry(runId: string): Promise<RunRecord> {
    const r = String(
      await STORE_RETRY.run(
        this.#redis,
        [this.#keys.runRecord(runId), this.#keys.runJournal(runId), this.#keys.runSnapshot(runId)],
        this.#base(),
      ),
    );
    if (r === "MISSING") throw notFound(runId);
    if (r.startsWith("NOTFAILED\n")) {
      throw new WorkflowError(`Cannot retry run "${runId}": it is ${r.slice(10)}, not failed`, {
        code: "RUN_NOT_FAILED",
      });
    }
    return (await this.#read(runId))!;
  }

  /** Closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#subscriber?.close().catch(() => {});
    await (this.feedback as { close?: () => Promise<void> }).close?.().catch(() => {});
    await quit(this.#redis).catch(() => {});
  }

  /** Same as {@linkcode RedisRunStore.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A run store in Redis, for fleets of producers, workers and orchestrators.
 *
 * @param options Connection, prefix, secret, retention.
 * @returns The store; close it when done (`await using`).
 * @throws {TypeError} When the URL or prefix is malformed, or there is no secret for a Redis
 * that is not on this machine (without `insecure`).
 *
 * @example Recording runs in Redis
 * ```ts ignore
 * import { flow, registerFlow } from "@graflow/graflow";
 * import { redisRunStore } from "@graflow/graflow/redis";
 * await using store = redisRunStore({ url: "redis://127.0.0.1:6379", secret: "s3cret" });
 * const etl = registerFlow("etl", flow`extract >> load`);
 * await etl.run({ store, idempotencyKey: "2026-12-01" });
 * ```
 */
export function redisRunStore(options: RedisRunStoreOptions = {}): RedisRunStore {
  return new RedisRunStore(options);
}
