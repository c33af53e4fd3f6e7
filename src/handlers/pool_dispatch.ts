/**
 * The jobs of a `WorkerPool` that wait for a worker, and where each goes: an idle worker of its
 * permission set; else a new worker while the pool has room (ending an idle worker of another
 * permission set to make room); else, for a task whose recent durations are short, the busy
 * worker of the same run with the least expected work, as long as that work stays within
 * `prefetchBudgetMs` and the worker holds at most `prefetch` jobs. The runs sent to one worker in
 * a round go out in one message. The pool owns one and decides when to dispatch.
 *
 * @module
 */
import type { RemoteOutcome, RemoteTaskMessage } from "../context/remote_context.ts";
import type { TaskContext } from "../context/task_context.ts";
import type { Timer } from "../time/clock.ts";
import type { PoolWorker, WorkerSpec } from "./pool_worker.ts";
import { TaskDurations } from "./task_durations.ts";
import type { RunMessage } from "./worker_protocol.ts";
import type { WorkerSet } from "./worker_set.ts";

/** A task handed to the pool, until it settles. */
export interface Job {
  /** Its number in the pool. */
  readonly id: number;
  /** Random; the worker's outcome and calls for this job must echo it. */
  readonly nonce: string;
  /** The task id. */
  readonly taskId: string;
  /** The attempt's context (its calls are served from the worker). */
  readonly ctx: TaskContext;
  /** What the worker gets. */
  readonly message: RemoteTaskMessage;
  /** The worker it needs (permission set). */
  readonly spec: WorkerSpec;
  /** The attempt's signal. */
  readonly signal: AbortSignal;
  /** Settles `execute` with the worker's outcome. */
  readonly resolve: (outcome: RemoteOutcome) => void;
  /** Fails `execute`. */
  readonly reject: (error: unknown) => void;
  /** Its abort listener. */
  onAbort?: () => void;
  /** Set once it settled. */
  done: boolean;
  /** The worker it was sent to. */
  worker?: PoolWorker<Job>;
  /** The grace timer after its signal aborted while it ran. */
  grace?: Timer;
  /** When it became the running job of its worker (`performance.now()`). */
  started: number;
}

/** What {@linkcode PoolDispatch} needs of the pool. */
export interface DispatchOptions {
  /** Most workers alive at once. */
  size: number;
  /** Most jobs sent ahead to a busy worker. */
  prefetch: number;
  /** Most expected work (ms) queued in a worker a job is sent ahead to. */
  budgetMs: number;
  /** Fails a job that cannot get a worker (e.g. its permissions cannot be used). */
  fail(job: Job, error: unknown): void;
}

/** The pool's waiting jobs and where they go. */
export class PoolDispatch {
  readonly #workers: WorkerSet<Job>;
  readonly #o: DispatchOptions;
  readonly #durations = new TaskDurations();
  #queue: Job[] = [];
  #head = 0;
  #queued = 0;

  /**
   * Creates the (empty) queue.
   *
   * @param workers The pool's workers.
   * @param options Size, prefetch and how to fail a job.
   */
  constructor(workers: WorkerSet<Job>, options: DispatchOptions) {
    this.#workers = workers;
    this.#o = options;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Queues a job at the end.
   *
   * @param job The job.
   */
  push(job: Job): void {
    this.#queue.push(job);
    this.#queued++;
  }

  /** A waiting job settled before it got a worker (it is skipped when its turn comes). */
  settledWaiting(): void {
    this.#queued--;
  }

  /**
   * Puts jobs back at the head of the queue (their worker was lost before they started).
   *
   * @param jobs The jobs, in order.
   */
  requeue(jobs: Job[]): void {
    this.#queue.splice(this.#head, 0, ...jobs);
    this.#queued += jobs.length;
  }

  /**
   * Empties the queue (the pool closes).
   *
   * @returns The jobs that were waiting.
   */
  takeAll(): Job[] {
    const pending = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queued = 0;
    return pending;
  }

  /**
   * Records how long a task ran (its estimate decides whether it is sent ahead).
   *
   * @param taskId The task.
   * @param ms Its duration.
   */
  record(taskId: string, ms: number): void {
    this.#durations.record(taskId, ms);
  }

  /** Sends waiting jobs to workers, in order, until one cannot get a worker. */
  dispatch(): void {
    let sends: Map<PoolWorker<Job>, RunMessage[]> | undefined;
    while (this.#head < this.#queue.length) {
      const job = this.#queue[this.#head];
      if (job.done) {
        this.#head++;
        continue;
      }
      let worker: PoolWorker<Job> | undefined;
      try {
        worker = this.#workerFor(job);
      } catch (error) {
        this.#head++;
        this.#queued--;
        this.#o.fail(job, error);
        continue;
      }
      if (!worker) break;
      this.#head++;
      this.#queued--;
      if (worker.jobs.push(job) === 1) job.started = performance.now();
      job.worker = worker;
      sends ??= new Map();
      let runs = sends.get(worker);
      if (!runs) sends.set(worker, runs = []);
      runs.push({ type: "run", id: job.id, nonce: job.nonce, message: job.message });
    }
    for (const [worker, runs] of sends ?? []) {
      worker.send(runs.length === 1 ? runs[0] : { type: "batch", runs });
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** An idle worker, a new one, a busy one to send a short task ahead to, or none. */
  #workerFor(job: Job): PoolWorker<Job> | undefined {
    const idle = this.#workers.takeIdle(job.spec.key);
    if (idle) return idle;
    if (this.#workers.size >= this.#o.size) {
      const ahead = this.#prefetchTarget(job);
      if (ahead) return ahead;
      // Full: make room by ending an idle worker of another permission set, if any.
      if (!this.#workers.evictIdle()) return undefined;
    }
    return this.#workers.spawn(job.spec);
  }

  /** The busy worker with the least expected work, if `job` fits in its budget. */
  #prefetchTarget(job: Job): PoolWorker<Job> | undefined {
    const own = this.#durations.estimate(job.taskId);
    const prefetch = this.#o.prefetch;
    if (prefetch === 0 || own === undefined) return undefined;
    let best: PoolWorker<Job> | undefined;
    let bestWork = this.#o.budgetMs;
    for (const w of this.#workers) {
      const n = w.jobs.length;
      if (w.key !== job.spec.key || n === 0 || n > prefetch) continue;
      // Only behind jobs of the same run: code of one run never shares a worker's queue with
      // another run's jobs (their inputs and nonces).
      if (w.jobs[0].ctx.runId !== job.ctx.runId) continue;
      let work = own;
      for (let i = 0; i < n && work <= bestWork; i++) {
        work += this.#durations.estimate(w.jobs[i].taskId) ?? Infinity;
      }
      if (work <= bestWork) {
        best = w;
        bestWork = work;
      }
    }
    return best;
  }
}
