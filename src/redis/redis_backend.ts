/**
 * `redisBackend()`: runs a flow's tasks on worker processes through Redis. The backend enqueues
 * each task as a job and owns the connections; how it waits for the outcomes (pub/sub, polling,
 * lost jobs, no live worker) is `./waiting_jobs.ts`.
 *
 * @module
 */
export type { RedisBackendEvent, RedisBackendOptions } from "./redis_backend_options.ts";
import type { Redis } from "ioredis";
import type { Backend } from "../engine/run_options.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { Task } from "../graph/task.ts";
import type { TaskContext } from "../context/task_context.ts";
import { settleOutcome, toRemoteMessage } from "../context/remote_context.ts";
import { WorkflowError } from "../errors.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import { connectRedis, explainRedisError, within } from "./connection.ts";
import { CallServer } from "./context_calls.ts";
import type { RedisKeys } from "./keys.ts";
import { PrefixConfig } from "./prefix_config.ts";
import { quit, type RedisChannel, redisChannelOn } from "./redis_channel.ts";
import { Subscriber } from "./subscriber.ts";
import { RedisTaskQueue } from "./task_queue.ts";
import { RUN_FINISHED, RUNS_ABANDONED } from "./queue_scripts.ts";
import { Signer } from "./signing.ts";
import { decodeWake } from "./wake.ts";
import { type JobMessage, type OutcomeRecord, WIRE_VERSION } from "./wire.ts";
import { type Waiting, WaitingJobs } from "./waiting_jobs.ts";
import { type RedisFeedbackStore, redisFeedbackStoreOn } from "./redis_feedback_store.ts";
import {
  normalizeBackendOptions,
  type NormalizedBackendOptions,
  type RedisBackendEvent,
  type RedisBackendOptions,
} from "./redis_backend_options.ts";
import { sleep } from "../time/sleep.ts";

/** The Redis backend (see {@linkcode redisBackend}). */
export class RedisBackend implements Backend, AsyncDisposable {
  /** `"redis"`. */
  readonly name = "redis";
  /** Runs tasks on the workers. */
  readonly handler: TaskHandler;
  readonly #id: string = crypto.randomUUID().slice(0, 13);
  readonly #keys: RedisKeys;
  readonly #queue: RedisTaskQueue;
  readonly #signer: Signer;
  readonly #config: PrefixConfig;
  readonly #calls: CallServer;
  readonly #redis: Redis;
  readonly #o: NormalizedBackendOptions;
  readonly #jobs: WaitingJobs;
  #subscriber: Subscriber | undefined;
  #feedback: RedisFeedbackStore | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;

