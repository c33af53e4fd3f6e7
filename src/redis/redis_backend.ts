/**
 * `redisBackend()`: runs a flow's tasks on worker processes through Redis.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Backend } from "../engine/run_options.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { Task } from "../graph/task.ts";
import type { TaskContext } from "../context/task_context.ts";
import { serveContextCall, settleOutcome, toRemoteMessage } from "../context/remote_context.ts";
import { toErrorRecord, WorkflowError } from "../errors.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import {
  connectRedis,
  envVar,
  explainRedisError,
  type RedisConnectionOptions,
  redisUrl,
  safeUrl,
  within,
} from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { quit, RedisChannel } from "./redis_channel.ts";
import { Subscriber } from "./subscriber.ts";
import { RedisTaskQueue } from "./task_queue.ts";
import { seal, unseal } from "./signing.ts";
import {
  type CallRecord,
  type JobMessage,
  type OutcomeRecord,
  type ReplyRecord,
  WIRE_VERSION,
} from "./wire.ts";
import { RedisFeedbackStore } from "./redis_feedback_store.ts";

/** Options of {@linkcode redisBackend}. */
export interface RedisBackendOptions extends RedisConnectionOptions {
  /** Key prefix shared with the workers (`--prefix`). @default {"graflow"} */
  prefix?: string;
  /** HMAC secret shared with the workers (`--secret`). @default {env GRAFLOW_SECRET, else none} */
  secret?: string;
  /**
   * Lease of this prefix's queue: stored in Redis for workers started without `--lease-ms`.
   * @default {undefined} (the workers' own setting, 15 s by default)
   */
  leaseMs?: number;
  /** How often waiting jobs are checked besides pub/sub wake-ups. @default {1000} */
  pollMs?: number;
  /** How long Redis may be unreachable before waiting tasks fail. @default {30000} */
  unavailableMs?: number;
  /** How long uncollected outcomes and replies stay in Redis. @default {86400000} (1 day) */
  retentionMs?: number;
  /** How often a job lost by Redis (data loss) is enqueued again before failing. @default {3} */
  maxRequeues?: number;
  /** A connection to use (not closed by `close()`). @default {one opened from url} */
  redis?: Redis;
}

