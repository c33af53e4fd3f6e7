/**
 * `GraflowWorker`: a worker process's loop (started by `runWorker()`). Reserve jobs from the
 * Redis queue (blocking, batched), admit each (signature, replay, task known), run its task,
 * record its outcome and acknowledge in one step; renew leases while tasks run; reclaim the jobs
 * of dead workers; dead-letter poison messages; announce itself and follow the prefix's lease;
 * on stop, finish in-flight tasks within the grace period and hand back the rest at once. The
 * entries it holds are counted in `./worker_slots.ts`, its lease kept by `./worker_lease.ts`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { type AdmitContext, admitEntry, deadLetterNotice } from "./admit_entry.ts";
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
import { type Running, WorkerSlots } from "./worker_slots.ts";
import { WorkerLease } from "./worker_lease.ts";

/** The exemplar of a job: the trace of the attempt that enqueued it. */
function exemplar(message: JobMessage): { traceId: string; spanId: string } | undefined {
  if (!message.trace) return undefined;
  const sc = parseTraceparent(message.trace);
  return { traceId: sc.traceId, spanId: sc.spanId };
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
  readonly #slots: WorkerSlots;
  readonly #lease: WorkerLease;
  readonly #channels = new Map<string, RedisChannel>();
  #heartbeat = Date.now();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
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
        onLease: (ms) => this.#lease.change(ms),
        onWarning: (message) => this.#emit({ type: "warning", workerId: this.id, message }),
      },
    );
    const slots = this.#slots = new WorkerSlots(o.concurrency, o.prefetch);
    this.#lease = new WorkerLease({
      workerId: this.id,
      queue: this.#queue,
      slots,
      metrics: this.metrics,
      stopping: () => this.#stopping,
      accept: (entries) => this.#accept(entries),
      recover: (error) => this.#recover(error),
      emit: (e) => this.#emit(e),
    }, o.leaseMs ?? 15_000);
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
    this.#lease.ms = (await this.#presence.initialLease()) ?? this.#lease.ms;
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
    this.#lease.start();
    this.#loop = this.#consume();
    this.#emit({ type: "started", workerId: this.id, leaseMs: this.#lease.ms, port: this.port });
    this.#o.signal?.addEventListener("abort", () => this.stop(), { once: true });
    this.#lease.reclaim();
  }

  /** The lease in use. */
  get leaseMs(): number {
    return this.#lease.ms;
  }

  async #consume(): Promise<void> {
    let backoff = 100;
    while (!this.#stopping) {
      this.#heartbeat = Date.now();
      const free = this.#slots.free;
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

  /** After a failed Redis call: recreate the group when Redis lost it (restart without data). */
  async #recover(error: unknown): Promise<void> {
    const message = String((error as Error)?.message ?? error);
    if (message.includes("NOGROUP")) await this.#queue.ensureGroup().catch(() => {});
    else this.#emit({ type: "error", workerId: this.id, error: message });
  }

  #accept(entries: QueueEntry[]): void {
    this.#slots.accept(entries);
    this.#drain();
  }

  #drain(): void {
    while (!this.#stopping) {
      const r = this.#slots.next();
      if (!r) return;
      this.#start(r);
    }
  }

  #onControl(payload: string): void {
    const wake = decodeWake(payload);
    if (wake?.kind === "cancel") this.#slots.cancel(wake.job);
    else if (wake?.kind === "handback") this.#lease.reclaim();
    else if (wake?.kind === "config") this.#presence.refresh().catch(() => {});
  }

  #start(r: Running): void {
    this.metrics.inFlight = this.#slots.running;
    this.#process(r).catch((error) => {
      this.#emit({ type: "error", workerId: this.id, error: String(error?.message ?? error) });
    }).finally(() => {
      this.#slots.release(r);
      this.#drain();
      this.metrics.inFlight = this.#slots.running;
      this.#slotFreed?.();
    });
  }

  async #process(r: Running): Promise<void> {
    const { entry } = r;
    const admitted = await admitEntry(entry, this.#admitContext(r));
    if ("poison" in admitted) return this.#poison(r, admitted.poison, admitted.verified);
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
    if (!this.#slots.admitted(r, message.job)) return; // cancelled: its entry is gone already
    const waited = this.#slots.waited(entry);
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
    const next = !this.#stopping && this.#slots.free <= 0
      ? { consumer: this.id, count: 1 }
      : undefined;
    // The slot is free while the outcome is written: the next task starts now.
    this.#slots.writing(r);
    this.#drain();
    let reserved: QueueEntry[] = [];
    try {
      await this.#retry(async () => {
        reserved = (await this.#queue.finish(entry.id, message, sealed, next)).entries;
      }, r);
    } finally {
      this.#slots.written();
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

  async #poison(r: Running, reason: string, verified?: JobMessage): Promise<void> {
    const entry = r.entry;
    const notify = deadLetterNotice(entry, reason, this.id, this.#signer, verified);
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
      inFlight: this.#slots.running,
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
    this.#lease.stop();
    this.#blocking.disconnect();
    this.#slotFreed?.();
    const deadline = Date.now() + this.#o.graceMs;
    while (this.#slots.busy && Date.now() < deadline) await sleep(20);
    this.#slots.handBack(); // the entries stay pending to this consumer: handed back below
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
