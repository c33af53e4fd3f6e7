/**
 * The queue entries a worker holds, and the bound on them (`concurrency` running plus
 * `prefetch` reserved ahead): entries running a task (by entry id, and by job once admitted),
 * entries reserved ahead that wait for a free slot, and entries whose outcome is being written.
 * Jobs cancelled by their run are remembered (the latest 10,000) so that their buffered entries
 * are skipped. Dropping a held entry (its run cancelled it, the worker lost its lease, or it
 * shuts down) aborts its task and marks its outcome as not to be written. `GraflowWorker` owns
 * one; nothing here talks to Redis.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { QueueEntry } from "../redis/task_queue.ts";

/** An entry whose task runs. */
export interface Running {
  /** The queue entry. */
  entry: QueueEntry;
  /** Its job, once admitted. */
  job?: string;
  /** Aborts the task. */
  controller: AbortController;
  /** Set when the outcome must not be written (cancelled, lease lost, handed back). */
  dropped?: string;
}

/** Jobs cancelled by their run that are remembered. */
const CANCELLED_KEPT = 10_000;

/** The entries one worker holds. */
export class WorkerSlots {
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #running = new Map<string, Running>();
  readonly #byJob = new Map<string, Running>();
  /** Reserved entries waiting for a free slot (prefetch). */
  readonly #buffer: QueueEntry[] = [];
  /** Tasks done whose outcome is being written. */
  #finishing = 0;
  /** Jobs cancelled by their run (recent ones), so that buffered entries are skipped. */
  readonly #cancelled = new Set<string>();
  /** How long each reserved entry waited in the stream before this worker reserved it (ms). */
  readonly #waits = new WeakMap<QueueEntry, number>();

  /**
   * Holds nothing yet.
   *
   * @param concurrency Tasks that run at once.
   * @param prefetch Entries reserved ahead of a free slot.
   */
  constructor(concurrency: number, prefetch: number) {
    this.#concurrency = concurrency;
    this.#capacity = concurrency + prefetch;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Entries the worker may still take: its capacity minus those it holds (may be ≤ 0). */
  get free(): number {
    return this.#capacity - (this.#running.size + this.#buffer.length + this.#finishing);
  }

  /** Whether a task runs or an outcome is being written. */
  get busy(): boolean {
    return this.#running.size > 0 || this.#finishing > 0;
  }

  /**
   * Takes reserved entries (an entry held already is not taken twice).
   *
   * @param entries The entries.
   */
  accept(entries: QueueEntry[]): void {
    const now = Date.now();
    for (const e of entries) {
      // The stream entry id starts with the Redis server's time of the XADD (milliseconds).
      const added = Number(e.id.slice(0, e.id.indexOf("-")));
      if (e.deliveries === 1 && added > 0) this.#waits.set(e, Math.max(0, now - added));
      if (!this.#running.has(e.id) && !this.#buffer.some((b) => b.id === e.id)) {
        this.#buffer.push(e);
      }
    }
  }

  /**
   * Starts the next buffered entry when a task slot is free.
   *
   * @returns The entry, now running, or `undefined`.
   */
  next(): Running | undefined {
    while (this.#running.size < this.#concurrency && this.#buffer.length) {
      const entry = this.#buffer.shift()!;
      if (this.#running.has(entry.id)) continue;
      const r: Running = { entry, controller: new AbortController() };
      this.#running.set(entry.id, r);
      return r;
    }
    return undefined;
  }

  /**
   * How long an entry waited in the stream before this worker reserved it (first deliveries).
   *
   * @param entry The entry.
   * @returns Milliseconds, or `undefined`.
   */
  waited(entry: QueueEntry): number | undefined {
    return this.#waits.get(entry);
  }

  /**
   * Ties a running entry to its admitted job (so that the run can cancel it).
   *
   * @param r The running entry.
   * @param job Its job.
   * @returns False when the run cancelled the job already (its entry is gone).
   */
  admitted(r: Running, job: string): boolean {
    if (this.#cancelled.has(job)) return false;
    r.job = job;
    this.#byJob.set(job, r);
    return true;
  }

  /**
   * Frees the task slot of an entry whose outcome is now written (see `written`).
   *
   * @param r The running entry.
   */
  writing(r: Running): void {
    this.#running.delete(r.entry.id);
    this.#finishing++;
  }

  /** An outcome started by `writing` is written (or given up). */
  written(): void {
    this.#finishing--;
  }

  /**
   * Lets go of an entry whose processing ended.
   *
   * @param r The running entry.
   */
  release(r: Running): void {
    this.#running.delete(r.entry.id);
    if (r.job) this.#byJob.delete(r.job);
  }

  /**
   * The ids of the entries held, running or buffered (those whose lease is renewed).
   *
   * @returns The ids.
   */
  held(): string[] {
    return [...this.#running.keys(), ...this.#buffer.map((e) => e.id)];
  }

  /**
   * Drops an entry whose lease this worker lost.
   *
   * @param id The entry id.
   */
  lost(id: string): void {
    const i = this.#buffer.findIndex((e) => e.id === id);
    if (i >= 0) this.#buffer.splice(i, 1);
    this.#drop(
      this.#running.get(id),
      "lease lost",
      new WorkflowError("Task stopped: this worker lost its lease", { code: "LEASE_LOST" }),
    );
  }

  /**
   * Drops a job its run cancelled, and remembers it.
   *
   * @param job The job.
   */
  cancel(job: string): void {
    this.#cancelled.add(job);
    if (this.#cancelled.size > CANCELLED_KEPT) {
      this.#cancelled.delete(this.#cancelled.values().next().value!);
    }
    this.#drop(
      this.#byJob.get(job),
      "cancelled",
      new WorkflowError("Task canceled by its run", { code: "TASK_CANCELED" }),
    );
  }

  /** Drops every entry held (the worker stops: they are handed back). */
  handBack(): void {
    this.#buffer.length = 0; // still pending to this consumer: the worker hands them back
    for (const r of [...this.#running.values()]) {
      r.dropped = "handed back";
      r.controller.abort(
        new WorkflowError("Task stopped: the worker is shutting down", { code: "WORKER_SHUTDOWN" }),
      );
    }
  }

  #drop(r: Running | undefined, why: string, reason: WorkflowError): void {
    if (!r || r.dropped) return;
    r.dropped = why;
    r.controller.abort(reason);
  }
}