  /**
   * Creates the backend. Prefer {@linkcode redisBackend}.
   *
   * @param options Connection, prefix, secret, timings.
   * @throws {TypeError} When the URL or prefix is malformed, or there is no secret for a Redis
   * that is not on this machine (without `insecure`).
   * @throws {RangeError} When a timing is out of range.
   */
  constructor(options: RedisBackendOptions = {}) {
    const o = normalizeBackendOptions(options);
    this.#o = o;
    this.#keys = o.keys;
    this.#redis = connectRedis({ ...o.connection, connectionName: "graflow-producer" });
    this.#signer = new Signer(o.secret, this.#keys.prefix);
    this.#queue = new RedisTaskQueue(this.#redis, this.#keys, this.#signer);
    this.#config = new PrefixConfig(this.#redis, this.#keys, this.#signer);
    this.#calls = new CallServer(this.#redis, this.#keys, this.#signer, {
      retentionMs: o.retentionMs,
      job: (job) => {
        const w = this.#jobs.get(job);
        return w && { runId: w.message.runId, ctx: w.ctx };
      },
      onRefused: (message) => this.#emit("REFUSED", message),
    });
    this.#jobs = new WaitingJobs({
      options: o,
      queue: this.#queue,
      calls: this.#calls,
      signer: this.#signer,
      closed: () => this.#closed,
      // Housekeeping: its failure must not fail the jobs that wait.
      sweep: () =>
        this.#sweep().catch((error) =>
          this.#emit("ABANDONED_RUNS", `Cannot expire abandoned runs: ${error?.message ?? error}`)
        ),
      unavailable: (taskId, error) => this.#unavailable(taskId, error),
    });
    this.handler = { execute: (t, input, ctx) => this.#execute(t, input, ctx) };
    if (o.warning) this.#emit("UNSIGNED", o.warning);
  }

  #emit(code: RedisBackendEvent["code"], message: string): void {
    try {
      this.#o.onEvent?.({ type: "warning", code, message });
    } catch { /* a listener must not break the backend */ }
  }

  /**
   * The run's channel in Redis (shared with the workers).
   *
   * @param runId The run.
   * @returns A {@linkcode RedisChannel} on this backend's connection.
   */
  channel(runId: string): RedisChannel {
    return redisChannelOn(this.#redis, { prefix: this.#keys.prefix, runId });
  }

  /**
   * Feedback requests and answers in Redis (signed with the backend's secret, kept for its
   * retention).
   *
   * @returns A {@linkcode RedisFeedbackStore} on this backend's connection.
   */
  feedbackStore(): FeedbackStore {
    return this.#feedback ??= redisFeedbackStoreOn(this.#redis, this.#signer, {
      prefix: this.#keys.prefix,
      pollMs: this.#o.pollMs,
      retentionMs: this.#o.retentionMs,
    });
  }

  /**
   * Drops the run's queue bookkeeping and gives its channel the retention.
   *
   * @param runId The run.
   */
  async runFinished(runId: string): Promise<void> {
    if (this.#closed) return;
    // Best effort, and never long: a run's result must not wait for an unreachable Redis.
    await within(this.#expireRun(runId), 1000, "expiring the run's keys").catch(() => {});
  }

  async #expireRun(runId: string): Promise<void> {
    const k = this.#keys;
    await RUN_FINISHED.run(this.#redis, [
      k.jobs(runId),
      k.outcomes(runId),
      k.calls(runId),
      k.replies(runId),
      k.served(runId),
      k.channelIndex(runId),
      k.runs(),
    ], [this.#o.retentionMs, k.channelBase(runId), runId]);
  }

  /** Gives the runs of producers that died (not waited for during the retention) the retention. */
  async #sweep(): Promise<void> {
    const runs = await RUNS_ABANDONED.run(this.#redis, [this.#keys.runs()], [
      this.#o.retentionMs,
    ]) as string[];
    for (const runId of runs) await this.#expireRun(runId);
    if (runs.length) {
      this.#emit("ABANDONED_RUNS", `Expiring ${runs.length} abandoned run(s): ${runs.join(", ")}`);
    }
  }

  #start(): Promise<void> {
    return this.#ready ??= (async () => {
      this.#subscriber ??= new Subscriber(this.#redis);
      await this.#subscriber.on(this.#keys.wake(this.#id), this.#wakeHandler);
      if (this.#o.leaseMs !== undefined) await this.#config.setLease(this.#o.leaseMs);
    })().catch((error) => {
      this.#ready = undefined; // the next task tries again
      throw error;
    });
  }

  readonly #wakeHandler = (payload: string): void => this.#onWake(payload);

  async #execute(t: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    if (this.#closed) {
      throw new WorkflowError(`Cannot run task "${t.name}": the Redis backend is closed`, {
        code: "BACKEND_CLOSED",
      });
    }
    const message: JobMessage = {
      v: WIRE_VERSION,
      job: crypto.randomUUID(),
      replyTo: this.#id,
      ...toRemoteMessage(t, input, ctx),
      retentionMs: this.#o.retentionMs,
    };
    const signal = ctx.signal;
    signal.throwIfAborted();
    let w!: Waiting;
    const done = new Promise<OutcomeRecord>((resolve, reject) => {
      w = {
        message,
        ctx,
        entryId: "",
        requeues: 0,
        since: Date.now(),
        warned: false,
        resolve,
        reject,
      };
    });
    // It may be rejected (abort, close) while the entry is still being added, and then never
    // awaited when adding fails: never an unhandled rejection.
    done.catch(() => {});
    const onAbort = () => {
      this.#jobs.delete(w.message.job);
      if (w.entryId) this.#queue.cancel(w.entryId, w.message.job).catch(() => {});
      w.reject(signal.reason);
    };
    this.#jobs.add(w);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await this.#enqueue(w, signal);
      // Aborted while the entry was being added: take it back.
      if (signal.aborted) this.#queue.cancel(w.entryId, message.job).catch(() => {});
      this.#jobs.schedule();
      const record = await done;
      return await settleOutcome(ctx, record.outcome);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#jobs.delete(w.message.job);
    }
  }

  /**
   * Adds a job's entry. Enqueueing is idempotent, so a failure (a connection that dropped with
   * the command unanswered) is retried until Redis has been unreachable for `unavailableMs`.
   */
  async #enqueue(w: Waiting, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    for (let delay = 50;; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.#start();
        w.entryId = await this.#queue.enqueue(w.message);
        return;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (this.#closed || Date.now() - started + delay >= this.#o.unavailableMs) {
          throw this.#unavailable(w.message.taskId, error);
        }
        await sleep(delay, signal);
      }
    }
  }

  #unavailable(taskId: string, cause: unknown): WorkflowError {
    const error = explainRedisError(this.#redis, cause);
    return new WorkflowError(
      `Cannot run task "${taskId}": Redis at ${this.#o.safeUrl} is unavailable: ${
        (error as Error)?.message ?? error
      }`,
      { code: "REDIS_UNAVAILABLE", cause: error },
    );
  }

  #onWake(payload: string): void {
    const wake = decodeWake(payload);
    if (wake?.kind === "outcome") this.#jobs.settle(wake.job, wake.sealed);
    else if (wake?.kind === "call") this.#calls.serve(wake.runId, wake.callId, wake.sealed);
  }

  /** Stops waiting for outcomes and closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#jobs.close((w) =>
      new WorkflowError(`Cannot run task "${w.message.taskId}": the Redis backend was closed`, {
        code: "BACKEND_CLOSED",
      })
    );
    const errors: unknown[] = [];
    await this.#subscriber?.close().catch((e) => errors.push(e));
    await this.#feedback?.close().catch((e) => errors.push(e));
    await quit(this.#redis).catch((e) => errors.push(e));
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
 * Without a secret, Redis must be on this machine (or `insecure: true`): see `SECURITY.md`.
 *
 * @param options Connection, prefix, secret, timings.
 * @returns The backend; pass it as `run({ backend })`, close it when done.
 * @throws {TypeError} When the URL or prefix is malformed, or no secret is set for a Redis that
 * is not on this machine (without `insecure: true`).
 * @throws {RangeError} When a timing is out of range.
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
