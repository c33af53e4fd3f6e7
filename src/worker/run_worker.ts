/**
 * `runWorker()`: starts a worker process's loop. Reserve jobs from the Redis queue (blocking,
 * batched), run each task, record its outcome and acknowledge in one step; renew leases while
 * tasks run; reclaim the jobs of dead workers; dead-letter poison messages; on stop, finish
 * in-flight tasks within the grace period and hand back the rest at once.
 *
 * @module
 */
import { envVar } from "../redis/connection.ts";
import { GraflowWorker } from "./graflow_worker.ts";
import { normalizeWorkerOptions, type RunWorkerOptions } from "./worker_options.ts";

export { GraflowWorker } from "./graflow_worker.ts";
export type { RunWorkerOptions, WorkerEvent } from "./worker_options.ts";

/**
 * Starts a worker: connects to Redis, imports `modules`, and runs tasks from the queue until
 * stopped (`worker.stop()`, the `signal`, or `await using`).
 *
 * @param options Connection, prefix, modules, concurrency, lease, secret, grace, metrics port.
 * @returns The running worker.
 * @throws {TypeError | RangeError} When an option is malformed.
 * @throws {Error} When a module fails to import or Redis cannot be reached.
 *
 * @example A worker program
 * ```ts ignore
 * import { runWorker } from "@graflow/graflow/worker";
 * const worker = await runWorker({
 *   url: "redis://127.0.0.1:6379",
 *   modules: [new URL("./tasks.ts", import.meta.url).href],
 *   concurrency: 10,
 * });
 * Deno.addSignalListener("SIGTERM", () => worker.stop());
 * await worker.finished;
 * ```
 */
export async function runWorker(options: RunWorkerOptions = {}): Promise<GraflowWorker> {
  const worker = new GraflowWorker(normalizeWorkerOptions(options, envVar));
  try {
    await worker.start();
  } catch (error) {
    await worker.stop().catch(() => {});
    throw error;
  }
  return worker;
}
