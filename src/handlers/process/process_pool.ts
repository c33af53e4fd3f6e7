/**
 * `ProcessPool`: runs tasks in `deno run` subprocesses, each with its own heap limit and Deno
 * permissions: the executor for code you do not trust.
 *
 * @module
 */
import {
  type RemoteOutcome,
  type RemoteTaskMessage,
  serveContextCall,
  settleOutcome,
  toRemoteMessage,
} from "../../context/remote_context.ts";
import type { TaskContext } from "../../context/task_context.ts";
import { toErrorRecord, WorkflowError } from "../../errors.ts";
import type { Task } from "../../graph/task.ts";
import { setLongTimer, type Timer } from "../../time/clock.ts";
import type { TaskHandler } from "../task_handler.ts";
import { checkCall, checkOutcome, parseFrame } from "../docker/frames.ts";
import { randomNonce } from "../nonce.ts";
import {
  type NormalizedProcessOptions,
  normalizeProcessOptions,
  type ProcessPoolOptions,
  type ProcessPoolStats,
} from "./process_options.ts";
import { type ProcessSpec, processSpec } from "./process_spec.ts";
import { crashError, ProcessWorker, protocolError } from "./process_worker.ts";

export type { ProcessOutputLine, ProcessPoolOptions, ProcessPoolStats } from "./process_options.ts";

interface Job {
  readonly taskId: string;
  readonly nonce: string;
  readonly ctx: TaskContext;
  readonly message: RemoteTaskMessage;
  readonly spec: ProcessSpec;
  readonly resolve: (outcome: RemoteOutcome) => void;
  readonly reject: (error: unknown) => void;
  onAbort?: () => void;
  done: boolean;
  worker?: ProcessWorker<Job>;
  timers: Timer[];
}

/**
 * A pool of `deno run` subprocesses that run tasks, and the `TaskHandler` for code you do not
 * trust: register it as `run({ handlers: { process: pool } })` and mark tasks
 * `{ handler: "process" }` (or pass it as `"direct"` to run every task of a flow this way).
 *
 * Each subprocess runs one task at a time with its own V8 heap (`maxHeapMb`) and the Deno
 * permissions of the task's `permissions` option (`"inherit"` by default: what this process
 * holds; never more). A task that runs out of memory, crashes or exits ends only its own process
 * and fails alone (`OUT_OF_MEMORY`, `PROCESS_CRASHED`); other tasks and runs go on. By default a
 * process runs a single task and is replaced, so nothing a task leaves behind reaches another.
 * Only JSON crosses: the task's input, its result, its `ctx` calls and its error, in the
 * container runner's framed protocol, each frame bound to its task by a random nonce and checked
 * before use; tasks a subprocess names in `ctx.next()` are resolved by name in this process's
 * registry, and a checkpoint path chosen in a subprocess is refused.
 *
 * @example A pool of two subprocesses with a 64 MiB heap each
 * ```ts
 * import { ProcessPool } from "@graflow/graflow";
 * await using pool = new ProcessPool({ size: 2, maxHeapMb: 64 });
 * // await flow`...`.run({ handlers: { process: pool } });
 * if (pool.stats().size !== 2) throw new Error("unexpected");
 * ```
 */
export class ProcessPool implements TaskHandler, AsyncDisposable {
  readonly #o: NormalizedProcessOptions;
  readonly #procs = new Set<ProcessWorker<Job>>();
  #queue: Job[] = [];
  #started = 0;
  #crashed = 0;
  #killed = 0;
  #idleTimer: Timer | undefined;
  #closed = false;

  /**
   * Creates the pool; no process starts before the first task.
   *
   * @param options Size, heap limit, tasks per process, timeouts.
   * @throws {RangeError} When a number is out of range.
   * @throws {TypeError} When an option has the wrong type.
   */
  constructor(options: ProcessPoolOptions = {}) {
    this.#o = normalizeProcessOptions(options);
  }

