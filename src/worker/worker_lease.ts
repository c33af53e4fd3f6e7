/**
 * The lease side of a worker: an entry not renewed within the lease is another worker's to take.
 * The worker renews every entry it holds (every third of the lease, at most every 50 ms) and
 * drops those whose lease it lost; it reclaims the entries of dead workers (every half lease, at
 * least every 500 ms, and when a worker hands entries back); and it prunes the consumers dead
 * workers left in the group (every minute). A lease change (the prefix's lease, followed by
 * `WorkerPresence`) restarts the timers. `GraflowWorker` owns one.
 *
 * @module
 */
import type { QueueEntry, RedisTaskQueue } from "../redis/task_queue.ts";
import type { WorkerMetrics } from "./worker_metrics.ts";
import type { WorkerEvent } from "./worker_options.ts";
import type { WorkerSlots } from "./worker_slots.ts";

/** What {@linkcode WorkerLease} needs of its worker. */
export interface LeasePort {
  /** The worker id (its consumer name). */
  readonly workerId: string;
  /** The queue. */
  readonly queue: RedisTaskQueue;
  /** The entries the worker holds. */
  readonly slots: WorkerSlots;
  /** The worker's counters. */
  readonly metrics: WorkerMetrics;
  /** Whether the worker is stopping. */
  stopping(): boolean;
  /** Takes reclaimed entries (and starts what it can). */
  accept(entries: QueueEntry[]): void;
  /** Handles a failed Redis call. */
  recover(error: unknown): Promise<void>;
  /** Emits a worker event. */
  emit(event: WorkerEvent): void;
}

/** A worker's lease: renewing, reclaiming, pruning. */
export class WorkerLease {
  readonly #port: LeasePort;
  #ms: number;
  #timers: ReturnType<typeof setInterval>[] = [];
  #prune: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates the lease (no timers run yet).
   *
   * @param port The worker.
   * @param ms The lease to start with.
   */
  constructor(port: LeasePort, ms: number) {
    this.#port = port;
    this.#ms = ms;
  }

  /** The lease in use (ms). */
  get ms(): number {
    return this.#ms;
  }

  /**
   * Sets the lease the worker starts with (before {@linkcode WorkerLease.start}).
   *
   * @param ms The lease.
   */
  set ms(ms: number) {
    this.#ms = ms;
  }

  /** Starts renewing, reclaiming and pruning. */
  start(): void {
    this.#restart();
    // Consumers of workers that died stay in the group (empty once reclaimed): prune them.
    this.#prune = setInterval(() => {
      this.#port.queue.pruneConsumers(Math.max(60_000, 10 * this.#ms)).catch(() => {});
    }, 60_000);
  }

  /**
   * Follows a lease change (ignored while stopping).
   *
   * @param ms The new lease.
   */
  change(ms: number): void {
    if (this.#port.stopping() || ms === this.#ms) return;
    this.#ms = ms;
    this.#restart();
    this.#port.emit({ type: "lease", workerId: this.#port.workerId, leaseMs: ms });
  }

  /** Stops every timer. */
  stop(): void {
    clearInterval(this.#prune);
    for (const t of this.#timers) clearInterval(t);
  }

  /**
   * Reclaims the entries of dead workers, as many as the worker has room for.
   *
   * @returns Resolves when done (a failure is handled: the next tick tries again).
   */
  async reclaim(): Promise<void> {
    const port = this.#port;
    const free = port.slots.free;
    if (port.stopping() || free <= 0) return;
    try {
      const entries = await port.queue.reclaim(port.workerId, this.#ms, free);
      for (const e of entries) {
        port.metrics.reclaims++;
        port.emit({
          type: "reclaimed",
          workerId: port.workerId,
          entry: e.id,
          deliveries: e.deliveries,
        });
      }
      port.accept(entries);
    } catch (error) {
      await port.recover(error); // the next tick tries again
    }
  }

  /** Reclaiming and renewing follow the lease. */
  #restart(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [
      setInterval(() => this.reclaim(), Math.min(this.#ms / 2, 500)),
      setInterval(() => this.#renew(), Math.max(50, this.#ms / 3)),
    ];
  }

  async #renew(): Promise<void> {
    const port = this.#port;
    const ids = port.slots.held();
    if (!ids.length) return;
    try {
      for (const id of await port.queue.renew(port.workerId, ids)) port.slots.lost(id);
    } catch (error) {
      await port.recover(error);
    }
  }
}
