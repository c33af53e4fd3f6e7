/**
 * `WorkerPool`: runs tasks on Deno Web Workers, for real parallelism on one machine.
 *
 * @module
 */
import {
  type RemoteOutcome,
  type RemoteTaskMessage,
  serveContextCall,
  settleOutcome,
  toRemoteMessage,
} from "../context/remote_context.ts";
import type { TaskContext } from "../context/task_context.ts";
import { toErrorRecord, WorkflowError } from "../engine/errors.ts";
import type { Task } from "../graph/task.ts";
import type { TaskHandler } from "./task_handler.ts";
import { PoolWorker, type PoolWorkerHooks, type WorkerSpec } from "./pool_worker.ts";
import { permissionKey, permissionsFromKey } from "./worker_permissions.ts";
import type { CallMessage, OutcomeMessage } from "./worker_protocol.ts";

/** URL of the Web Worker entry module. */
const WEB_WORKER_URL = new URL("../../workers/web_worker.ts", import.meta.url).href;

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** Most workers alive at once (over all permission sets). @default {navigator.hardwareConcurrency} */
  size?: number;
  /**
   * How long a task whose `ctx.signal` was aborted (run canceled, timeout, pool shutdown) may keep
   * running before its worker is terminated and replaced. @default {1000}
   */
  terminateGraceMs?: number;
  /**
   * Terminate every worker once the pool has been idle this long (workers start again on the next
   * task). Idle Web Workers keep a Deno process alive, so a finite value lets scripts exit.
   * @default {Infinity}
   */
  idleTimeoutMs?: number;
  /** Prefix of the workers' names. @default {"graflow-worker"} */
  name?: string;
}

/** Counters of a {@linkcode WorkerPool}, for monitoring and tests. */
export interface WorkerPoolStats {
  /** The configured size. */
  size: number;
  /** Workers alive now. */
  workers: number;
  /** Workers running a task now. */
  busy: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Workers started since the pool was created. */
  started: number;
  /** Workers that crashed (uncaught error, unhandled rejection, `self.close()`, failed start). */
  crashed: number;
  /** Workers terminated because their task ignored its abort signal past the grace period. */
  killed: number;
}

interface Job {
  readonly id: number;
  readonly taskId: string;
  readonly ctx: TaskContext;
  readonly message: RemoteTaskMessage;
  readonly spec: WorkerSpec;
  readonly signal: AbortSignal;
  readonly resolve: (outcome: RemoteOutcome) => void;
  readonly reject: (error: unknown) => void;
  onAbort?: () => void;
  done: boolean;
  worker?: PoolWorker<Job>;
  grace?: ReturnType<typeof setTimeout>;
}

