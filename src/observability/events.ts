/**
 * Events emitted for every transition of a run, through `run({ onEvent })`.
 *
 * @module
 */

/** Fields every event has. */
export interface WorkflowEventBase {
  /** The run. */
  runId: string;
  /** Epoch milliseconds. */
  time: number;
}

/** Every event a run emits. */
export type WorkflowEvent =
  | WorkflowEventBase & { type: "run.started"; resumed: boolean }
  | WorkflowEventBase & {
    type: "run.finished";
    status: "completed" | "terminated" | "waiting";
    steps: number;
  }
  | WorkflowEventBase & { type: "run.failed"; error: unknown; steps: number }
  | WorkflowEventBase & {
    type: "task.started";
    taskId: string;
    attempt: number;
    cycle: number;
    /** For a map item: its index in the map's input. */
    item?: number;
  }
  | WorkflowEventBase & {
    type: "task.succeeded";
    taskId: string;
    attempt: number;
    cycle: number;
    durationMs: number;
    /** For a map item: its index in the map's input. */
    item?: number;
  }
  | WorkflowEventBase & {
    type: "task.failed";
    taskId: string;
    attempt: number;
    cycle: number;
    error: unknown;
    /** For a map item: its index in the map's input. */
    item?: number;
    /** False when the error forbids retries (`NonRetryableError`, `retryIf`). */
    retryable?: boolean;
  }
  | WorkflowEventBase & {
    type: "task.retried";
    taskId: string;
    attempt: number;
    delayMs: number;
    error: unknown;
    /** For a map item: its index in the map's input. */
    item?: number;
  }
  | WorkflowEventBase & {
    /** A running task was aborted because its group or map settled without it. */
    type: "task.cancelled";
    taskId: string;
    attempt: number;
    cycle: number;
    reason: unknown;
    /** For a map item: its index in the map's input. */
    item?: number;
  }
  | WorkflowEventBase & { type: "task.added"; taskId: string; by: string; goto: boolean }
  | WorkflowEventBase & {
    type: "task.waiting";
    taskId: string;
    /** Why it waits, e.g. `"no-worker"` (no live worker has taken its job). */
    reason: string;
    /** How long it has waited. */
    waitedMs: number;
    /** A sentence for people. */
    message: string;
  }
  | WorkflowEventBase & {
    /** A parallel group or a map settled (`groupId` is the map's id; items are `"<id>[<i>]"`). */
    type: "group.settled";
    groupId: string;
    succeeded: string[];
    failed: string[];
    /** Members (or items) not settled when the policy's answer became certain. */
    cancelled: string[];
    ok: boolean;
    /** Set for maps: `"node"` for a map node of the flow, `"call"` for a task's `ctx.map`. */
    map?: "node" | "call";
  }
  | WorkflowEventBase & { type: "checkpoint.written"; path: string; taskId?: string; steps: number }
  | WorkflowEventBase & { type: "feedback.requested"; feedbackId: string; taskId: string }
  | WorkflowEventBase & { type: "feedback.received"; feedbackId: string; taskId: string };

/** Receives events; exceptions it throws are ignored. */
export type EventListener = (event: WorkflowEvent) => void;
