/**
 * `WorkerPool`: runs tasks on Deno Web Workers, for real parallelism on one machine.
 *
 * In-process groups only interleave async work; CPU-bound tasks need threads. `handler: "worker"`
 * (per task), `parallel([...], { executor: "workers" })` (per group) and
 * `run({ executor: "workers" })` (every group of a run) run tasks on a pool of Deno Web Workers.
 *
 * - **Where tasks run.** A worker imports the module that defined the task (`task.module`, found from
 *   the call stack, or `task(..., { module: import.meta.url })`) and looks the task up by name. Only
 *   structured data crosses: the input, the result, `ctx` calls and errors (values as in channels:
 *   JSON plus `Date`, `Map`, `Set`, `BigInt`, `Uint8Array`; anything else is a `TypeError` naming
 *   where it was found). A module that defines worker tasks must not start runs when imported: guard
 *   the demo code with `if (import.meta.main)`.
 * - **`ctx` in a worker.** `ctx.channel`, `ctx.result`, `ctx.next`, `ctx.nextIteration`,
 *   `ctx.terminate`, `ctx.cancel`, `ctx.checkpoint` (deferred and `{ deferred: false }`) and
 *   `ctx.requestFeedback` are proxied to the run. Errors arrive with their class (built-in, engine, or
 *   registered with `registerErrorClass`), message, stack, `code` and cause.
 * - **The pool.** `handler: "worker"` and `executor: "workers"` use a process-wide pool
 *   (`defaultWorkerPool()`) of `navigator.hardwareConcurrency` workers, started on first use, reused
 *   across groups and runs, and terminated after 1 s without work so that the process can exit (idle
 *   Web Workers keep a Deno process alive). Your own pool replaces it for a run:
 *
 *   ```ts ignore
 *   import { WorkerPool } from "@graflow/graflow";
 *   await using pool = new WorkerPool({ size: 4, terminateGraceMs: 500 });
 *   await etl.run({ executor: "workers", handlers: { worker: pool } });
 *   pool.stats(); // { size, workers, busy, queued, prefetched, started, crashed, killed }
 *   ```
 *
 *   | option             | default                                 | meaning                                                                        |
 *   | ------------------ | --------------------------------------- | ------------------------------------------------------------------------------ |
 *   | `size`             | `navigator.hardwareConcurrency`         | most workers alive at once (over all permission sets)                          |
 *   | `terminateGraceMs` | `1000`                                  | how long an aborted task may keep running before its worker is terminated      |
 *   | `idleTimeoutMs`    | `Infinity` (`1000` for the shared pool) | terminate all workers after this long without work                             |
 *   | `prefetch`         | `16`                                    | most short tasks sent ahead to a busy worker (in one message)                  |
 *   | `prefetchBudgetMs` | `2`                                     | send ahead only while the expected work queued in that worker stays under this |
 *   | `name`             | `"graflow-worker"`                      | worker name prefix (`self.name` in the worker, shown in stacks)                |
 *
 *   Each worker runs one task at a time. Tasks whose recent durations are short are sent ahead to a
 *   busy worker in batches, which saves round trips for many small tasks; tasks never seen, or known
 *   to be long, wait in the pool for the next free worker, so CPU-bound tasks spread evenly.
 * - **Cancellation and timeouts.** When a run is canceled (`run({ signal })`), a task times out
 *   (`timeoutMs`) or the pool closes, the task's `ctx.signal` aborts inside the worker with the same
 *   reason. A task that ignores it for `terminateGraceMs` gets its worker terminated (`WorkflowError`
 *   code `"WORKER_TERMINATED"`); the pool starts a replacement when needed. Other tasks are not
 *   disturbed; tasks that were waiting in that worker go back to the queue. A task's `timeoutMs`
 *   counts from when the run hands it to the pool, so time spent waiting for a free worker counts.
 * - **Crashes.** An uncaught error or unhandled rejection in a worker, `self.close()` or `Deno.exit()`
 *   fails only the task running there, with `WorkflowError` code `"WORKER_CRASHED"` (for example
 *   `Task "parse" crashed its Web Worker: uncaught error in the worker: TypeError: …`, with the
 *   original error as `cause`), and the pool replaces the worker. The running task is blamed, even
 *   when the stray error came from a timer an earlier task left behind.
 * - **Permissions.** `task(name, fn, { permissions })` takes Deno's worker permission descriptor
 *   (`"inherit"` by default, `"none"`, or `{ net, read, write, env, run, ffi, sys, import }`), so
 *   untrusted tasks can run with, for example, no network and read access to one folder only:
 *
 *   ```ts ignore
 *   task("summarize", (path: string) => Deno.readTextFile(path), {
 *     permissions: { read: ["/srv/uploads"], net: false },
 *   });
 *   ```
 *
 *   Workers are pooled per distinct permission set (and, for non-`"inherit"` sets, per task module:
 *   such a worker starts from an entry that imports the task module, because a worker without read
 *   access cannot import it later). Deno marks worker permissions as unstable: run with
 *   `--unstable-worker-options` or add `"unstable": ["worker-options"]` to your `deno.json` (this
 *   repository does). Without it Deno would end the whole process when such a worker starts
 *   ("Unstable API 'Worker.deno.permissions'", exit code 70, which no `try` catches), so the pool
 *   first looks for the feature (`worker_options_check.ts`: the command line and the `deno.json`
 *   files Deno may have used) and, when it is surely off, fails the task with
 *   `"WORKER_START_FAILED"` saying what to add; when it cannot tell (no `/proc`, no read
 *   permission, a compiled binary) it starts the worker as before. Tasks without `permissions`
 *   need no flag. A task that asks for more than the host process has fails with
 *   `"WORKER_START_FAILED"` (`Cannot start Web Worker: Can't escalate parent thread permissions`).
 *
 * @module
 */