interface Waiting {
  message: JobMessage;
  ctx: TaskContext;
  entryId: string;
  requeues: number;
  since: number;
  resolve(record: OutcomeRecord): void;
  reject(error: unknown): void;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Cannot create redisBackend: ${name} must be a positive number, got ${v}`);
  }
  return v;
}

/** The Redis backend (see {@linkcode redisBackend}). */
export class RedisBackend implements Backend, AsyncDisposable {
  /** `"redis"`. */
  readonly name = "redis";
  /** Instance id (its wake channel). */
  readonly id: string = crypto.randomUUID().slice(0, 13);
  /** Runs tasks on the workers. */
  readonly handler: TaskHandler;
  /** Key names. */
  readonly keys: RedisKeys;
  /** The queue. */
  readonly queue: RedisTaskQueue;
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #url: string;
  readonly #secret: string | undefined;
  readonly #pollMs: number;
  readonly #unavailableMs: number;
  readonly #retention: number;
  readonly #maxRequeues: number;
  readonly #leaseMs: number | undefined;
  readonly #jobs = new Map<string, Waiting>();
  readonly #serving = new Set<string>();
  /** Runs whose tasks made context calls (their calls/replies hashes need deleting). */
  readonly #called = new Set<string>();
  #subscriber: Subscriber | undefined;
  #feedback: RedisFeedbackStore | undefined;
  #ready: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #downSince = 0;
  #closed = false;

  /**
   * Creates the backend. Prefer {@linkcode redisBackend}.
   *
   * @param options Connection, prefix, secret, timings.
   */
  constructor(options: RedisBackendOptions = {}) {
    this.keys = new RedisKeys(options.prefix);
    this.#url = options.redis ? "(given connection)" : safeUrl(redisUrl(options.url));
    this.#secret = options.secret ?? envVar("GRAFLOW_SECRET");
    this.#pollMs = positive("pollMs", options.pollMs, 1000);
    this.#unavailableMs = positive("unavailableMs", options.unavailableMs, 30_000);
    this.#retention = positive("retentionMs", options.retentionMs, 86_400_000);
    this.#maxRequeues = options.maxRequeues ?? 3;
    this.#leaseMs = options.leaseMs === undefined
      ? undefined
      : positive("leaseMs", options.leaseMs, 15_000);
    this.#owned = !options.redis;
    this.#redis = options.redis ?? connectRedis({ ...options, connectionName: "graflow-producer" });
    this.queue = new RedisTaskQueue(this.#redis, this.keys, {
      secret: this.#secret,
      retentionMs: this.#retention,
    });
    this.handler = { execute: (t, input, ctx) => this.#execute(t, input, ctx) };
  }

  /**
   * The run's channel in Redis (shared with the workers).
   *
   * @param runId The run.
   * @returns A {@linkcode RedisChannel} on this backend's connection.
   */
  channel(runId: string): RedisChannel {
    return new RedisChannel({ redis: this.#redis, prefix: this.keys.prefix, runId });
  }

  /**
   * Feedback requests and answers in Redis.
   *
   * @returns A {@linkcode RedisFeedbackStore} on this backend's connection.
   */
  feedbackStore(): FeedbackStore {
    return this.#feedback ??= new RedisFeedbackStore({
      redis: this.#redis,
      prefix: this.keys.prefix,
      pollMs: this.#pollMs,
    });
  }

  /**
   * Drops the run's queue bookkeeping (outcomes, calls, replies); its channel stays.
   *
   * @param runId The run.
   */
  async runFinished(runId: string): Promise<void> {
    if (this.#closed) return;
    // Calls and replies exist only for runs whose tasks made context calls.
    const keys = this.#called.delete(runId)
      ? [this.keys.outcomes(runId), this.keys.calls(runId), this.keys.replies(runId)]
      : [this.keys.outcomes(runId)];
    // Best effort, and never long: a run's result must not wait for an unreachable Redis.
    await within(this.#redis.del(...keys), 1000, "deleting the run's outcomes").catch(() => {});
  }

  #start(): Promise<void> {
    return this.#ready ??= (async () => {
      this.#subscriber = new Subscriber(this.#redis);
      await this.#subscriber.on(this.keys.wake(this.id), (m) => this.#onWake(m));
      if (this.#leaseMs !== undefined) await this.queue.setLease(this.#leaseMs);
    })();
  }

  async #execute(t: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    if (this.#closed) {
      throw new WorkflowError(`Cannot run task "${t.name}": the Redis backend is closed`, {
        code: "BACKEND_CLOSED",
      });
    }
    const message: JobMessage = {
      v: WIRE_VERSION,
      job: crypto.randomUUID(),
      replyTo: this.id,
      ...toRemoteMessage(t, input, ctx),
    };
    const signal = ctx.signal;
    signal.throwIfAborted();
    let waiting!: Waiting;
    const done = new Promise<OutcomeRecord>((resolve, reject) => {
      waiting = { message, ctx, entryId: "", requeues: 0, since: Date.now(), resolve, reject };
    });
    const onAbort = () => {
      this.#jobs.delete(message.job);
      if (waiting.entryId) this.queue.cancel(waiting.entryId, message.job).catch(() => {});
      waiting.reject(signal.reason);
    };
    this.#jobs.set(message.job, waiting);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      try {
        await this.#start();
        waiting.entryId = await this.queue.enqueue(message);
      } catch (error) {
        throw this.#unavailable(t.name, explainRedisError(this.#redis, error));
      }
      // Aborted while the entry was being added: take it back.
      if (signal.aborted) this.queue.cancel(waiting.entryId, message.job).catch(() => {});
      this.#schedulePoll();
      const record = await done;
      return await settleOutcome(ctx, record.outcome);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#jobs.delete(message.job);
    }
  }

  #unavailable(taskId: string, error: unknown): WorkflowError {
    return new WorkflowError(
      `Cannot run task "${taskId}": Redis at ${this.#url} is unavailable: ${
        (error as Error)?.message ?? error
      }`,
      { code: "REDIS_UNAVAILABLE", cause: error },
    );
  }

  #onWake(payload: string): void {
    const nl = payload.indexOf("\n");
    const kind = payload.slice(0, nl);
    const rest = payload.slice(nl + 1);
    if (kind === "o") {
      const nl2 = rest.indexOf("\n");
      this.#onOutcome(rest.slice(0, nl2), rest.slice(nl2 + 1));
    } else if (kind === "c") {
      const [runId, callId] = rest.split("\n", 2);
      this.#onCall(runId, callId, rest.slice(runId.length + callId.length + 2));
    }
  }

  #onOutcome(job: string, sealed: string): void {
    const w = this.#jobs.get(job);
    if (!w) return;
    this.#jobs.delete(job);
    const { text, valid } = unseal(sealed, this.#secret);
    let record: OutcomeRecord;
    try {
      record = JSON.parse(text);
    } catch {
      w.reject(
        new WorkflowError(
          `Cannot accept the outcome of task "${w.message.taskId}": it is not JSON`,
          { code: "BAD_OUTCOME" },
        ),
      );
      return;
    }
    if (!valid) {
      const said = record.outcome && !record.outcome.ok ? record.outcome.error?.message : undefined;
      w.reject(
        new WorkflowError(
          `Cannot accept the outcome of task "${w.message.taskId}": its signature does not match ` +
            `(do the workers use the same secret?)` + (said ? `; the worker said: ${said}` : ""),
          { code: "BAD_SIGNATURE" },
        ),
      );
      return;
    }
    w.resolve(record);
  }

  async #onCall(runId: string, callId: string, sealed: string): Promise<void> {
    if (this.#serving.has(callId)) return;
    this.#serving.add(callId);
    this.#called.add(runId);
    let reply: ReplyRecord;
    let replyTo: string | undefined;
    try {
      await this.#redis.hdel(this.keys.calls(runId), callId);
      const { text, valid } = unseal(sealed, this.#secret);
      if (!valid) throw new WorkflowError("Cannot serve a context call: bad signature");
      const rec = JSON.parse(text) as CallRecord;
      replyTo = rec.replyTo;
      const w = this.#jobs.get(rec.job);
      if (!w) throw new WorkflowError(`Cannot serve a context call: job ${rec.job} is not running`);
      reply = { ok: true, value: await serveContextCall(w.ctx, rec.call) };
    } catch (error) {
      reply = { ok: false, error: toErrorRecord(error) };
    }
    if (replyTo) {
      const out = seal(JSON.stringify(reply), this.#secret);
      await this.#redis.multi()
        .hset(this.keys.replies(runId), callId, out)
        .pexpire(this.keys.replies(runId), this.#retention)
        .publish(this.keys.wake(replyTo), `r\n${callId}\n${out}`)
        .exec().catch(() => {});
    }
    setTimeout(() => this.#serving.delete(callId), 60_000).unref?.();
  }

  #schedulePoll(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.#poll();
      } finally {
        this.#timer = undefined;
        if (this.#jobs.size > 0) this.#schedulePoll();
      }
    }, this.#pollMs);
  }

  async #poll(): Promise<void> {
    const now = Date.now();
    const due: Waiting[] = [];
    for (const w of this.#jobs.values()) {
      if (w.entryId && now - w.since >= this.#pollMs / 2) due.push(w);
    }
    try {
      if (due.length) {
        await within(this.#check(due), this.#unavailableMs, "checking the waiting jobs");
      }
      this.#downSince = 0;
    } catch (error) {
      this.#downSince ||= now;
      if (Date.now() - this.#downSince >= this.#unavailableMs) {
        for (const w of [...this.#jobs.values()]) {
          this.#jobs.delete(w.message.job);
          w.reject(this.#unavailable(w.message.taskId, explainRedisError(this.#redis, error)));
        }
      }
    }
  }

  /** One script for every due job: outcomes missed by pub/sub, lost jobs, waiting calls. */
  async #check(due: Waiting[]): Promise<void> {
    for (let i = 0; i < due.length; i += 1000) {
      const batch = due.slice(i, i + 1000);
      const { states, runsWithCalls } = await this.queue.check(
        batch.map((w) => ({ runId: w.message.runId, job: w.message.job, entryId: w.entryId })),
      );
      for (const [k, s] of states.entries()) {
        const w = batch[k];
        if (s.state === "done") this.#onOutcome(w.message.job, s.sealed);
        else if (s.state === "lost" && this.#jobs.has(w.message.job)) await this.#requeue(w);
      }
      for (const runId of runsWithCalls) {
        const calls = await this.#redis.hgetall(this.keys.calls(runId));
        for (const [callId, sealed] of Object.entries(calls)) this.#onCall(runId, callId, sealed);
      }
    }
  }

  async #requeue(w: Waiting): Promise<void> {
    if (++w.requeues > this.#maxRequeues) {
      this.#jobs.delete(w.message.job);
      w.reject(
        new WorkflowError(
          `Cannot run task "${w.message.taskId}": Redis lost its job ${w.requeues} times ` +
            `(was Redis restarted without persistence?)`,
          { code: "JOB_LOST" },
        ),
      );
      return;
    }
    w.entryId = await this.queue.enqueue(w.message);
    w.since = Date.now();
  }

  /** Stops waiting for outcomes and closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of this.#jobs.values()) {
      w.reject(
        new WorkflowError(`Cannot run task "${w.message.taskId}": the Redis backend was closed`, {
          code: "BACKEND_CLOSED",
        }),
      );
    }
    this.#jobs.clear();
    const errors: unknown[] = [];
    await this.#subscriber?.close().catch((e) => errors.push(e));
    await this.#feedback?.close().catch((e) => errors.push(e));
    if (this.#owned) await quit(this.#redis).catch((e) => errors.push(e));
    if (errors.length) throw errors[0];
  }

  /** Same as {@linkcode RedisBackend.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A backend that runs a flow's tasks on worker processes (`workers/main.ts`) through Redis:
 * each task becomes a job on a Redis Stream; the run waits for its outcome (pub/sub wake-up plus
 * polling, no fixed timeout) and applies what the task asked for (`next`, `nextIteration`,
 * `terminate`, `cancel`, deferred checkpoints). The run's channel lives in Redis.
 *
 * @param options Connection, prefix, secret, timings.
 * @returns The backend; pass it as `run({ backend })`, close it when done.
 * @throws {TypeError} When the URL or prefix is malformed.
 * @throws {RangeError} When a timing is not a positive number.
 *
 * @example Running a flow on Redis workers
 * ```ts ignore
 * import { flow } from "@graflow/graflow";
 * import { redisBackend } from "@graflow/graflow/redis";
 * await using backend = redisBackend({ url: "redis://127.0.0.1:6379", secret: "s3cret" });
 * const result = await flow`fetch >> (clean | enrich) >> merge`.run({ backend });
 * ```
 */
export function redisBackend(options: RedisBackendOptions = {}): RedisBackend {
  return new RedisBackend(options);
}
