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
// Tasks and flows
export {
  type RetryPolicy,
  Task,
  task,
  type TaskFn,
  type TaskOptions,
  type WorkerPermissions,
} from "./src/graph/task.ts";
export { Flow, flow } from "./src/dsl/flow.ts";
export { registerFlow } from "./src/dsl/flow_registry.ts";
export { Group, parallel, type ParallelOptions } from "./src/dsl/build.ts";
export { map, MapNode, type MapOptions } from "./src/graph/map.ts";
export { FlowSyntaxError } from "./src/dsl/flow_syntax_error.ts";
export {
  atLeast,
  bestEffort,
  critical,
  firstSuccess,
  type GroupOutcome,
  type GroupPolicy,
  type PolicySpec,
  strict,
} from "./src/graph/policies.ts";
export type { GroupExecutor } from "./src/graph/graph.ts";
// Errors
export {
  CheckpointError,
  CycleLimitExceededError,
  type ErrorRecord,
  type GroupFailure,
  isNonRetryable,
  NonErrorThrownError,
  NonRetryableError,
  ParallelGroupError,
  registerErrorClass,
  RetryLimitExceededError,
  TaskFailedError,
  TaskTimeoutError,
  WorkflowCanceledError,
  WorkflowError,
  type WorkflowErrorOptions,
} from "./src/errors.ts";
// Running
export type { Backend, RunOptions, RunResult, RunStatus } from "./src/engine/run_options.ts";
export { type CrashPoint, SimulatedCrash } from "./src/engine/simulated_crash.ts";
export {
  createCheckpoint,
  type CreateCheckpointOptions,
  WorkflowRun,
} from "./src/run/workflow_run.ts";
export type {
  CheckpointInfo,
  CheckpointMetadata,
  CheckpointOptions,
  FeedbackRequest,
  FeedbackResponse,
  MapCallOptions,
  NextOptions,
  RunNotice,
  TaskContext,
} from "./src/context/task_context.ts";
export type { Clock, Timer } from "./src/time/clock.ts";
export { sleep } from "./src/time/sleep.ts";
// Checkpoints and human in the loop
export { resume, type ResumeOptions, startResume } from "./src/run/resume.ts";
export { type CheckpointContents, loadCheckpoint } from "./src/checkpoint/load.ts";
export type {
  ActivationKind,
  DynamicTaskRecord,
  MapRunData,
  MemberRunState,
  PendingActivation,
  RunningExecution,
  RunStateData,
  TraceEdge,
} from "./src/state/run_state_data.ts";
export { type FeedbackTarget, provideFeedback } from "./src/checkpoint/feedback.ts";
export type {
  FeedbackCancellation,
  FeedbackListOptions,
  FeedbackRecord,
  FeedbackStore,
} from "./src/checkpoint/feedback_store.ts";
export {
  FileFeedbackStore,
  type FileFeedbackStoreOptions,
} from "./src/checkpoint/file_feedback_store.ts";
export { MemoryFeedbackStore } from "./src/checkpoint/memory_feedback_store.ts";
// Durable runs
export {
  LocalRunStore,
  localRunStore,
  type LocalRunStoreOptions,
} from "./src/store/local_run_store.ts";
export type { Durability } from "./src/store/sqlite_schema.ts";
export type {
  Claimable,
  JournalEntry,
  JournalSnapshot,
  Lease,
  NewRun,
  RunPage,
  RunPatch,
  RunQuery,
  RunRecord,
  RunRecordStatus,
  RunStore,
  RunTraceContext,
  StoreEvent,
} from "./src/store/run_store.ts";
// Channels
export type {
  Channel,
  ChannelSnapshot,
  SetOptions,
  SnapshotChannel,
} from "./src/channels/channel.ts";
export { MemoryChannel, type MemoryChannelOptions } from "./src/channels/memory_channel.ts";
// Handlers
export { directHandler, notifyRun, type TaskHandler } from "./src/handlers/task_handler.ts";
export { WorkerPool } from "./src/handlers/worker_pool.ts";
export {
  type ProcessOutputLine,
  ProcessPool,
  type ProcessPoolOptions,
  type ProcessPoolStats,
} from "./src/handlers/process/process_pool.ts";
export type { WorkerPoolOptions, WorkerPoolStats } from "./src/handlers/worker_pool_options.ts";
export { closeDefaultWorkerPool, defaultWorkerPool } from "./src/handlers/default_worker_pool.ts";
// Events and rendering
export type {
  EventListener,
  WorkflowEvent,
  WorkflowEventBase,
} from "./src/observability/events.ts";
// Tracing, metrics, progress
export { traceHeaders } from "./src/observability/task_trace.ts";
export type { TraceCarrier } from "./src/observability/otel.ts";
export {
  feedbackMetrics,
  GraflowMetrics,
  graflowMetrics,
  metricsResponse,
} from "./src/observability/run_metrics.ts";
export {
  Counter,
  type Exemplar,
  Gauge,
  Histogram,
  type HistogramSeries,
  MetricFamily,
  type MetricKind,
  type MetricsFormat,
  MetricsRegistry,
  type MetricsRegistryOptions,
} from "./src/observability/metrics_registry.ts";
export {
  formatProgress,
  type ProgressReporter,
  progressReporter,
  type ProgressReporterOptions,
  type RunProgress,
  sumProgress,
} from "./src/observability/progress.ts";
export { ExecutedGraph } from "./src/graph/executed_graph.ts";
