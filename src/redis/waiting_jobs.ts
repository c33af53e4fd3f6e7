/**
 * The jobs a `RedisBackend` waits for, and how it waits. An outcome normally arrives by pub/sub
 * ({@linkcode WaitingJobs.settle}). Every `pollMs`, one script checks the jobs that waited at
 * least half of that: outcomes pub/sub missed settle them; a job Redis lost is enqueued again
 * under a fresh job id (at most `maxRequeues` times, then `JOB_LOST`); a job no live worker can
 * take gets a `task.waiting` notice after `noWorkerWarnMs` and fails with `NO_WORKER` after
 * `noWorkerTimeoutMs`. The poll also serves the context calls those runs wait on and, about
 * hourly, runs the backend's housekeeping. When Redis stays unreachable for `unavailableMs`,
 * every waiting job fails with `REDIS_UNAVAILABLE`. The backend owns one.
 *
 * @module
 */
import type { TaskContext } from "../context/task_context.ts";
import { WorkflowError } from "../errors.ts";
import { notifyRun } from "../handlers/task_handler.ts";
import { within } from "./connection.ts";
import type { CallServer } from "./context_calls.ts";
import { openOutcome } from "./open_outcome.ts";
import type { NormalizedBackendOptions } from "./redis_backend_options.ts";
import type { Signer } from "./signing.ts";
import type { RedisTaskQueue } from "./task_queue.ts";
import type { JobMessage, OutcomeRecord } from "./wire.ts";

/** A job the backend waits for. */
export interface Waiting {
  /** The job as enqueued (its `job` id changes when it is enqueued again). */
  message: JobMessage;
  /** The attempt's context. */
  ctx: TaskContext;
  /** Its stream entry, once added. */
  entryId: string;
  /** Times it was enqueued again after Redis lost it. */
  requeues: number;
  /** When it was (last) enqueued (`Date.now()`). */
  since: number;
  /** Set once the no-worker notice went out. */
  warned: boolean;
  /** Settles the job with its outcome. */
  resolve(record: OutcomeRecord): void;
  /** Fails the job. */
  reject(error: unknown): void;
}

/** What {@linkcode WaitingJobs} needs of the backend. */
export interface WaitingPort {
  /** The backend's options. */
  readonly options: NormalizedBackendOptions;
  /** The queue. */
  readonly queue: RedisTaskQueue;
  /** Serves the context calls of the runs. */
  readonly calls: CallServer;
  /** Opens outcomes. */
  readonly signer: Signer;
  /** Whether the backend is closed. */
  closed(): boolean;
  /** Housekeeping (its failure must not fail the jobs that wait). */
  sweep(): Promise<void>;
  /** The error of a job that cannot run because Redis is unreachable. */
  unavailable(taskId: string, error: unknown): WorkflowError;
}

/** The waiting jobs of a backend, by job id. */
export class WaitingJobs {
  readonly #port: WaitingPort;
  readonly #o: NormalizedBackendOptions;
  readonly #jobs = new Map<string, Waiting>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #downSince = 0;
  #noWorkerSince: number | undefined;
  #sweptAt = 0;

  /**
   * Waits for nothing yet.
   *
   * @param port The backend.
   */
  constructor(port: WaitingPort) {
    this.#port = port;
    this.#o = port.options;
  }

  /**
   * A waiting job.
   *
   * @param job Its job id.
   * @returns The job, or `undefined` when nothing waits for it.
   */
  get(job: string): Waiting | undefined {
    return this.#jobs.get(job);
  }

  /**
   * Starts waiting for a job.
   *
   * @param w The job.
   */
  add(w: Waiting): void {
    this.#jobs.set(w.message.job, w);
  }

  /**
   * Stops waiting for a job (without settling it).
   *
   * @param job Its job id.
   */
  delete(job: string): void {
    this.#jobs.delete(job);
  }