import {
  type RemoteOutcome,
  serveContextCall,
  settleOutcome,
  toRemoteMessage,
} from "../context/remote_context.ts";
import type { TaskContext } from "../context/task_context.ts";
import { toErrorRecord, WorkflowError } from "../errors.ts";
import type { Task } from "../graph/task.ts";
import type { TaskHandler } from "./task_handler.ts";
import { type DeathCode, type PoolWorker, workerSpec } from "./pool_worker.ts";
import type { CallMessage, OutcomeMessage } from "./worker_protocol.ts";
import { WorkerSet } from "./worker_set.ts";
import { randomNonce } from "./nonce.ts";
import { setLongTimer, type Timer } from "../time/clock.ts";
import { type Job, PoolDispatch } from "./pool_dispatch.ts";
import {
  normalizePoolOptions,
  type WorkerPoolOptions,
  type WorkerPoolStats,
} from "./worker_pool_options.ts";

/**
 * A pool of Deno Web Workers that runs tasks in parallel, and the `TaskHandler` behind
 * `{ handler: "worker" }`, `parallel([...], { executor: "workers" })` and
 * `run({ executor: "workers" })` (those use the shared {@linkcode defaultWorkerPool}; pass
 * `run({ handlers: { worker: pool } })` to use your own).
 *
 * Each worker runs one task at a time: it imports the module that defined the task
 * (`task.module`) and finds it by name; input, result, `ctx` calls and errors cross as
 * structured data. Workers start lazily, are reused across groups and runs, and are pooled per
 * permission set (`TaskOptions.permissions`). A task whose signal aborts gets `terminateGraceMs`
 * to finish before its worker is terminated; a worker that crashes fails only its task
 * (`WorkflowError` code `"WORKER_CRASHED"`). Either way the pool starts a replacement when needed.
 *
 * Messages from a worker are checked and bound to the job it runs (a random nonce per job); a
 * malformed or forged one fails that job (`WORKER_PROTOCOL`) and retires the worker. Workers
 * share the host's process (a task that exhausts the heap aborts it) and task code shares the
 * worker's global scope with the runtime: for code you do not trust, use `ProcessPool`.
 *
 * Modules that define worker tasks must not start runs at import time: guard with
 * `if (import.meta.main)`.
 *
 * @example A pool of two workers, closed at the end of the scope
 * ```ts
 * import { WorkerPool } from "@graflow/graflow";
 * await using pool = new WorkerPool({ size: 2 });
 * // await flow`...`.run({ handlers: { worker: pool } });
 * if (pool.stats().size !== 2) throw new Error("unexpected");
 * ```
 */
export class WorkerPool implements TaskHandler, AsyncDisposable {
  readonly #size: number;
  readonly #graceMs: number;
  readonly #idleMs: number;
  readonly #workers: WorkerSet<Job>;
  readonly #queue: PoolDispatch;
  #nextId = 1;
  #crashed = 0;
  #killed = 0;
  #idleTimer: Timer | undefined;
  #closed = false;

