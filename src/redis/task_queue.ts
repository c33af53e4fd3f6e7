/**
 * The work queue on a Redis Stream with one consumer group: producers add job entries; workers
 * reserve them (XREADGROUP), renew their lease while the task runs, finish (outcome + ack in one
 * Lua step), reclaim the entries of dead workers (XAUTOCLAIM after the lease), hand entries back
 * on shutdown, and move poison entries to a dead-letter stream with the reason.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { CONSUMER_GROUP, HANDBACK_CONSUMER, type RedisKeys } from "./keys.ts";
import {
  QUEUE_CANCEL,
  QUEUE_CHECK,
  QUEUE_DEAD_LETTER,
  QUEUE_FINISH,
  QUEUE_HAND_BACK,
  QUEUE_RECLAIM,
  QUEUE_RENEW,
} from "./queue_scripts.ts";
import { seal } from "./signing.ts";
import type { JobMessage } from "./wire.ts";

/** An entry of the queue as read by a worker. */
export interface QueueEntry {
  /** Stream entry id. */
  id: string;
  /** Its fields: `m` (the job message JSON) and `s` (its signature), if well formed. */
  fields: Record<string, string>;
  /** How often it was delivered (1 on the first delivery). */
  deliveries: number;
}

/** What happened to a job a producer waits for (see {@linkcode RedisTaskQueue.check}). */
export type JobState = { state: "done"; sealed: string } | { state: "lost" | "waiting" };

/** Options of {@linkcode RedisTaskQueue}. */
export interface RedisTaskQueueOptions {
  /** HMAC secret for messages and outcomes. @default {undefined} (unsigned) */
  secret?: string;
  /** How long outcomes nobody collected stay in Redis. @default {86400000} (1 day) */
  retentionMs?: number;
}

/** Idle time given to handed-back entries: far past any lease, so they are reclaimed at once. */
const HANDED_BACK_IDLE_MS = 30 * 24 * 3600 * 1000;

function toFields(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
  }
  return out;
}

/** The queue operations of producers and workers on one prefix. */
export class RedisTaskQueue {
  /** Key names. */
  readonly keys: RedisKeys;
  readonly #redis: Redis;
  readonly #secret: string | undefined;
  readonly #retention: number;

  /**
   * Creates the queue handle (no I/O).
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param options Secret and retention.
   */
  constructor(redis: Redis, keys: RedisKeys, options: RedisTaskQueueOptions = {}) {
    this.#redis = redis;
    this.keys = keys;
    this.#secret = options.secret;
    this.#retention = options.retentionMs ?? 86_400_000;
  }

  /** The HMAC secret, if any. */
  get secret(): string | undefined {
    return this.#secret;
  }

  // Producer side ------------------------------------------------------------------------

