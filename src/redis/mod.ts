/**
 * Distributed runs on Redis: the backend that sends a run's tasks to worker processes
 * (`workers/main.ts`, or your own program around `runWorker` from `@graflow/graflow/worker`),
 * the run's channel in Redis, and a feedback store for human-in-the-loop answers given from
 * anywhere.
 *
 * Data never chooses code: a queue entry names a task, and a worker runs it only when the
 * modules its operator gave it define it. With a `secret` shared by producers and workers, every
 * message is signed and bound to its run, job or call and direction; without one, Redis must be
 * on this machine unless `insecure: true` says otherwise. See `SECURITY.md`.
 *
 * ```ts ignore
 * import { flow } from "@graflow/graflow";
 * import { redisBackend } from "@graflow/graflow/redis";
 *
 * await using backend = redisBackend({ url: "redis://127.0.0.1:6379", secret: "s3cret" });
 * const result = await flow`fetch >> (clean | enrich) >> merge`.run({ backend });
 * ```
 *
 * @module
 */
export {
  RedisBackend,
  redisBackend,
  type RedisBackendEvent,
  type RedisBackendOptions,
} from "./redis_backend.ts";
export { RedisChannel, type RedisChannelOptions } from "./redis_channel.ts";
export { RedisFeedbackStore, type RedisFeedbackStoreOptions } from "./redis_feedback_store.ts";
export { RedisRunStore, redisRunStore, type RedisRunStoreOptions } from "./redis_run_store.ts";
export type { RedisConnectionOptions, RedisTlsOptions } from "./connection.ts";

// Core types the exports above refer to (the same as those of the main entry point).
export type { Backend } from "../engine/run_options.ts";
export type { TaskHandler } from "../handlers/task_handler.ts";
export type { FeedbackRecord, FeedbackStore } from "../checkpoint/feedback_store.ts";
export type {
  CheckpointInfo,
  CheckpointMetadata,
  CheckpointOptions,
  FeedbackRequest,
  FeedbackResponse,
  NextOptions,
  TaskContext,
} from "../context/task_context.ts";
export type { Channel, ChannelSnapshot, SetOptions, SnapshotChannel } from "../channels/channel.ts";
export type {
  NormalizedRetry,
  RetryPolicy,
  Task,
  TaskOptions,
  WorkerPermissions,
} from "../graph/task.ts";
