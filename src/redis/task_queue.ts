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
  QUEUE_ADMIT,
  QUEUE_CANCEL,
  QUEUE_CHECK,
  QUEUE_DEAD_LETTER,
  QUEUE_ENQUEUE,
  QUEUE_FINISH,
  QUEUE_HAND_BACK,
  QUEUE_RECLAIM,
  QUEUE_RENEW,
} from "./queue_scripts.ts";
import type { Signer } from "./signing.ts";
import type { JobMessage } from "./wire.ts";

/** An entry of the queue as read by a worker. */
export interface QueueEntry {
  /** Stream entry id. */
  id: string;
  /** Its fields: `m` (the job message JSON) and `s` (its signature), if well formed. */
  fields: Record<string, string>;
  /** How often it was delivered (1 on the first delivery). */
  deliveries: number;
  /**
   * `run id \n job` when the step that reserved it also found it admissible for that run and
   * job (see {@linkcode RedisTaskQueue.finish}).
   */
  passed?: string;
}

/** What happened to a job a producer waits for (see {@linkcode RedisTaskQueue.check}). */
export type JobState = { state: "done"; sealed: string } | { state: "lost" | "waiting" };

/** Whether an entry may run its job (see {@linkcode RedisTaskQueue.admit}). */
export type Admission = "ok" | "done" | "copy" | "unknown";

/** Default cap of the dead-letter stream (approximate: `XADD MAXLEN ~`). */
export const DEFAULT_DEAD_LETTER_MAX = 10_000;

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
  /** Signs job messages. */
  readonly signer: Signer;
  readonly #redis: Redis;
  readonly #deadLetterMax: number;

  /**
   * Creates the queue handle (no I/O).
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param signer Signs job messages (with the prefix's secret, if any).
   * @param deadLetterMax Cap of the dead-letter stream.
   */
  constructor(
    redis: Redis,
    keys: RedisKeys,
    signer: Signer,
    deadLetterMax = DEFAULT_DEAD_LETTER_MAX,
  ) {
    this.#redis = redis;
    this.keys = keys;
    this.signer = signer;
    this.#deadLetterMax = deadLetterMax;
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
    const sig = this.signer.sign("job", message.runId, message.job, m);
    return await QUEUE_ENQUEUE.run(
      this.#redis,
      [this.keys.queue(), this.keys.jobs(message.runId), this.keys.runs()],
      [m, sig, message.job, message.retentionMs, message.runId],
    ) as string;
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
  ): Promise<{ states: JobState[]; runsWithCalls: string[]; liveWorkers: number }> {
    const runs = [...new Set(jobs.map((j) => j.runId))];
    const index = new Map(runs.map((r, i) => [r, i + 1]));
    const keys = [this.keys.queue(), this.keys.workers(), this.keys.runs()];
    for (const r of runs) keys.push(this.keys.outcomes(r), this.keys.calls(r));
    const args: string[] = [...runs, ""];
    for (const j of jobs) args.push(String(index.get(j.runId)), j.job, j.entryId);
    const [out, calls, live] = await QUEUE_CHECK.run(this.#redis, keys, args) as [
      string[],
      number[],
      number,
    ];
    const states: JobState[] = out.map((s) =>
      s === "!lost"
        ? { state: "lost" }
        : s === "!waiting"
        ? { state: "waiting" }
        : { state: "done", sealed: s }
    );
    return { states, runsWithCalls: calls.map((i) => runs[i - 1]), liveWorkers: Number(live) };
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
   * Decides whether an entry may run its job, and removes it when not: its job already has an
   * outcome, was enqueued as another entry (a copy added again), or is unknown to its run.
   *
   * @param entryId The entry.
   * @param message Its (verified) job message.
   * @returns The verdict.
   */
  async admit(entryId: string, message: JobMessage): Promise<Admission> {
    return await QUEUE_ADMIT.run(
      this.#redis,
      [this.keys.queue(), this.keys.jobs(message.runId), this.keys.outcomes(message.runId)],
      [CONSUMER_GROUP, entryId, message.job],
    ) as Admission;
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
        message.retentionMs,
        this.keys.wake(message.replyTo),
        next?.consumer ?? "",
        next?.count ?? 0,
        this.keys.prefix,
      ],
    ) as [number, [string, unknown][], string[]];
    const entries: QueueEntry[] = [];
    (r[1] ?? []).forEach(([id, raw], i) => {
      const passed = r[2]?.[i] || undefined;
      if (raw) entries.push({ id, fields: toFields(raw), deliveries: 1, passed });
    });
    return { written: r[0] === 1, entries };
  }

  /**
   * Moves an entry to the dead-letter stream with the reason; when its job is known, records the
   * failed outcome for the producer.
   *
   * @param entry The entry.
   * @param reason Why.
   * @param worker The worker id.
   * @param notify Job, run and producer to tell, with the sealed outcome and how long to keep it.
   * @returns Whether it was moved (false: not pending any more).
   */
  async deadLetter(
    entry: QueueEntry,
    reason: string,
    worker: string,
    notify?: { runId: string; job: string; replyTo: string; sealed: string; keepMs: number },
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
        notify?.keepMs ?? 0,
        notify ? this.keys.wake(notify.replyTo) : "",
        this.#deadLetterMax,
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
}