  /**
   * Adds a job.
   *
   * @param message The job message.
   * @returns The stream entry id.
   */
  async enqueue(message: JobMessage): Promise<string> {
    const m = JSON.stringify(message);
    const sealed = seal(m, this.#secret);
    const sig = sealed.slice(0, sealed.indexOf("|"));
    const args = sig ? ["m", m, "s", sig] : ["m", m];
    return (await this.#redis.xadd(this.keys.queue(), "*", ...args))!;
  }

  /**
   * Removes a job's entry (whether or not a worker holds it) and tells the workers to abort it.
   *
   * @param entryId The entry.
   * @param job The job id.
   */
  async cancel(entryId: string, job: string): Promise<void> {
    await QUEUE_CANCEL.run(this.#redis, [this.keys.queue()], [
      CONSUMER_GROUP,
      entryId,
      this.keys.control(),
      job,
    ]);
  }

  /**
   * Checks waiting jobs (of any runs) in one step: outcome stored, still queued or held, or lost
   * (Redis lost data); and which runs have context calls waiting.
   *
   * @param jobs `{ runId, job, entryId }` per job.
   * @returns One state per job, and the runs with calls.
   */
  async check(
    jobs: { runId: string; job: string; entryId: string }[],
  ): Promise<{ states: JobState[]; runsWithCalls: string[] }> {
    const runs = [...new Set(jobs.map((j) => j.runId))];
    const index = new Map(runs.map((r, i) => [r, i + 1]));
    const keys = [this.keys.queue()];
    for (const r of runs) keys.push(this.keys.outcomes(r), this.keys.calls(r));
    const args: string[] = [];
    for (const j of jobs) args.push(String(index.get(j.runId)), j.job, j.entryId);
    const [out, calls] = await QUEUE_CHECK.run(this.#redis, keys, args) as [string[], number[]];
    const states: JobState[] = out.map((s) =>
      s === "!lost"
        ? { state: "lost" }
        : s === "!waiting"
        ? { state: "waiting" }
        : { state: "done", sealed: s }
    );
    return { states, runsWithCalls: calls.map((i) => runs[i - 1]) };
  }

  // Worker side --------------------------------------------------------------------------

  /** Creates the consumer group (and the stream) unless it exists. */
  async ensureGroup(): Promise<void> {
    try {
      await this.#redis.xgroup("CREATE", this.keys.queue(), CONSUMER_GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!String((error as Error)?.message).includes("BUSYGROUP")) throw error;
    }
  }

  /**
   * Reserves up to `count` new entries, waiting up to `blockMs` for one.
   *
   * @param blocking A connection used only for blocking reads.
   * @param consumer This worker's consumer name.
   * @param count Largest batch.
   * @param blockMs How long to wait.
   * @param id `">"` for new entries, `"0"` for this consumer's own pending entries.
   * @returns The entries.
   */
  async reserve(
    blocking: Redis,
    consumer: string,
    count: number,
    blockMs: number,
    id = ">",
  ): Promise<QueueEntry[]> {
    const args: (string | number)[] = ["GROUP", CONSUMER_GROUP, consumer, "COUNT", count];
    if (id === ">") args.push("BLOCK", blockMs);
    args.push("STREAMS", this.keys.queue(), id);
    const r = await blocking.call("XREADGROUP", ...args) as [string, [string, unknown][]][] | null;
    const out: QueueEntry[] = [];
    for (const [, entries] of r ?? []) {
      for (const [entryId, raw] of entries) {
        if (raw) out.push({ id: entryId, fields: toFields(raw), deliveries: id === ">" ? 1 : 2 });
      }
    }
    return out;
  }

  /**
   * Records an outcome and acknowledges the entry in one step (first finisher wins).
   *
   * @param entryId The entry.
   * @param message The job.
   * @param sealedOutcome The sealed outcome record.
   * @param next Reserve up to this many new entries for `consumer` in the same step.
   * @returns Whether it was recorded (false: finished elsewhere or cancelled), and the entries
   * reserved.
   */
  async finish(
    entryId: string,
    message: JobMessage,
    sealedOutcome: string,
    next?: { consumer: string; count: number },
  ): Promise<{ written: boolean; entries: QueueEntry[] }> {
    const r = await QUEUE_FINISH.run(
      this.#redis,
      [this.keys.queue(), this.keys.outcomes(message.runId)],
      [
        CONSUMER_GROUP,
        entryId,
        message.job,
        sealedOutcome,
        this.#retention,
        this.keys.wake(message.replyTo),
        next?.consumer ?? "",
        next?.count ?? 0,
      ],
    ) as [number, [string, unknown][]];
    const entries: QueueEntry[] = [];
    for (const [id, raw] of r[1] ?? []) {
      if (raw) entries.push({ id, fields: toFields(raw), deliveries: 1 });
    }
    return { written: r[0] === 1, entries };
  }

  /**
   * Moves an entry to the dead-letter stream with the reason; when its job is known, records the
   * failed outcome for the producer.
   *
   * @param entry The entry.
   * @param reason Why.
   * @param worker The worker id.
   * @param notify Job, run and producer to tell, with the sealed outcome.
   * @returns Whether it was moved (false: not pending any more).
   */
  async deadLetter(
    entry: QueueEntry,
    reason: string,
    worker: string,
    notify?: { runId: string; job: string; replyTo: string; sealed: string },
  ): Promise<boolean> {
    const r = await QUEUE_DEAD_LETTER.run(
      this.#redis,
      [
        this.keys.queue(),
        this.keys.dead(),
        notify ? this.keys.outcomes(notify.runId) : this.keys.dead(),
      ],
      [
        CONSUMER_GROUP,
        entry.id,
        reason,
        worker,
        new Date().toISOString(),
        JSON.stringify(entry.fields),
        notify?.job ?? "",
        notify?.sealed ?? "",
        this.#retention,
        notify ? this.keys.wake(notify.replyTo) : "",
      ],
    );
    return r === 1;
  }

  /**
   * Renews the lease of entries this consumer holds.
   *
   * @param consumer This worker's consumer name.
   * @param ids Entry ids.
   * @returns The ids it no longer holds.
   */
  async renew(consumer: string, ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    return await QUEUE_RENEW.run(this.#redis, [this.keys.queue()], [
      CONSUMER_GROUP,
      consumer,
      ...ids,
    ]) as string[];
  }

  /**
   * Claims entries idle for longer than `minIdleMs` (dead workers', handed-back ones).
   *
   * @param consumer This worker's consumer name.
   * @param minIdleMs The lease.
   * @param count Largest number to claim.
   * @returns The claimed entries with their delivery counts.
   */
  async reclaim(consumer: string, minIdleMs: number, count: number): Promise<QueueEntry[]> {
    const r = await QUEUE_RECLAIM.run(this.#redis, [this.keys.queue()], [
      CONSUMER_GROUP,
      consumer,
      Math.max(0, Math.floor(minIdleMs)),
      count,
    ]) as [string, unknown, number][];
    return r.map(([id, raw, deliveries]) => ({ id, fields: toFields(raw), deliveries }));
  }