  /**
   * Settles a waiting job with its outcome, checked against the run and job it waits for.
   *
   * @param job The job id.
   * @param sealed The outcome as the worker sealed it.
   */
  settle(job: string, sealed: string): void {
    const w = this.#jobs.get(job);
    if (!w) return;
    this.#jobs.delete(job);
    try {
      w.resolve(openOutcome(this.#port.signer, w.message, sealed));
    } catch (error) {
      w.reject(error);
    }
  }

  /** Polls in `pollMs` (and again while jobs wait), unless a poll is scheduled already. */
  schedule(): void {
    if (this.#timer !== undefined || this.#port.closed()) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.#poll();
      } finally {
        this.#timer = undefined;
        if (this.#jobs.size > 0) this.schedule();
      }
    }, this.#o.pollMs);
  }

  /**
   * Stops polling and fails every waiting job.
   *
   * @param error The error of each job.
   */
  close(error: (w: Waiting) => WorkflowError): void {
    clearTimeout(this.#timer);
    for (const w of this.#jobs.values()) w.reject(error(w));
    this.#jobs.clear();
  }

  async #poll(): Promise<void> {
    const now = Date.now();
    const due: Waiting[] = [];
    for (const w of this.#jobs.values()) {
      if (w.entryId && now - w.since >= this.#o.pollMs / 2) due.push(w);
    }
    try {
      if (due.length) {
        await within(this.#check(due), this.#o.unavailableMs, "checking the waiting jobs");
      }
      if (now - this.#sweptAt >= Math.min(this.#o.retentionMs, 3_600_000)) {
        this.#sweptAt = now;
        await this.#port.sweep();
      }
      this.#downSince = 0;
    } catch (error) {
      this.#downSince ||= now;
      if (Date.now() - this.#downSince >= this.#o.unavailableMs) {
        for (const w of [...this.#jobs.values()]) {
          this.#jobs.delete(w.message.job);
          w.reject(this.#port.unavailable(w.message.taskId, error));
        }
      }
    }
  }

  /** One script for every due job: outcomes missed by pub/sub, lost jobs, waiting calls. */
  async #check(due: Waiting[]): Promise<void> {
    for (let i = 0; i < due.length; i += 1000) {
      const batch = due.slice(i, i + 1000);
      const { states, runsWithCalls, liveWorkers } = await this.#port.queue.check(
        batch.map((w) => ({ runId: w.message.runId, job: w.message.job, entryId: w.entryId })),
      );
      const now = Date.now();
      if (liveWorkers > 0) this.#noWorkerSince = undefined;
      else this.#noWorkerSince ??= now;
      for (const [k, s] of states.entries()) {
        const w = batch[k];
        if (s.state === "done") this.settle(w.message.job, s.sealed);
        else if (s.state === "lost" && this.#jobs.has(w.message.job)) await this.#requeue(w);
        else if (s.state === "waiting") this.#noWorker(w, now);
      }
      await Promise.all(runsWithCalls.map((runId) => this.#port.calls.poll(runId)));
    }
  }

  /** A job waits while no worker is live: warn once, and fail after `noWorkerTimeoutMs`. */
  #noWorker(w: Waiting, now: number): void {
    if (this.#noWorkerSince === undefined || !this.#jobs.has(w.message.job)) return;
    const waitedMs = now - Math.max(w.since, this.#noWorkerSince);
    const task = w.message.taskId;
    const p = this.#o.keys.prefix;
    if (this.#o.timeoutMs !== undefined && waitedMs >= this.#o.timeoutMs) {
      this.#jobs.delete(w.message.job);
      this.#port.queue.cancel(w.entryId, w.message.job).catch(() => {});
      w.reject(
        new WorkflowError(
          `Cannot run task "${task}": no worker of prefix "${p}" was live for ${waitedMs} ms ` +
            `(noWorkerTimeoutMs ${this.#o.timeoutMs})`,
          { code: "NO_WORKER" },
        ),
      );
    } else if (!w.warned && waitedMs >= this.#o.warnMs) {
      w.warned = true;
      notifyRun(w.ctx, {
        type: "task.waiting",
        reason: "no-worker",
        waitedMs,
        message: `Task "${task}" has waited ${Math.round(waitedMs / 1000)} s and no worker of ` +
          `prefix "${p}" is live: start one (graflow worker --prefix ${p} --module <tasks>)`,
      });
    }
  }

  async #requeue(w: Waiting): Promise<void> {
    if (++w.requeues > this.#o.maxRequeues) {
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
    // A fresh job id: the lost one may still come back (a replica, a restore), and must not run.
    this.#jobs.delete(w.message.job);
    w.message = { ...w.message, job: crypto.randomUUID() };
    this.#jobs.set(w.message.job, w);
    w.entryId = await this.#port.queue.enqueue(w.message);
    w.since = Date.now();
  }
}
