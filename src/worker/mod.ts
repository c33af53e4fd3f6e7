/**
 * Worker processes for distributed runs on Redis: `runWorker()` reserves jobs from the queue,
 * runs their tasks, and reports outcomes; `workers/main.ts` is the ready-made CLI around it.
 *
 * A worker runs only the tasks of the modules it imported at start (`modules`), or of modules
 * its `allowImport` list permits; a queue entry that names anything else is dead-lettered, never
 * imported. See `SECURITY.md`.
 *
 * @module
 */
export { type GraflowWorker, runWorker } from "./run_worker.ts";
export type { WorkerHealth } from "./worker_health.ts";
export type { RunWorkerOptions, WorkerEvent } from "./worker_options.ts";
export type { WorkerMetrics } from "./worker_metrics.ts";
export type { RedisConnectionOptions, RedisTlsOptions } from "../redis/connection.ts";
export {
  Orchestrator,
  type OrchestratorEvent,
  type OrchestratorOptions,
  runOrchestrator,
} from "./orchestrator.ts";
export type { ContinueOptions } from "../run/continue_run.ts";