  /**
   * Creates the pool; no worker starts before the first task.
   *
   * @param options Size, grace period, idle timeout, name, prefetch.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: WorkerPoolOptions = {}) {
    const o = normalizePoolOptions(options);
    this.#size = o.size;
    this.#graceMs = o.terminateGraceMs;
    this.#idleMs = o.idleTimeoutMs;
    this.#workers = new WorkerSet<Job>(o.name, {
      outcome: (w, m) => this.#onOutcome(w, m),
      call: (w, m) => this.#onCall(w, m),
      died: (w, reason, cause, code) => this.#onDied(w, reason, cause, code),
    });
    this.#queue = new PoolDispatch(this.#workers, {
      size: o.size,
      prefetch: o.prefetch,
      budgetMs: o.prefetchBudgetMs,
      fail: (job, error) => this.#fail(job, error),
    });
  }

  /**
   * Runs `task` on a worker of the pool (the `TaskHandler` method).
   *
   * @param task The task; `task.module` must define it.
   * @param input Its input (structured data).
   * @param ctx The run's context of this attempt; its calls are served from the worker.
   * @returns The task's result.
   * @throws {WorkflowError} `POOL_CLOSED`, `WORKER_CRASHED`, `WORKER_TERMINATED`,
   * `WORKER_START_FAILED`; or what the task threw, with its class, message and stack.
   * @throws {TypeError} When the input or the task's `permissions` cannot be used.
   */
  async execute(task: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    if (this.#closed) throw this.#closedError(task.name);
    const signal = ctx.signal;
    signal.throwIfAborted();
    const spec = workerSpec(task);
    const message = toRemoteMessage(task, input, ctx);
    const outcome = await new Promise<RemoteOutcome>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        nonce: randomNonce(),
        taskId: task.name,
        ctx,
        message,
        spec,
        signal,
        resolve,
        reject,
        done: false,
        started: 0,
      };
      job.onAbort = () => this.#onAbort(job);
      signal.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
    return await settleOutcome(ctx, outcome);
  }

  /**
   * Current counters.
   *
   * @returns Workers alive, busy, queued tasks and lifetime counts.
   */
  stats(): WorkerPoolStats {
    let prefetched = 0;
    for (const w of this.#workers) prefetched += Math.max(0, w.jobs.length - 1);
    return {
      size: this.#size,
      workers: this.#workers.size,
      busy: this.#workers.busy,
      queued: this.#queue.queued,
      prefetched,
      started: this.#workers.started,
      crashed: this.#crashed,
      killed: this.#killed,
    };
  }

  /** True once {@linkcode WorkerPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Terminates every worker; running and queued tasks fail with `WorkflowError` code
   * `"POOL_CLOSED"`. Idempotent.
   *
   * @returns A promise that resolves when every worker is terminated.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#idleTimer !== undefined) this.#idleTimer.clear();
    this.#idleTimer = undefined;
    const pending = this.#queue.takeAll();
    for (const worker of this.#workers) pending.push(...worker.jobs.splice(0));
    for (const job of pending) {
      if (job.grace !== undefined) job.grace.clear();
      if (!job.done) this.#fail(job, this.#closedError(job.taskId));
    }
    const errors = this.#workers.terminateAll();
    if (errors.length) {
      return Promise.reject(new AggregateError(errors, "Cannot close worker pool"));
    }
    return Promise.resolve();
  }

  /** Same as {@linkcode WorkerPool.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #closedError(taskId: string): WorkflowError {
    return new WorkflowError(
      `Cannot run task "${taskId}" in a Web Worker: the worker pool is closed`,
      { code: "POOL_CLOSED" },
    );
  }

  #dispatch(): void {
    if (!this.#closed) this.#queue.dispatch();
    this.#armIdleTimer();
  }

  #armIdleTimer(): void {
    if (this.#workers.busy > 0 || this.#queue.queued > 0) {
      if (this.#idleTimer !== undefined) this.#idleTimer.clear();
      this.#idleTimer = undefined;
      return;
    }
    if (this.#idleTimer !== undefined || !Number.isFinite(this.#idleMs)) return;
    if (this.#workers.size === 0) return;
    this.#idleTimer = setLongTimer(() => {
      this.#idleTimer = undefined;
      if (this.#workers.busy > 0 || this.#queue.queued > 0) return;
      this.#workers.terminateAll();
    }, this.#idleMs);
  }

  #finish(job: Job): void {
    job.done = true;
    if (job.onAbort) job.signal.removeEventListener("abort", job.onAbort);
  }

  #fail(job: Job, error: unknown): void {
    this.#finish(job);
    job.reject(error);
  }

  #onAbort(job: Job): void {
    if (job.done) return;
    const worker = job.worker;
    if (!worker) {
      // Still queued here: it never started.
      this.#queue.settledWaiting();
      this.#fail(job, job.signal.reason);
      this.#armIdleTimer();
      return;
    }
    worker.send({ type: "abort", id: job.id, reason: toErrorRecord(job.signal.reason) });
    if (worker.jobs[0] === job) this.#armGrace(job);
    // Waiting in the worker: it will be skipped there; settle it now.
    else this.#fail(job, job.signal.reason);
  }

  /** A running job whose signal aborted gets `terminateGraceMs`, then loses its worker. */
  #armGrace(job: Job): void {
    if (job.grace !== undefined) return;
    job.grace = setLongTimer(() => {
      job.grace = undefined;
      const worker = job.worker;
      if (!worker?.alive || worker.jobs[0] !== job) return;
      this.#killed++;
      this.#lose(worker, (j) =>
        new WorkflowError(
          `Task "${j.taskId}" ignored its abort signal for ${this.#graceMs} ms: its Web Worker was terminated`,
          { code: "WORKER_TERMINATED", cause: j.signal.reason },
        ));
    }, this.#graceMs);
  }

