/**
 * `GraflowWorker`: a worker process's loop (started by `runWorker()`). Reserve jobs from the
 * Redis queue (blocking, batched), admit each (signature, replay, task known), run its task,
 * record its outcome and acknowledge in one step; renew leases while tasks run; reclaim the jobs
 * of dead workers; dead-letter poison messages; announce itself and follow the prefix's lease;
 * on stop, finish in-flight tasks within the grace period and hand back the rest at once.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { type AdmitContext, admitEntry, deadLetterNotice } from "./admit_entry.ts";
import { WorkflowError } from "../errors.ts";
import { connectRedis, explainRedisError, within } from "../redis/connection.ts";
import { CallClient } from "../redis/context_calls.ts";
import { RedisKeys } from "../redis/keys.ts";
import { PrefixConfig } from "../redis/prefix_config.ts";
import { quit, type RedisChannel, redisChannelOn } from "../redis/redis_channel.ts";
import { Signer } from "../redis/signing.ts";
import { Subscriber } from "../redis/subscriber.ts";
import { type QueueEntry, RedisTaskQueue } from "../redis/task_queue.ts";
import { decodeWake, encodeWake } from "../redis/wake.ts";
import type { JobMessage } from "../redis/wire.ts";
import type { ModuleAllowlist } from "./module_allowlist.ts";
import { prepareWorker, runJob, sealOutcome } from "./run_job.ts";
import { WorkerMetrics } from "./worker_metrics.ts";
import { WorkerPresence } from "./worker_presence.ts";
import type { NormalizedWorkerOptions } from "./worker_options.ts";
import { serveMetrics } from "./metrics_server.ts";
import { checkHealth, type WorkerHealth } from "./worker_health.ts";
import type { MetricsFormat } from "../observability/metrics_registry.ts";
import { graflowMetrics } from "../observability/run_metrics.ts";
import { parseTraceparent } from "../observability/otel.ts";

import type { WorkerEvent } from "./worker_options.ts";
import { sleep } from "../time/sleep.ts";

/** How long each reserved entry waited in the stream before this worker reserved it (ms). */
const queueWaits = new WeakMap<QueueEntry, number>();

/** The exemplar of a job: the trace of the attempt that enqueued it. */
function exemplar(message: JobMessage): { traceId: string; spanId: string } | undefined {
  if (!message.trace) return undefined;
  const sc = parseTraceparent(message.trace);
  return { traceId: sc.traceId, spanId: sc.spanId };
}

interface Running {
  entry: QueueEntry;
  job?: string;
  controller: AbortController;
  /** Set when the outcome must not be written (cancelled, lease lost, handed back). */
  dropped?: string;
}

/** A running worker (see {@linkcode runWorker}). */
export class GraflowWorker implements AsyncDisposable {
  /** Worker id (its consumer name in the group). */
  readonly id: string;
  /** Counters. */
  readonly metrics: WorkerMetrics = new WorkerMetrics();
  /** Settles when the worker has stopped. */
  readonly finished: Promise<void>;
  /** Port of the metrics server, when one runs. */
  port: number | undefined;
  readonly #o: NormalizedWorkerOptions;
  readonly #redis: Redis;
  readonly #blocking: Redis;
  readonly #subscriber: Subscriber;
  readonly #queue: RedisTaskQueue;
  readonly #keys: RedisKeys;
  readonly #signer: Signer;
  readonly #calls: CallClient;
  readonly #presence: WorkerPresence;
  #allowlist: ModuleAllowlist | undefined;
  #leaseTimers: ReturnType<typeof setInterval>[] = [];
  readonly #running = new Map<string, Running>();
  readonly #byJob = new Map<string, Running>();
  readonly #channels = new Map<string, RedisChannel>();
  #leaseMs: number;
  #heartbeat = Date.now();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
  /** Reserved entries waiting for a free slot (prefetch). */
  readonly #buffer: QueueEntry[] = [];
  /** Tasks done whose outcome is being written. */
  #finishing = 0;
  /** Jobs cancelled by their run (recent ones), so that buffered entries are skipped. */
  readonly #cancelled = new Set<string>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #server: { shutdown(): Promise<void> } | undefined;
  #loop: Promise<void> | undefined;
  #resolveFinished!: () => void;
  #wakeStop!: () => void;
  readonly #stopWake: Promise<null> = new Promise((r) => this.#wakeStop = () => r(null));

