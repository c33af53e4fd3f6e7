/**
 * What the run state knows of an activation waiting to run and of a running execution.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import type { Task } from "../graph/task.ts";
import type { ActivationKind } from "./run_state_data.ts";
import type { MapRun } from "./map_run.ts";

/** A node waiting to run. */
export interface Activation {
  /** The node. */
  node: PlanNode;
  /** Its input. */
  input: unknown;
  /** The node (or `"start"`) that activated it. */
  from: string;
  /** How. */
  kind: ActivationKind;
  /** Attempt to start with (restored runs). */
  attempt?: number;
}

/** One task execution (all its attempts) as the state knows it. */
export interface ExecState {
  /** 1-based number of this execution in the run. */
  readonly step: number;
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
  /** 1-based execution count of this task in the run. */
  readonly cycle: number;
  /** The map this execution is an item of, if any. */
  readonly map: MapRun | undefined;
  /** Its item index in that map (-1 when it is no map item). */
  readonly item: number;
  /** Current attempt. */
  attempt: number;
  /** True once it succeeded or failed for good (or was dropped). */
  settled: boolean;
  /** Position in the running set. */
  slot: number;
}