function positive(name: string, value: number | undefined, fallback: number, int: boolean) {
  if (value === undefined) return fallback;
  const ok = int ? Number.isInteger(value) && value >= 1 : typeof value === "number" && value >= 0;
  if (!ok) {
    throw new RangeError(
      `Cannot create worker pool: ${name} must be ${
        int ? "a whole number >= 1" : "a number >= 0"
      }, got ${value}`,
    );
  }
  return value;
}

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
  readonly #name: string;
  readonly #workers = new Set<PoolWorker<Job>>();
  readonly #idle = new Map<string, PoolWorker<Job>[]>();
  readonly #hooks: PoolWorkerHooks<Job>;
  #idleCount = 0;
  #queue: Job[] = [];
  #head = 0;
  #queued = 0;
  #nextId = 1;
  #started = 0;
  #crashed = 0;
  #killed = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * Creates the pool; no worker starts before the first task.
   *
   * @param options Size, grace period, idle timeout, name.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: WorkerPoolOptions = {}) {
    this.#size = positive("size", options.size, navigator.hardwareConcurrency || 1, true);
    this.#graceMs = positive("terminateGraceMs", options.terminateGraceMs, 1000, false);
    this.#idleMs = positive("idleTimeoutMs", options.idleTimeoutMs, Infinity, false);
    this.#name = options.name ?? "graflow-worker";
    this.#hooks = {
      outcome: (w, m) => this.#onOutcome(w, m),
      call: (w, m) => this.#onCall(w, m),
      died: (w, reason, cause) => this.#onDied(w, reason, cause),
    };
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
    const spec = this.#spec(task);
    const message = toRemoteMessage(task, input, ctx);
    const outcome = await new Promise<RemoteOutcome>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        taskId: task.name,
        ctx,
        message,
        spec,
        signal,
        resolve,
        reject,
        done: false,
      };
      job.onAbort = () => this.#onAbort(job);
      signal.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#queued++;
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
    return {
      size: this.#size,
      workers: this.#workers.size,
      busy: this.#workers.size - this.#idleCount,
      queued: this.#queued,
      started: this.#started,
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
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const errors: unknown[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const job = this.#queue[i];
      if (!job.done) this.#fail(job, this.#closedError(job.taskId));
    }
    this.#queue = [];
    this.#head = 0;
    this.#queued = 0;
    for (const worker of this.#workers) {
      try {
        if (worker.job && !worker.job.done) {
          this.#fail(worker.job, this.#closedError(worker.job.taskId));
        }
        worker.terminate();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#workers.clear();
    this.#idle.clear();
    this.#idleCount = 0;
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

  #spec(task: Task): WorkerSpec {
    const perms = permissionKey(task.name, task.options.permissions);
    if (perms === "inherit") return { key: "inherit", entry: WEB_WORKER_URL };
    // A worker with restricted permissions cannot read (so cannot dynamically import) the task
    // module; modules of its static graph load with the host's rights. So these workers start
    // from an entry that imports both the worker runtime and the task module.
    const imports = [WEB_WORKER_URL, ...(task.module ? [task.module] : [])];
    const source = imports.map((url) => `import ${JSON.stringify(url)};`).join("\n");
    return {
      key: `${perms}\u0000${task.module ?? ""}`,
      entry: `data:application/javascript,${encodeURIComponent(source)}`,
      permissions: permissionsFromKey(perms),
    };
  }

  #dispatch(): void {
    while (this.#head < this.#queue.length && !this.#closed) {
      const job = this.#queue[this.#head];
      if (job.done) {
        this.#head++;
        continue;
      }
      let worker: PoolWorker<Job> | undefined;
      try {
        worker = this.#workerFor(job.spec);
      } catch (error) {
        this.#head++;
        this.#queued--;
        this.#fail(job, error);
        continue;
      }
      if (!worker) break;
      this.#head++;
      this.#queued--;
      worker.job = job;
      job.worker = worker;
      worker.send({ type: "run", id: job.id, message: job.message });
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#armIdleTimer();
  }

  #workerFor(spec: WorkerSpec): PoolWorker<Job> | undefined {
    const idle = this.#idle.get(spec.key);
    if (idle?.length) {
      this.#idleCount--;
      return idle.pop();
    }
    if (this.#workers.size >= this.#size) {
      // Full: make room by ending an idle worker of another permission set, if any.
      const victim = this.#takeAnyIdle();
      if (!victim) return undefined;
      this.#workers.delete(victim);
      victim.terminate();
    }
    const worker = new PoolWorker<Job>(spec, `${this.#name}-${this.#started + 1}`, this.#hooks);
    this.#started++;
    this.#workers.add(worker);
    return worker;
  }

  #takeAnyIdle(): PoolWorker<Job> | undefined {
    for (const list of this.#idle.values()) {
      const w = list.pop();
      if (w) {
        this.#idleCount--;
        return w;
      }
    }
    return undefined;
  }

  #release(worker: PoolWorker<Job>): void {
    worker.job = undefined;
    let list = this.#idle.get(worker.key);
    if (!list) this.#idle.set(worker.key, list = []);
    list.push(worker);
    this.#idleCount++;
  }

  #remove(worker: PoolWorker<Job>): void {
    this.#workers.delete(worker);
    if (worker.job !== undefined) return; // busy workers are not in an idle list
    const list = this.#idle.get(worker.key);
    const i = list?.indexOf(worker) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      this.#idleCount--;
    }
  }

  #armIdleTimer(): void {
    const busy = this.#workers.size - this.#idleCount;
    if (busy > 0 || this.#queued > 0) {
      if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      return;
    }
    if (this.#idleTimer !== undefined || !Number.isFinite(this.#idleMs)) return;
    if (this.#workers.size === 0) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#workers.size - this.#idleCount > 0 || this.#queued > 0) return;
      for (const w of this.#workers) w.terminate();
      this.#workers.clear();
      this.#idle.clear();
      this.#idleCount = 0;
    }, this.#idleMs);
  }

  #finish(job: Job): void {
    job.done = true;
    if (job.grace !== undefined) clearTimeout(job.grace);
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
      // Still queued: it never started.
      this.#queued--;
      this.#fail(job, job.signal.reason);
      this.#armIdleTimer();
      return;
    }
    worker.send({ type: "abort", id: job.id, reason: toErrorRecord(job.signal.reason) });
    job.grace = setTimeout(() => {
      if (job.done || worker.job !== job) return;
      this.#killed++;
      this.#remove(worker);
      worker.terminate();
      this.#fail(
        job,
        new WorkflowError(
          `Task "${job.taskId}" ignored its abort signal for ${this.#graceMs} ms: its Web Worker was terminated`,
          { code: "WORKER_TERMINATED", cause: job.signal.reason },
        ),
      );
      this.#dispatch();
    }, this.#graceMs);
  }

  #onOutcome(worker: PoolWorker<Job>, m: OutcomeMessage): void {
    const job = worker.job;
    if (!job || job.id !== m.id) return;
    this.#finish(job);
    this.#release(worker);
    this.#dispatch();
    job.resolve(m.outcome);
  }

  #onCall(worker: PoolWorker<Job>, m: CallMessage): void {
    const job = worker.job;
    if (!job || job.id !== m.id) {
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

  #onDied(worker: PoolWorker<Job>, reason: string, cause?: Error): void {
    this.#crashed++;
    this.#remove(worker);
    const job = worker.job;
    if (job && !job.done) {
      this.#fail(
        job,
        new WorkflowError(`Task "${job.taskId}" crashed its Web Worker: ${reason}`, {
          code: "WORKER_CRASHED",
          cause,
        }),
      );
    }
    this.#dispatch();
  }
}
