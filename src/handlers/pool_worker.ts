/**
 * One Web Worker of a {@linkcode WorkerPool}: starts it with its permission set, routes its
 * messages, and reports its death (crash, `self.close()`, failed start) exactly once.
 *
 * @module
 */
import { fromErrorRecord, WorkflowError } from "../errors.ts";
import type { Task, WorkerPermissions } from "../graph/task.ts";
import { permissionKey, permissionsFromKey } from "./worker_permissions.ts";
import { workerOptionsProblem } from "./worker_options_check.ts";
import {
  type CallMessage,
  decodeWorkerMessage,
  type HostMessage,
  type OutcomeMessage,
  type WorkerMessage,
} from "./worker_protocol.ts";

/** What a worker is started with. */
export interface WorkerSpec {
  /** Pool key: workers with equal keys are interchangeable. */
  key: string;
  /** Entry module URL (the Web Worker entry, or a module that imports it and the task module). */
  entry: string;
  /** `deno.permissions`; `undefined` inherits (and needs no unstable flag). */
  permissions?: WorkerPermissions;
}

/** URL of the Web Worker entry module. */
const WEB_WORKER_URL = new URL("../../workers/web_worker.ts", import.meta.url).href;

/**
 * How to start a worker for `task`: with inherited permissions, the shared entry (which imports
 * task modules as needed); with its own permission set, an entry that imports the worker runtime
 * and the task module, because a worker with restricted permissions cannot read (so cannot
 * dynamically import) the task module, while modules of its static graph load with the host's
 * rights.
 *
 * @param task The task.
 * @returns The spec; equal keys mean interchangeable workers.
 * @throws {TypeError} When the task's `permissions` option is malformed.
 */
export function workerSpec(task: Task): WorkerSpec {
  const perms = permissionKey(task.name, task.options.permissions);
  if (perms === "inherit") return { key: "inherit", entry: WEB_WORKER_URL };
  const imports = [WEB_WORKER_URL, ...(task.module ? [task.module] : [])];
  const source = imports.map((url) => `import ${JSON.stringify(url)};`).join("\n");
  return {
    key: `${perms}\u0000${task.module ?? ""}`,
    entry: `data:application/javascript,${encodeURIComponent(source)}`,
    permissions: permissionsFromKey(perms),
  };
}

/** Why a worker's running task failed when it died. */
export type DeathCode = "WORKER_CRASHED" | "WORKER_PROTOCOL";

/** Callbacks of a {@linkcode PoolWorker}. */
export interface PoolWorkerHooks<J> {
  /** A job finished. */
  outcome(worker: PoolWorker<J>, message: OutcomeMessage): void;
  /** A job made a `ctx` call. */
  call(worker: PoolWorker<J>, message: CallMessage): void;
  /**
   * The worker died or was retired (it is already terminated); `reason` completes "crashed its
   * Web Worker: …"; `code` is `"WORKER_CRASHED"`, or `"WORKER_PROTOCOL"` when it sent a message
   * the host refused.
   */
  died(worker: PoolWorker<J>, reason: string, cause?: Error, code?: DeathCode): void;
}

/** @internal A started Web Worker and the jobs sent to it. */
export class PoolWorker<J> {
  /** Pool key. */
  readonly key: string;
  /** Its jobs in the order it runs them: the first is running, the others wait in the worker. */
  readonly jobs: J[] = [];
  /** True until its first job finished (that one's time includes starting the worker). */
  fresh = true;
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
    const problem = spec.permissions === undefined ? undefined : workerOptionsProblem();
    if (problem) {
      throw new WorkflowError(`Cannot start Web Worker: ${problem}`, {
        code: "WORKER_START_FAILED",
      });
    }
    try {
      this.#worker = new Worker(spec.entry, options);
    } catch (error) {
      // e.g. "Can't escalate parent thread permissions" (a task asks for more than the host has).
      const message = (error as Error)?.message ?? String(error);
      throw new WorkflowError(`Cannot start Web Worker: ${message}`, {
        code: "WORKER_START_FAILED",
        cause: error,
      });
    }
    this.#worker.onmessage = (e: MessageEvent<unknown>) => this.#receive(e.data);
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

  #receive(data: unknown): void {
    if (!this.#alive) return;
    let m: WorkerMessage;
    try {
      m = decodeWorkerMessage(data);
    } catch (error) {
      return this.refuse(`it sent a malformed message: ${(error as Error).message}`);
    }
    switch (m.type) {
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
        this.#die(`the worker ended itself (${m.how.slice(0, 200)})`);
    }
  }

  /**
   * Retires the worker because of a message the host refused (malformed, or about a job it is
   * not running): its running task fails with `WORKER_PROTOCOL`.
   *
   * @param why What was wrong.
   */
  refuse(why: string): void {
    this.#die(`the host refused a message from the worker: ${why}`, undefined, "WORKER_PROTOCOL");
  }

  #die(reason: string, cause?: Error, code: DeathCode = "WORKER_CRASHED"): void {
    if (!this.#alive) return;
    this.terminate();
    this.#hooks.died(this, reason, cause, code);
  }
}