  /**
   * Runs `task` in a subprocess (the `TaskHandler` method).
   *
   * @param task The task; `task.module` must define it.
   * @param input Its input (structured data).
   * @param ctx The run's context of this attempt; its calls are served from the subprocess.
   * @returns The task's result.
   * @throws {WorkflowError} `POOL_CLOSED`, `PROCESS_START_FAILED`, `PROCESS_CRASHED`,
   * `OUT_OF_MEMORY`, `PROCESS_TIMEOUT`, `PROCESS_TERMINATED`, `PROCESS_PROTOCOL`,
   * `OUTPUT_TOO_LARGE`; or what the task threw, with its class, message and stack.
   * @throws {TypeError} When the input or the task's `permissions` cannot be used.
   */
  async execute(task: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    if (this.#closed) throw this.#closedError(task.name);
    ctx.signal.throwIfAborted();
    const spec = processSpec(task, this.#o);
    const message = toRemoteMessage(task, input, ctx);
    const outcome = await new Promise<RemoteOutcome>((resolve, reject) => {
      const job: Job = {
        taskId: task.name,
        nonce: randomNonce(),
        ctx,
        message,
        spec,
        resolve,
        reject,
        done: false,
        timers: [],
      };
      job.onAbort = () => this.#onAbort(job);
      ctx.signal.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
    return await settleOutcome(ctx, checkOutcome(task.name, outcome, "subprocess"));
  }

  /**
   * Current counters.
   *
   * @returns Processes alive, busy, queued tasks and lifetime counts.
   */
  stats(): ProcessPoolStats {
    let busy = 0;
    for (const p of this.#procs) if (p.job) busy++;
    return {
      size: this.#o.size,
      processes: this.#procs.size,
      busy,
      queued: this.#queue.length,
      started: this.#started,
      crashed: this.#crashed,
      killed: this.#killed,
    };
  }

  /** True once {@linkcode ProcessPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Kills every subprocess; running and queued tasks fail with `WorkflowError` code
   * `"POOL_CLOSED"`. Resolves once every process has exited. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#idleTimer?.clear();
      for (const job of this.#queue.splice(0)) this.#fail(job, this.#closedError(job.taskId));
      for (const p of this.#procs) {
        if (p.job) this.#fail(p.job, this.#closedError(p.job.taskId));
        p.killedOnPurpose = true;
        p.kill();
      }
    }
    await Promise.all([...this.#procs].map((p) => p.ended));
  }

  /** Same as {@linkcode ProcessPool.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #closedError(taskId: string): WorkflowError {
    return new WorkflowError(
      `Cannot run task "${taskId}" in a subprocess: the process pool is closed`,
      { code: "POOL_CLOSED" },
    );
  }

  #dispatch(): void {
    for (let i = 0; i < this.#queue.length && !this.#closed;) {
      const job = this.#queue[i];
      let worker: ProcessWorker<Job> | undefined;
      try {
        worker = this.#processFor(job.spec);
      } catch (error) {
        this.#queue.splice(i, 1);
        this.#fail(job, error);
        continue;
      }
      if (!worker) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#start(worker, job);
    }
    this.#armIdleTimer();
  }

  /** An idle process for `spec`, a new one, or none when the pool is full. */
  #processFor(spec: ProcessSpec): ProcessWorker<Job> | undefined {
    for (const p of this.#procs) if (!p.job && p.alive && p.key === spec.key) return p;
    if (this.#procs.size >= this.#o.size) {
      const idle = [...this.#procs].find((p) => !p.job);
      if (!idle) return undefined;
      this.#retire(idle);
    }
    const p = new ProcessWorker<Job>(spec, this.#o.deno, this.#o.maxMessageBytes, {
      frame: (w, json) => this.#onFrame(w, json),
      log: (w, stream, line) =>
        this.#o.onOutput?.({
          taskId: w.job?.taskId,
          runId: w.job?.ctx.runId,
          stream,
          line,
        }),
      overflow: (w) =>
        this.#breach(
          w,
          new WorkflowError(
            `Cannot accept the output of task "${w.job?.taskId}": its subprocess sent a ` +
              `message of more than ${this.#o.maxMessageBytes} bytes (maxMessageBytes); it was killed`,
            { code: "OUTPUT_TOO_LARGE" },
          ),
        ),
      exited: (w, status, lines) => this.#onExit(w, status, lines),
    });
    this.#started++;
    this.#procs.add(p);
    return p;
  }

  #start(worker: ProcessWorker<Job>, job: Job): void {
    worker.job = job;
    job.worker = worker;
    worker.send({ t: "task", nonce: job.nonce, message: job.message });
    const limit = this.#o.timeoutMs;
    if (limit !== undefined) {
      job.timers.push(setLongTimer(() => {
        this.#killed++;
        this.#kill(
          worker,
          new WorkflowError(
            `Cannot finish task "${job.taskId}" in a subprocess: no result after ${limit} ms ` +
              "(ProcessPool timeoutMs); its process was killed",
            { code: "PROCESS_TIMEOUT" },
          ),
        );
      }, limit));
    }
  }