  /** @internal Use {@linkcode runWorker}. */
  constructor(o: NormalizedWorkerOptions) {
    this.#o = o;
    this.id = o.workerId;
    this.#keys = new RedisKeys(o.prefix);
    this.#redis = connectRedis({ ...o, connectionName: `graflow-worker:${o.workerId}` });
    this.#blocking = this.#redis.duplicate();
    this.#blocking.on("error", () => {});
    this.#subscriber = new Subscriber(this.#redis);
    this.#signer = new Signer(o.secret, this.#keys.prefix);
    this.#queue = new RedisTaskQueue(this.#redis, this.#keys, this.#signer, o.deadLetterMax);
    this.#calls = new CallClient(this.#redis, this.#keys, this.#signer, this.id, o.pollMs);
    const config = new PrefixConfig(this.#redis, this.#keys, this.#signer);
    this.#presence = new WorkerPresence(
      this.#redis,
      this.#keys,
      config,
      this.id,
      o.leaseMs === undefined,
      {
        onLease: (ms) => this.#setLease(ms),
        onWarning: (message) => this.#emit({ type: "warning", workerId: this.id, message }),
      },
    );
    this.#leaseMs = o.leaseMs ?? 15_000;
    this.finished = new Promise((r) => this.#resolveFinished = r);
  }

  #emit(e: WorkerEvent): void {
    try {
      this.#o.onEvent?.(e);
    } catch { /* listeners must not break the worker */ }
  }

