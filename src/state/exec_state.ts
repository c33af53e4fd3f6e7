/**
 * The contract between the run state and its driver (the engine): what the state knows of an
 * activation waiting to run and of a running execution, and what it needs from the driver
 * (creating, cancelling and admitting executions, events, the transition recorder).
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import type { Task } from "../graph/task.ts";
import type { ActivationKind, Transition } from "./run_state_data.ts";
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

/** What the run state needs from its driver to start and stop executions. */
export interface ExecutionPort<E extends ExecState> {
  /**
   * Creates the record of a new execution, with every field of `ExecState` set from the
   * arguments (`attempt` given, `settled` false, `slot` -1) and the driver's own fields.
   */
  exec(
    step: number,
    node: PlanNode,
    task: Task,
    input: unknown,
    from: string,
    kind: ActivationKind,
    cycle: number,
    attempt: number,
    map: MapRun | undefined,
    item: number,
  ): E;
  /**
   * Stops an execution the run no longer waits for (its group or map settled without it): abort
   * its attempt; whatever it returns later is dropped.
   */
  cancel?(exec: E, reason: unknown): void;
}

/**
 * What the state needs from whoever drives it: creating and cancelling executions
 * ({@linkcode ExecutionPort}), and the hooks below.
 */
export interface RunStatePort<E extends ExecState> extends ExecutionPort<E> {
  /** Checks a task added at run time can run (e.g. its handler exists); throws if not. */
  admit?(node: PlanNode): void;
  /** Emits an event (absent when nobody listens). */
  note?(type: "task.added" | "group.settled", fields: Record<string, unknown>): void;
  /** Receives every transition, in order (to record them). */
  record?(transition: Transition): void;
}
