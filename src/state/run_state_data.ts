/**
 * The state of a run as plain data (`RunState.toData()` / `RunState.fromData()`): what a
 * checkpoint stores and what a run record snapshots; and the transitions that rebuild it one
 * step at a time (`Replay.apply()` in `./replay.ts`).
 *
 * @module
 */
import type { ActivationKind, TraceEdge } from "../graph/executed_graph.ts";
import type { Directives } from "../context/directive_recorder.ts";
import type { PolicySpec } from "../graph/policies.ts";

export type { ActivationKind, Directives, TraceEdge };

/** A node waiting to run, with its input. */
export interface PendingActivation {
  /** Node id. */
  node: string;
  /** Its input. */
  input: unknown;
  /** The node (or `"start"`) that activated it. */
  from: string;
  /** How. */
  kind: ActivationKind;
  /** Attempt to start with (a task interrupted by an immediate checkpoint keeps its count). */
  attempt?: number;
}

/** An execution that was running when a journal snapshot was taken. */
export interface RunningExecution {
  /** Its number in the run. */
  step: number;
  /** Node id. */
  node: string;
  /** Its input. */
  input: unknown;
  /** What activated it. */
  from: string;
  /** How. */
  kind: ActivationKind;
  /** Execution count of its task. */
  cycle: number;
  /** Its current attempt. */
  attempt: number;
  /** For a map item: the id of the node its map completes. */
  map?: string;
  /** For a map item: its index. */
  item?: number;
}

/** A member of an active parallel group. */
export interface MemberRunState {
  /** Exits still to complete. */
  remaining: number;
  /** Results of completed exits. */
  results: Record<string, unknown>;
  /** Set when the member settled. */
  settled: boolean;
  /** The failure that settled it, if any. */
  failed?: { taskId: string; error: unknown };
}

/** An active map (a map node, or `ctx.map` of a task): its items and those that finished. */
export interface MapRunData {
  /** The task run per item. */
  task: string;
  /** The node the items run as (the map node, or the node of `ctx.map`'s task). */
  node: string;
  /** Every item, in order. */
  items: unknown[];
  /** Results of the items that succeeded, by index. */
  results: Record<string, unknown>;
  /** Errors of the items that failed, by index. */
  failed: Record<string, unknown>;
  /** Execution count of the map's owner when it started (each item's `ctx.cycle`). */
  cycle: number;
  /** For `ctx.map`: its policy (built-in ones only). Map nodes take theirs from the flow. */
  policy?: PolicySpec;
  /** For `ctx.map`: its concurrency, when bounded. */
  concurrency?: number;
}

/** A task added at run time by `ctx.next`. */
export interface DynamicTaskRecord {
  /** Task id. */
  id: string;
  /** The task that added it. */
  by: string;
}

/** The whole run state, as plain data (values not yet encoded). */
export interface RunStateData {
  /** The run. */
  runId: string;
  /** Task executions so far. */
  steps: number;
  /** Latest result per task (and group). */
  results: Record<string, unknown>;
  /** Task ids in completion order. */
  completed: string[];
  /** Executions per task. */
  cycles: Record<string, number>;
  /** The run's output so far (see `RunResult.output`). */
  output: unknown;
  /** Id of the node whose result is the output. */
  lastTask?: string;
  /**
   * Nodes waiting to run, with their inputs. In checkpoints, tasks that were running come
   * first (they run again); journal snapshots list them in `running` instead.
   */
  pending: PendingActivation[];
  /** Journal snapshots only: executions running at the snapshot (their outcome comes later). */
  running?: RunningExecution[];
  /** Join node → forward predecessors that completed in the current pass, with results. */
  arrivals: Record<string, Record<string, unknown>>;
  /** Active parallel groups: member states by member id. */
  groups: Record<string, Record<string, MemberRunState>>;
  /** Tasks added at run time. */
  dynamic: DynamicTaskRecord[];
  /** Edges of the executed graph. */
  trace: TraceEdge[];
  /** Human-in-the-loop request ids made so far, per `taskId#cycle`, in call order. */
  feedback: Record<string, string[]>;
  /** Base paths of the checkpoints written so far. */
  checkpoints: string[];
  /** Set when the run was terminated (`ctx.terminate`): resuming finishes at once. */
  terminated?: boolean;
  /** Active maps by the id of the node they complete (the map node, or `ctx.map`'s caller). */
  maps?: Record<string, MapRunData>;
  /** Executions of map items among `steps` (they do not count against `maxSteps`). */
  itemSteps?: number;
}

/**
 * One step of a run, as recorded: applying a run's transitions in order to a new state (from
 * the same flow) rebuilds the state of the live run.
 */
export type Transition =
  /** The run started with this input. */
  | { t: "begin"; input: unknown }
  /**
   * The next waiting task (or map item) started as execution `step` (0: none did: a limit
   * stopped the run, or a map opened and settled at once); `task` names what started.
   */
  | { t: "take"; step: number; task?: string }
  /** Execution `step` succeeded with `result` and asked for `directives`. */
  | { t: "ok"; step: number; result: unknown; directives?: Directives }
  /** Execution `step` failed for good with `error`. */
  | { t: "fail"; step: number; error: unknown }
  /** Execution `step` failed with `error` and starts attempt `attempt`. */
  | { t: "retry"; step: number; attempt: number; error?: unknown }
  /** A human-in-the-loop request of execution `step`. */
  | { t: "feedback"; step: number; id: string }
  /** A checkpoint was written. */
  | { t: "checkpoint"; path: string }
  /** The run stopped from outside (aborted, waiting for feedback, …). */
  | { t: "halt"; stop: Stop }
  /**
   * The failed run was continued from its failed tasks: the failure before this entry is
   * undone (see `linearJournal`), the tasks it stopped run again.
   */
  | { t: "retried" };

/** Why a run stops early. */
export type Stop =
  | { kind: "failed"; error: unknown }
  | { kind: "terminated" }
  | { kind: "waiting"; feedback: { id: string; checkpoint: string } };
