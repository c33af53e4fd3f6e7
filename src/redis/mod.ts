/**
 * Distributed runs on Redis: the run's channel in Redis, a lossless work queue on Redis Streams,
 * and the backend that sends a run's tasks to worker processes (`workers/main.ts`).
 *
 * ```ts ignore
 * import { flow } from "@graflow/graflow";
 * import { redisBackend } from "@graflow/graflow/redis";
 *
 * await using backend = redisBackend({ url: "redis://127.0.0.1:6379" });
 * const result = await flow`fetch >> (clean | enrich) >> merge`.run({ backend });
 * ```
 *
 * @module
 */
export { RedisChannel, type RedisChannelOptions } from "./redis_channel.ts";
export {
  connectRedis,
  DEFAULT_REDIS_URL,
  explainRedisError,
  type RedisConnectionOptions,
  type RedisTlsOptions,
} from "./connection.ts";
export { CONSUMER_GROUP, HANDBACK_CONSUMER, RedisKeys } from "./keys.ts";
export { RedisBackend, redisBackend, type RedisBackendOptions } from "./redis_backend.ts";
export {
  type JobState,
  type QueueEntry,
  RedisTaskQueue,
  type RedisTaskQueueOptions,
} from "./task_queue.ts";
export { RedisFeedbackStore, type RedisFeedbackStoreOptions } from "./redis_feedback_store.ts";
export { type CallRecord, type JobMessage, type OutcomeRecord, type ReplyRecord } from "./wire.ts";

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
  ChannelMethod,
  ContextCall,
  RemoteDirectives,
  RemoteOutcome,
  RemoteTaskMessage,
} from "../context/remote_context.ts";
export type {
  NormalizedRetry,
  RetryPolicy,
  Task,
  TaskFn,
  TaskOptions,
  WorkerPermissions,
} from "../graph/task.ts";
export type { ErrorRecord } from "../errors.ts";
