/**
 * The shared worker pool behind the built-in `"worker"` handler.
 *
 * @module
 */
import { WorkerPool } from "./worker_pool.ts";
import { ProcessPool } from "./process/process_pool.ts";

/** Idle time after which the shared pool terminates its workers (so that scripts can exit). */
export const DEFAULT_POOL_IDLE_TIMEOUT_MS = 1000;

let shared: WorkerPool | undefined;

/**
 * The process-wide pool used by `{ handler: "worker" }`, `parallel([...], { executor: "workers" })`
 * and `run({ executor: "workers" })`, created on first use with `size` =
 * `navigator.hardwareConcurrency`. Its workers are terminated after
 * {@linkcode DEFAULT_POOL_IDLE_TIMEOUT_MS} without work, so a process that used it can exit; the
 * next task starts them again.
 *
 * @returns The shared pool (a new one after {@linkcode closeDefaultWorkerPool}).
 *
 * @example Inspecting the shared pool
 * ```ts
 * import { closeDefaultWorkerPool, defaultWorkerPool } from "@graflow/graflow";
 * const pool = defaultWorkerPool();
 * if (pool.stats().size !== navigator.hardwareConcurrency) throw new Error("unexpected");
 * await closeDefaultWorkerPool();
 * ```
 */
export function defaultWorkerPool(): WorkerPool {
  if (!shared || shared.closed) {
    shared = new WorkerPool({
      idleTimeoutMs: DEFAULT_POOL_IDLE_TIMEOUT_MS,
      name: "graflow-default-worker",
    });
  }
  return shared;
}

/**
 * Closes the shared pool now (tasks still running on it fail with `"POOL_CLOSED"`); a later
 * worker task creates a new one. Use it at the end of tests and scripts that should exit at once.
 *
 * @returns A promise that resolves when its workers are terminated.
 *
 * @example Closing the shared pool
 * ```ts
 * import { closeDefaultWorkerPool } from "@graflow/graflow";
 * await closeDefaultWorkerPool(); // idempotent
 * ```
 */
export async function closeDefaultWorkerPool(): Promise<void> {
  const pool = shared;
  const processes = sharedProcesses;
  shared = undefined;
  sharedProcesses = undefined;
  await pool?.close();
  await processes?.close();
}

let sharedProcesses: ProcessPool | undefined;

/**
 * The process-wide pool behind the built-in `"process"` handler (a subprocess per task, with
 * the task's permissions and the default heap limit), created on first use. Pass
 * `run({ handlers: { process: new ProcessPool({...}) } })` to choose its limits.
 *
 * @returns The shared process pool.
 */
export function defaultProcessPool(): ProcessPool {
  if (!sharedProcesses || sharedProcesses.closed) {
    sharedProcesses = new ProcessPool({ idleTimeoutMs: DEFAULT_POOL_IDLE_TIMEOUT_MS });
  }
  return sharedProcesses;
}
