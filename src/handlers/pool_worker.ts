/**
 * One Web Worker of a {@linkcode WorkerPool}: starts it with its permission set, routes its
 * messages, and reports its death (crash, `self.close()`, failed start) exactly once.
 *
 * @module
 */
import { fromErrorRecord, WorkflowError } from "../engine/errors.ts";
import type { WorkerPermissions } from "../graph/task.ts";
import type { CallMessage, HostMessage, OutcomeMessage, WorkerMessage } from "./worker_protocol.ts";

/** What a worker is started with. */
export interface WorkerSpec {
  /** Pool key: workers with equal keys are interchangeable. */
  key: string;
  /** Entry module URL (the Web Worker entry, or a module that imports it and the task module). */
  entry: string;
  /** `deno.permissions`; `undefined` inherits (and needs no unstable flag). */
  permissions?: WorkerPermissions;
}

/** Callbacks of a {@linkcode PoolWorker}. */
export interface PoolWorkerHooks<J> {
  /** A job finished. */
  outcome(worker: PoolWorker<J>, message: OutcomeMessage): void;
  /** A job made a `ctx` call. */
  call(worker: PoolWorker<J>, message: CallMessage): void;
  /** The worker died (it is already terminated); `reason` completes "crashed its Web Worker: …". */
  died(worker: PoolWorker<J>, reason: string, cause?: Error): void;
}

/** @internal A started Web Worker and the job it runs. */
export class PoolWorker<J> {
  /** Pool key. */
  readonly key: string;
  /** The job it runs, if any. */
  job: J | undefined;
  /** When it became idle (`performance.now()`). */
  idleSince = 0;
  readonly #worker: Worker;
  readonly #hooks: PoolWorkerHooks<J>;
  #alive = true;

  /**
   * Starts the worker.
   *
   * @param spec Entry, permissions, key.
   * @param name Worker name (shows in stack traces).
   * @param hooks Callbacks.
   * @throws {WorkflowError} `WORKER_START_FAILED` when Deno refuses to start it.
   */
  constructor(spec: WorkerSpec, name: string, hooks: PoolWorkerHooks<J>) {
    this.key = spec.key;
    this.#hooks = hooks;
    const options: WorkerOptions & { deno?: { permissions: WorkerPermissions } } = {
      type: "module",
      name,
    };
    if (spec.permissions !== undefined) options.deno = { permissions: spec.permissions };
    try {
      this.#worker = new Worker(spec.entry, options);
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      const hint = message.includes("unstable-worker-options")
        ? ` (task permissions need Deno's worker options: run with --unstable-worker-options or add "unstable": ["worker-options"] to deno.json)`
        : "";
      throw new WorkflowError(`Cannot start Web Worker: ${message}${hint}`, {
        code: "WORKER_START_FAILED",
        cause: error,
      });
    }
    this.#worker.onmessage = (e: MessageEvent<WorkerMessage>) => this.#receive(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const cause = e.error instanceof Error ? e.error : undefined;
      this.#die(`the worker failed: ${e.message || "unknown error"}`, cause);
    };
    this.#worker.onmessageerror = () => this.#die("a message from the worker could not be read");
  }

  /** False once it died or was terminated. */
  get alive(): boolean {
    return this.#alive;
  }

  /**
   * Sends a message (ignored once the worker is gone).
   *
   * @param message The message.
   */
  send(message: HostMessage): void {
    if (this.#alive) this.#worker.postMessage(message);
  }

  /** Terminates the worker at once (idempotent). */
  terminate(): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.#worker.terminate();
  }

  #receive(m: WorkerMessage): void {
    if (!this.#alive) return;
    switch (m?.type) {
      case "outcome":
        this.#hooks.outcome(this, m);
        return;
      case "call":
        this.#hooks.call(this, m);
        return;
      case "crash": {
        const cause = fromErrorRecord(m.error);
        this.#die(`${m.kind} in the worker: ${cause.name}: ${cause.message}`, cause);
        return;
      }
      case "exit":
        this.#die(`the worker ended itself (${m.how})`);
        return;
      default:
        this.#die(`the worker sent an unknown message ${JSON.stringify(m)?.slice(0, 100)}`);
    }
  }

  #die(reason: string, cause?: Error): void {
    if (!this.#alive) return;
    this.terminate();
    this.#hooks.died(this, reason, cause);
  }
}