  /** @internal Connects, imports modules, starts the loops. */
  async start(): Promise<void> {
    this.#allowlist = await prepareWorker(this.#o);
    await this.#redis.ping().catch((error) => {
      throw explainRedisError(this.#redis, error);
    });
    const warning = this.#o.transportWarning;
    if (warning) this.#emit({ type: "warning", workerId: this.id, message: warning });
    this.#leaseMs = (await this.#presence.initialLease()) ?? this.#leaseMs;
    await this.#queue.ensureGroup();
    await this.#subscriber.on(this.#keys.control(), (m) => this.#onControl(m));
    await this.#subscriber.on(this.#keys.wake(this.id), (m) => {
      const wake = decodeWake(m);
      if (wake?.kind === "reply") this.#calls.onReply(wake.callId, wake.sealed);
    });
    // Entries this consumer name held in an earlier life: give them to anyone at once.
    await this.#queue.handBack(this.id, await this.#queue.pendingOf(this.id));
    await this.#presence.start();
    if (this.#o.metricsPort !== undefined) {
      graflowMetrics.enable();
      const s = serveMetrics(this, this.#o.metricsPort, this.#o.metricsHostname);
      this.#server = s;
      this.port = s.port;
    }
    this.#startLeaseTimers();
    // Consumers of workers that died stay in the group (empty once reclaimed): prune them.
    this.#timers.push(setInterval(() => {
      this.#queue.pruneConsumers(Math.max(60_000, 10 * this.#leaseMs)).catch(() => {});
    }, 60_000));
    this.#loop = this.#consume();
    this.#emit({ type: "started", workerId: this.id, leaseMs: this.#leaseMs, port: this.port });
    this.#o.signal?.addEventListener("abort", () => this.stop(), { once: true });
    this.#reclaim();
  }

  /** Reclaiming and renewing follow the lease. */
  #startLeaseTimers(): void {
    for (const t of this.#leaseTimers) clearInterval(t);
    this.#leaseTimers = [
      setInterval(() => this.#reclaim(), Math.min(this.#leaseMs / 2, 500)),
      setInterval(() => this.#renew(), Math.max(50, this.#leaseMs / 3)),
    ];
  }

  #setLease(leaseMs: number): void {
    if (this.#stopping || leaseMs === this.#leaseMs) return;
    this.#leaseMs = leaseMs;
    this.#startLeaseTimers();
    this.#emit({ type: "lease", workerId: this.id, leaseMs });
  }

  /** The lease in use. */
  get leaseMs(): number {
    return this.#leaseMs;
  }

  async #consume(): Promise<void> {
    let backoff = 100;
    while (!this.#stopping) {
      this.#heartbeat = Date.now();
      const free = this.#capacity() - this.#holding();
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          this.#slotFreed = () => (clearTimeout(t), resolve());
        });
        continue;
      }
      try {
        // A read queued while Redis is away may never settle: the stop must not wait for it.
        const entries = await Promise.race([
          this.#queue.reserve(this.#blocking, this.id, free, this.#o.blockMs),
          this.#stopWake,
        ]);
        backoff = 100;
        this.#accept(entries ?? []);
      } catch (error) {
        if (this.#stopping) break;
        await this.#recover(error);
        await Promise.race([sleep(backoff), this.#stopWake]);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  async #reclaim(): Promise<void> {
    const free = this.#capacity() - this.#holding();
    if (this.#stopping || free <= 0) return;
    try {
      const entries = await this.#queue.reclaim(this.id, this.#leaseMs, free);
      for (const e of entries) {
        this.metrics.reclaims++;
        this.#emit({ type: "reclaimed", workerId: this.id, entry: e.id, deliveries: e.deliveries });
      }
      this.#accept(entries);
    } catch (error) {
      await this.#recover(error); // the next tick tries again
    }
  }

  /** After a failed Redis call: recreate the group when Redis lost it (restart without data). */
  async #recover(error: unknown): Promise<void> {
    const message = String((error as Error)?.message ?? error);
    if (message.includes("NOGROUP")) await this.#queue.ensureGroup().catch(() => {});
    else this.#emit({ type: "error", workerId: this.id, error: message });
  }

  /** Entries held: running, buffered, and being finished. */
  #holding(): number {
    return this.#running.size + this.#buffer.length + this.#finishing;
  }

  /** How many entries the worker holds at most: concurrency plus prefetch. */
  #capacity(): number {
    return this.#o.concurrency + this.#o.prefetch;
  }

  #accept(entries: QueueEntry[]): void {
    const now = Date.now();
    for (const e of entries) {
      // The stream entry id starts with the Redis server's time of the XADD (milliseconds).
      const added = Number(e.id.slice(0, e.id.indexOf("-")));
      if (e.deliveries === 1 && added > 0) queueWaits.set(e, Math.max(0, now - added));
      if (!this.#running.has(e.id) && !this.#buffer.some((b) => b.id === e.id)) {
        this.#buffer.push(e);
      }
    }
    this.#drain();
  }

  #drain(): void {
    while (!this.#stopping && this.#running.size < this.#o.concurrency && this.#buffer.length) {
      this.#start(this.#buffer.shift()!);
    }
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys(), ...this.#buffer.map((e) => e.id)];
    if (!ids.length) return;
    try {
      for (const id of await this.#queue.renew(this.id, ids)) {
        const i = this.#buffer.findIndex((e) => e.id === id);
        if (i >= 0) this.#buffer.splice(i, 1);
        const r = this.#running.get(id);
        if (r && !r.dropped) {
          r.dropped = "lease lost";
          r.controller.abort(
            new WorkflowError("Task stopped: this worker lost its lease", { code: "LEASE_LOST" }),
          );
        }
      }
    } catch (error) {
      await this.#recover(error);
    }
  }

  #onControl(payload: string): void {
    const wake = decodeWake(payload);
    if (wake?.kind === "cancel") {
      const job = wake.job;
      this.#cancelled.add(job);
      if (this.#cancelled.size > 10_000) {
        this.#cancelled.delete(this.#cancelled.values().next().value!);
      }
      const r = this.#byJob.get(job);
      if (r && !r.dropped) {
        r.dropped = "cancelled";
        r.controller.abort(
          new WorkflowError("Task canceled by its run", { code: "TASK_CANCELED" }),
        );
      }
    } else if (wake?.kind === "handback") this.#reclaim();
    else if (wake?.kind === "config") this.#presence.refresh().catch(() => {});
  }

  #start(entry: QueueEntry): void {
    if (this.#running.has(entry.id)) return;
    const r: Running = { entry, controller: new AbortController() };
    this.#running.set(entry.id, r);
    this.metrics.inFlight = this.#running.size;
    this.#process(r).catch((error) => {
      this.#emit({ type: "error", workerId: this.id, error: String(error?.message ?? error) });
    }).finally(() => {
      this.#running.delete(entry.id);
      if (r.job) this.#byJob.delete(r.job);
      this.#drain();
      this.metrics.inFlight = this.#running.size;
      this.#slotFreed?.();
    });
  }

  async #process(r: Running): Promise<void> {
    const { entry } = r;
    const admitted = await admitEntry(entry, this.#admitContext(r));
    if ("poison" in admitted) return this.#poison(entry, admitted.poison, admitted.verified);
    if ("drop" in admitted) {
      if (r.dropped) return; // stopping: the entry is handed back
      this.metrics.dropped++;
      const job = admitted.message.job;
      this.#emit({
        type: "dropped",
        workerId: this.id,
        entry: entry.id,
        job,
        reason: admitted.drop,
      });
      return;
    }
    const message = admitted.message;
    if (this.#cancelled.has(message.job)) return; // its entry is gone already
    r.job = message.job;
    this.#byJob.set(message.job, r);
    const waited = queueWaits.get(entry);
    if (waited !== undefined) {
      graflowMetrics.queueWait(message.taskId, waited / 1000, exemplar(message));
    }
    const started = performance.now();
    const signal = r.controller.signal;
    const outcome = await runJob(message, {
      call: (c) => this.#calls.call(message, c, signal),
      signal,
      channel: this.#channel(message.runId),
      where: "redis",
      spanAttributes: {
        "graflow.worker.id": this.id,
        ...(waited !== undefined ? { "graflow.queue.wait_ms": waited } : {}),
      },
    });
    this.metrics.observe((performance.now() - started) / 1000);
    if (r.dropped) return;
    const sealed = sealOutcome(this.#signer, this.id, message, outcome);
    // A full worker reserves its next task in the same step (the consume loop is not reading:
    // it waits for a free slot).
    const next = !this.#stopping && this.#holding() >= this.#capacity()
      ? { consumer: this.id, count: 1 }
      : undefined;
    // The slot is free while the outcome is written: the next task starts now.
    this.#running.delete(entry.id);
    this.#finishing++;
    this.#drain();
    let reserved: QueueEntry[] = [];
    try {
      await this.#retry(async () => {
        reserved = (await this.#queue.finish(entry.id, message, sealed, next)).entries;
      }, r);
    } finally {
      this.#finishing--;
    }
    this.#accept(reserved);
    this.metrics.processed++;
    if (outcome.ok) this.metrics.succeeded++;
    else this.metrics.failed++;
    if (message.attempt > 1) this.metrics.retried++;
  }

  #admitContext(r: Running): AdmitContext {
    return {
      signer: this.#signer,
      maxDeliveries: this.#o.maxDeliveries,
      allowlist: this.#allowlist!,
      workerId: this.id,
      admit: async (id, message) => {
        let verdict!: Awaited<ReturnType<RedisTaskQueue["admit"]>>;
        await this.#retry(async () => verdict = await this.#queue.admit(id, message), r);
        return r.dropped ? "unknown" : verdict;
      },
      log: (error) => this.#emit({ type: "error", workerId: this.id, error }),
    };
  }

  /** Retries a Redis write until it succeeds or the outcome must be dropped. */
  async #retry(write: () => Promise<unknown>, r: Running): Promise<void> {
    for (let delay = 50;; delay = Math.min(delay * 2, 1000)) {
      try {
        await write();
        return;
      } catch (error) {
        if (r.dropped) return;
        await this.#recover(error);
        await sleep(delay);
      }
    }
  }

  async #poison(entry: QueueEntry, reason: string, verified?: JobMessage): Promise<void> {
    const notify = deadLetterNotice(entry, reason, this.id, this.#signer, verified);
    const r = this.#running.get(entry.id)!;
    await this.#retry(() => this.#queue.deadLetter(entry, reason, this.id, notify), r);
    this.metrics.deadLettered++;
    this.#emit({ type: "dead-lettered", workerId: this.id, entry: entry.id, reason });
  }

  #channel(runId: string): RedisChannel {
    let ch = this.#channels.get(runId);
    if (!ch) {
      if (this.#channels.size >= 1000) this.#channels.clear();
      ch = redisChannelOn(this.#redis, { prefix: this.#keys.prefix, runId });
      this.#channels.set(runId, ch);
    }
    return ch;
  }

  /**
   * Checks Redis and the consume loop.
   *
   * @returns The report.
   */
  health(): Promise<WorkerHealth> {
    return checkHealth({
      ping: () => this.#redis.ping(),
      heartbeat: this.#heartbeat,
      stopping: this.#stopping,
      blockMs: this.#o.blockMs,
      inFlight: this.#running.size,
    });
  }

  /**
   * The metrics exposition: this worker's (with the queue depth when Redis answers), then the
   * run and task metrics of this process (`graflowMetrics`: queue waits, and the runs an
   * orchestrator in this process drives).
   *
   * @param format Prometheus text or OpenMetrics text. @default {"prometheus"}
   * @returns The text.
   */
  async metricsText(format: MetricsFormat = "prometheus"): Promise<string> {
    const depth = await this.#queue.depth().catch(() => undefined);
    return this.metrics.render({ worker: this.id }, depth, format) +
      await graflowMetrics.registry.render(format);
  }

  /**
   * Stops gracefully: no new reservations; in-flight tasks get `graceMs` to finish; the rest are
   * aborted and handed back at once; then the connections close.
   *
   * @returns Resolves once stopped.
   */
  stop(): Promise<void> {
    return this.#stopped ??= this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#wakeStop();
    for (const t of [...this.#timers, ...this.#leaseTimers]) clearInterval(t);
    this.#blocking.disconnect();
    this.#slotFreed?.();
    const deadline = Date.now() + this.#o.graceMs;
    while ((this.#running.size > 0 || this.#finishing > 0) && Date.now() < deadline) {
      await sleep(20);
    }
    this.#buffer.length = 0; // still pending to this consumer: handed back below
    const unfinished = [...this.#running.values()];
    for (const r of unfinished) {
      r.dropped = "handed back";
      r.controller.abort(
        new WorkflowError("Task stopped: the worker is shutting down", { code: "WORKER_SHUTDOWN" }),
      );
    }
    let n = 0;
    try {
      // When Redis is away the hand-back cannot happen: the lease returns the entries later.
      await within(
        (async () => {
          await this.#presence.stop();
          n = await this.#queue.handBack(this.id, await this.#queue.pendingOf(this.id));
          this.metrics.handedBack += n;
          if (n) await this.#redis.publish(this.#keys.control(), encodeWake({ kind: "handback" }));
          await this.#queue.removeConsumer(this.id);
        })(),
        3000,
        "handing back unfinished tasks",
      );
    } catch (error) {
      this.#emit({ type: "error", workerId: this.id, error: String((error as Error)?.message) });
    }
    this.#emit({ type: "stopped", workerId: this.id, handedBack: n });
    await this.#loop?.catch(() => {});
    this.#calls.close();
    await within(this.#server?.shutdown() ?? Promise.resolve(), 1000, "closing the metrics server")
      .catch(() => {});
    await this.#subscriber.close().catch(() => {});
    await quit(this.#redis).catch(() => {});
    this.#resolveFinished();
  }

  /** Same as {@linkcode GraflowWorker.stop}. Idempotent. */
  close(): Promise<void> {
    return this.stop();
  }

  /** Same as {@linkcode GraflowWorker.stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
