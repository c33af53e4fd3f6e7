/**
 * The serializable state of a run: everything a checkpoint needs to continue it.
 *
 * @module
 */

/** How a node was activated (for the executed graph). */
export type ActivationKind = "start" | "edge" | "back" | "next" | "goto" | "iterate" | "resume";

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

/** A task added at run time by `ctx.next`. */
export interface DynamicTaskRecord {
  /** Task id. */
  id: string;
  /** Module URL that defines it. */
  module?: string;
  /** The task that added it. */
  by: string;
}

/** An edge of the executed graph with how often it was taken. */
export interface TraceEdge {
  /** Source node (or `"start"`). */
  from: string;
  /** Target node. */
  to: string;
  /** How the edge was taken. */
  kind: ActivationKind;
  /** How often. */
  count: number;
}

/** A stored human-in-the-loop answer, keyed by request id. */
export interface FeedbackState {
  /** Request ids per `taskId#cycle`, in call order. */
  requests: Record<string, string[]>;
}

/** The whole run state, as plain data. */
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
  /** Result of the last task that finished, and its id. */
  output: unknown;
  /** Id of the last task that finished. */
  lastTask?: string;
  /** Nodes waiting to run, with their inputs. */
  pending: PendingActivation[];
  /** Join node → forward predecessors that completed in the current pass, with results. */
  arrivals: Record<string, Record<string, unknown>>;
  /** Active parallel groups. */
  groups: Record<string, Record<string, MemberRunState>>;
  /** Tasks added at run time. */
  dynamic: DynamicTaskRecord[];
  /** Edges of the executed graph. */
  trace: TraceEdge[];
  /** Human-in-the-loop requests made so far. */
  feedback: FeedbackState;
  /** Set when the run was terminated (`ctx.terminate`): resuming finishes at once. */
  terminated?: boolean;
}