  /** Ends `worker`: its running job fails with `error(job)`, the jobs waiting in it go back to the queue. */
  #lose(worker: PoolWorker<Job>, error: (job: Job) => WorkflowError): void {
    this.#workers.remove(worker);
    worker.terminate();
    const jobs = worker.jobs.splice(0);
    for (const j of jobs) {
      if (j.grace !== undefined) j.grace.clear();
      j.grace = undefined;
    }
    const head = jobs.shift();
    if (head && !head.done) this.#fail(head, error(head));
    const again = jobs.filter((j) => !j.done);
    for (const j of again) j.worker = undefined;
    this.#queue.requeue(again);
    this.#dispatch();
  }

  #onOutcome(worker: PoolWorker<Job>, m: OutcomeMessage): void {
    const jobs = worker.jobs;
    const job = jobs[0];
    // A worker runs its jobs in order: only the one it runs now can finish, with its nonce.
    if (!job || job.id !== m.id || job.nonce !== m.nonce) {
      return worker.refuse(`an outcome for job ${m.id}, which it is not running`);
    }
    jobs.shift();
    if (job.grace !== undefined) job.grace.clear();
    job.grace = undefined;
    const now = performance.now();
    if (!job.done && !worker.fresh) this.#queue.record(job.taskId, now - job.started);
    worker.fresh = false;
    const next = jobs[0];
    if (next) {
      next.started = now;
      if (next.signal.aborted) this.#armGrace(next);
    }
    const settle = !job.done;
    if (settle) this.#finish(job);
    if (jobs.length === 0) this.#workers.release(worker);
    this.#dispatch();
    if (settle) job.resolve(m.outcome);
  }

  #onCall(worker: PoolWorker<Job>, m: CallMessage): void {
    const job = worker.jobs[0];
    if (
      job?.id === m.id && job.nonce !== m.nonce ||
      worker.jobs.some((j, i) => i > 0 && j.id === m.id)
    ) {
      return worker.refuse(`a ctx call for job ${m.id}, which it is not running`);
    }
    if (job?.id !== m.id) {
      // A call of a task that already finished (e.g. from a timer it left behind): answered,
      // never served.
      const error = new WorkflowError(
        `Cannot serve a ctx call from a Web Worker: its task is no longer running`,
        { code: "TASK_NOT_RUNNING" },
      );
      worker.send({ type: "reply", callId: m.callId, ok: false, error: toErrorRecord(error) });
      return;
    }
    serveContextCall(job.ctx, m.call).then(
      (value) => worker.send({ type: "reply", callId: m.callId, ok: true, value }),
      (error) =>
        worker.send({ type: "reply", callId: m.callId, ok: false, error: toErrorRecord(error) }),
    );
  }

  #onDied(
    worker: PoolWorker<Job>,
    reason: string,
    cause?: Error,
    code: DeathCode = "WORKER_CRASHED",
  ): void {
    this.#crashed++;
    this.#lose(
      worker,
      (job) =>
        new WorkflowError(`Task "${job.taskId}" crashed its Web Worker: ${reason}`, {
          code,
          cause,
        }),
    );
  }
}