  /**
   * Hands entries back so that any worker takes them at once.
   *
   * @param consumer This worker's consumer name.
   * @param ids Entry ids.
   * @returns How many were handed back.
   */
  async handBack(consumer: string, ids: string[]): Promise<number> {
    if (!ids.length) return 0;
    return await QUEUE_HAND_BACK.run(this.#redis, [this.keys.queue()], [
      CONSUMER_GROUP,
      consumer,
      HANDBACK_CONSUMER,
      HANDED_BACK_IDLE_MS,
      ...ids,
    ]) as number;
  }

  /**
   * The entries pending to a consumer.
   *
   * @param consumer The consumer name.
   * @returns Their ids (up to 10,000).
   */
  async pendingOf(consumer: string): Promise<string[]> {
    const r = await this.#redis.xpending(
      this.keys.queue(),
      CONSUMER_GROUP,
      "-",
      "+",
      10_000,
      consumer,
    ) as [string, string, number, number][];
    return r.map((p) => p[0]);
  }

  /**
   * Removes a consumer from the group when it holds nothing.
   *
   * @param consumer The consumer name.
   */
  async removeConsumer(consumer: string): Promise<void> {
    if ((await this.pendingOf(consumer)).length === 0) {
      await this.#redis.xgroup("DELCONSUMER", this.keys.queue(), CONSUMER_GROUP, consumer);
    }
  }

  /**
   * Removes consumers left by workers that died (nothing pending, idle for `minIdleMs`); a live
   * worker reads at least every second, and a consumer removed by mistake comes back with its
   * next read.
   *
   * @param minIdleMs How long a consumer must have been idle.
   * @returns The names removed.
   */
  async pruneConsumers(minIdleMs: number): Promise<string[]> {
    const rows = await this.#redis.xinfo(
      "CONSUMERS",
      this.keys.queue(),
      CONSUMER_GROUP,
    ) as unknown[][];
    const removed: string[] = [];
    for (const row of rows) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1];
      const name = String(info.name);
      if (name === HANDBACK_CONSUMER || Number(info.pending) !== 0) continue;
      if (Number(info.idle) < minIdleMs) continue;
      await this.#redis.xgroup("DELCONSUMER", this.keys.queue(), CONSUMER_GROUP, name);
      removed.push(name);
    }
    return removed;
  }

  /**
   * Entries waiting for a worker and entries held by workers.
   *
   * @returns The counts.
   */
  async depth(): Promise<{ waiting: number; pending: number }> {
    const [len, summary] = await Promise.all([
      this.#redis.xlen(this.keys.queue()),
      this.#redis.xpending(this.keys.queue(), CONSUMER_GROUP).catch(() => [0]),
    ]);
    const pending = Number((summary as unknown[])[0] ?? 0);
    return { waiting: Math.max(0, len - pending), pending };
  }

  /**
   * The lease set for this prefix by a backend (`leaseMs` option), if any.
   *
   * @returns Milliseconds, or undefined.
   */
  async configuredLease(): Promise<number | undefined> {
    const v = Number(await this.#redis.hget(this.keys.config(), "leaseMs"));
    return v > 0 ? v : undefined;
  }

  /**
   * Sets the lease for this prefix (workers started without `--lease-ms` use it).
   *
   * @param leaseMs Milliseconds.
   */
  async setLease(leaseMs: number): Promise<void> {
    await this.#redis.hset(this.keys.config(), "leaseMs", String(leaseMs));
  }
}