  #onFrame(worker: ProcessWorker<Job>, json: string): void {
    const job = worker.job;
    if (!job) {
      worker.killedOnPurpose = true;
      worker.kill();
      return;
    }
    let frame;
    try {
      frame = parseFrame(job.taskId, json, job.nonce, protocolError);
    } catch (error) {
      return this.#breach(worker, error as WorkflowError);
    }
    if (frame.t === "call") {
      const id = frame.id;
      Promise.resolve()
        .then(() => serveContextCall(job.ctx, checkCall(job.taskId, frame.call, "subprocess")))
        .then(
          (value) => worker.job === job && worker.send({ t: "answer", id, ok: true, value }),
          (error) =>
            worker.job === job &&
            worker.send({ t: "answer", id, ok: false, error: toErrorRecord(error) }),
        );
      return;
    }
    worker.job = undefined;
    worker.tasksRun++;
    if (worker.tasksRun >= this.#o.maxTasksPerProcess) this.#retire(worker);
    if (!job.done) {
      this.#finish(job);
      job.resolve(frame.outcome);
    }
    this.#dispatch();
  }

  /** A process broke the protocol: its task fails with `error`, the process is killed. */
  #breach(worker: ProcessWorker<Job>, error: WorkflowError): void {
    this.#crashed++;
    this.#kill(worker, error);
  }

  /** Kills `worker`; its running task fails with `error` now. */
  #kill(worker: ProcessWorker<Job>, error: unknown): void {
    worker.killedOnPurpose = true;
    worker.kill();
    this.#procs.delete(worker);
    const job = worker.job;
    worker.job = undefined;
    if (job && !job.done) this.#fail(job, error);
    this.#dispatch();
  }

  /** Ends an idle process (or one that reached `maxTasksPerProcess`) by closing its stdin. */
  #retire(worker: ProcessWorker<Job>): void {
    this.#procs.delete(worker);
    worker.retire();
    // A runner that does not exit when told to (a task patched it) is killed.
    const timer = setLongTimer(() => worker.kill(), this.#o.terminateGraceMs);
    worker.ended.then(() => timer.clear());
  }

  #onExit(worker: ProcessWorker<Job>, status: Deno.CommandStatus, lines: string[]): void {
    this.#procs.delete(worker);
    const job = worker.job;
    worker.job = undefined;
    if (job && !job.done && !worker.killedOnPurpose) {
      this.#crashed++;
      this.#fail(job, crashError(job.taskId, status, lines, this.#o.maxHeapMb));
    }
    this.#dispatch();
  }

  #onAbort(job: Job): void {
    if (job.done) return;
    const worker = job.worker;
    const reason = job.ctx.signal.reason;
    if (!worker) {
      this.#queue = this.#queue.filter((j) => j !== job);
      this.#fail(job, reason);
      this.#armIdleTimer();
      return;
    }
    worker.send({ t: "abort", nonce: job.nonce, reason: toErrorRecord(reason) });
    const grace = this.#o.terminateGraceMs;
    job.timers.push(setLongTimer(() => {
      if (worker.job !== job) return;
      this.#killed++;
      this.#kill(
        worker,
        new WorkflowError(
          `Task "${job.taskId}" ignored its abort signal for ${grace} ms: its subprocess was killed`,
          { code: "PROCESS_TERMINATED", cause: reason },
        ),
      );
    }, grace));
  }

  #armIdleTimer(): void {
    const busy = [...this.#procs].some((p) => p.job) || this.#queue.length > 0;
    if (busy || this.#procs.size === 0 || !Number.isFinite(this.#o.idleTimeoutMs)) {
      this.#idleTimer?.clear();
      this.#idleTimer = undefined;
      return;
    }
    if (this.#idleTimer) return;
    this.#idleTimer = setLongTimer(() => {
      this.#idleTimer = undefined;
      for (const p of [...this.#procs]) if (!p.job) this.#retire(p);
    }, this.#o.idleTimeoutMs);
  }

  #finish(job: Job): void {
    job.done = true;
    for (const t of job.timers) t.clear();
    job.timers = [];
    if (job.onAbort) job.ctx.signal.removeEventListener("abort", job.onAbort);
  }

  #fail(job: Job, error: unknown): void {
    if (job.done) return;
    this.#finish(job);
    job.reject(error);
  }
}
