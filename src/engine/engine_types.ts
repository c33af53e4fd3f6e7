/**
 * The types the engine shares with its helpers (snapshots, checkpoint hooks).
 *
 * @module
 */
import type { Task } from "../graph/task.ts";
import type { PlanNode } from "../graph/plan.ts";
import type { ActivationKind } from "../context/run_state.ts";
import type {
  CheckpointInfo,
  CheckpointOptions,
  Directives,
  EngineTaskContext,
  FeedbackRequest,
  FeedbackResponse,
} from "../context/task_context.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { Engine } from "./engine.ts";

/** A node waiting to run. */
export interface Activation {
  node: PlanNode;
  input: unknown;
  from: string;
  kind: ActivationKind;
  attempt?: number;
}

/** One task execution (all its attempts). */
export interface Execution {
  /** The plan node. */
  readonly node: PlanNode;
  /** The task. */
  readonly task: Task;
  /** Its input. */
  readonly input: unknown;
  /** What activated it. */
  readonly from: string;
  /** How. */
  readonly kind: ActivationKind;
  /** 1-based execution count. */
  readonly cycle: number;
  /** The handler that runs it. */
  readonly handler: TaskHandler;
  /** Current attempt. */
  attempt: number;
  /** Context of the current attempt. */
  ctx: EngineTaskContext;
  /** True once it succeeded or finally failed. */
  settled: boolean;
  /** `performance.now()` at the start of the attempt (only when events are listened to). */
  started: number;
  /** Timeout timer of the current attempt. */
  timer?: ReturnType<typeof setTimeout>;
  /** Position in the engine's running set. */
  slot: number;
}

/** Why a run stops early. */
export type Stop =
  | { kind: "failed"; error: unknown }
  | { kind: "terminated" }
  | { kind: "waiting"; feedback: { id: string; checkpoint: string } };

/** Hooks the run uses for checkpoints and feedback (installed by the checkpoint module). */
export interface EngineHooks {
  /**
   * Writes deferred checkpoints after a task succeeded and its successors were queued: must
   * take its snapshot synchronously; the returned promise is awaited before the run finishes.
   */
  afterTask?(engine: Engine, exec: Execution, directives: Directives): Promise<void> | void;
  /** Writes an immediate checkpoint for the task of `ctx`. */
  checkpointNow(
    engine: Engine,
    ctx: EngineTaskContext,
    options: CheckpointOptions,
  ): Promise<CheckpointInfo>;
  /** Human-in-the-loop: asks, waits, or ends the run as waiting. */
  requestFeedback(
    engine: Engine,
    ctx: EngineTaskContext,
    request: FeedbackRequest,
  ): Promise<FeedbackResponse>;
  /** Called once when the run finished (any status), before it settles. */
  finished?(engine: Engine): Promise<void> | void;
}
