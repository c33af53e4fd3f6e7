/**
 * Graflow for Deno: workflows of plain functions wired with a tagged template.
 *
 * ```ts
 * import { flow, task } from "@graflow/graflow";
 *
 * task("fetch", () => [3, 1, 2]);
 * task("clean", (xs: number[]) => xs.filter((x) => x > 1));
 * task("enrich", (xs: number[]) => xs.length);
 * task("merge", (r: { clean: number[]; enrich: number }) => ({ kept: r.clean, seen: r.enrich }));
 *
 * const result = await flow`fetch >> (clean | enrich) >> merge`.run();
 * console.log(result.output); // { kept: [3, 2], seen: 3 }
 * ```
 *
 * `>>` is sequence, `|` a parallel group; tasks can add tasks, jump or iterate at run time;
 * groups have error policies; runs can checkpoint and resume, wait for people, and run tasks
 * on Web Workers (`handler: "worker"`), Redis workers (`@graflow/graflow/redis`) or in containers
 * (`@graflow/graflow/docker`).
 *
 * @module
 */
export {
  type NormalizedRetry,
  type RetryPolicy,
  Task,
  task,
  type TaskFn,
  type TaskOptions,
  type WorkerPermissions,
} from "./src/graph/task.ts";
export { Flow, flow } from "./src/dsl/flow.ts";
export { Group, type HasGraph, parallel, type ParallelOptions } from "./src/dsl/build.ts";
export { FlowSyntaxError } from "./src/dsl/flow_syntax_error.ts";
export {
  type Fragment,
  Graph,
  type GraphNode,
  type GroupExecutor,
  type GroupMember,
  type GroupSpec,
} from "./src/graph/graph.ts";
export type { RenderEdge, RenderGroup, RenderModel, RenderNode } from "./src/graph/render.ts";
export type {
  ActivationKind,
  DynamicTaskRecord,
  FeedbackState,
  MemberRunState,
  PendingActivation,
  RunStateData,
  TraceEdge,
} from "./src/context/run_state.ts";
export type { FeedbackRecord, FeedbackStore } from "./src/checkpoint/feedback_store.ts";
export {
  type CheckpointContents,
  createCheckpoint,
  type CreateCheckpointOptions,
  loadCheckpoint,
} from "./src/checkpoint/checkpointer.ts";
export { resume, type ResumeOptions, startResume } from "./src/checkpoint/resume.ts";
export { type FeedbackTarget, provideFeedback } from "./src/checkpoint/feedback.ts";
export {
  FileFeedbackStore,
  type FileFeedbackStoreOptions,
} from "./src/checkpoint/file_feedback_store.ts";
export { MemoryFeedbackStore } from "./src/checkpoint/memory_feedback_store.ts";
export { SCHEMA_VERSION } from "./src/checkpoint/format.ts";
export { ExecutedGraph } from "./src/graph/executed_graph.ts";
export {
  applyPolicy,
  atLeast,
  bestEffort,
  critical,
  type GroupOutcome,
  type GroupPolicy,
  policyFromSpec,
  type PolicySpec,
  strict,
} from "./src/graph/policies.ts";
export {
  CheckpointError,
  CycleLimitExceededError,
  type ErrorRecord,
  fromErrorRecord,
  type GroupFailure,
  NonErrorThrownError,
  ParallelGroupError,
  registerErrorClass,
  RetryLimitExceededError,
  TaskFailedError,
  TaskTimeoutError,
  toErrorRecord,
  WorkflowCanceledError,
  WorkflowError,
  type WorkflowErrorOptions,
} from "./src/errors.ts";
export type { Backend, RunOptions, RunResult, RunStatus } from "./src/engine/run_options.ts";
export { WorkflowRun } from "./src/engine/workflow_run.ts";
export { sleep } from "./src/time/sleep.ts";
export {
  type CheckpointInfo,
  type CheckpointMetadata,
  type CheckpointOptions,
  DirectiveRecorder,
  type FeedbackRequest,
  type FeedbackResponse,
  type NextOptions,
  type TaskContext,
} from "./src/context/task_context.ts";
export type {
  Channel,
  ChannelSnapshot,
  SetOptions,
  SnapshotChannel,
} from "./src/channels/channel.ts";
export { MemoryChannel, type MemoryChannelOptions } from "./src/channels/memory_channel.ts";
export { decodeValue, encodeValue } from "./src/channels/codec.ts";
export { directHandler, type TaskHandler } from "./src/handlers/task_handler.ts";
export { WorkerPool } from "./src/handlers/worker_pool.ts";
export {
  type ProcessOutputLine,
  ProcessPool,
  type ProcessPoolOptions,
  type ProcessPoolStats,
} from "./src/handlers/process/process_pool.ts";
export type { WorkerPoolOptions, WorkerPoolStats } from "./src/handlers/worker_pool_options.ts";
export {
  closeDefaultWorkerPool,
  DEFAULT_POOL_IDLE_TIMEOUT_MS,
  defaultWorkerPool,
} from "./src/handlers/default_worker_pool.ts";
export type {
  EventListener,
  WorkflowEvent,
  WorkflowEventBase,
} from "./src/observability/events.ts";
