/**
 * The messages between a {@linkcode WorkerPool} and its Web Workers (`workers/web_worker.ts`).
 *
 * A thin envelope around the shared remote-task protocol of `src/context/remote_context.ts`:
 * the task goes out as a {@linkcode RemoteTaskMessage}, comes back as a {@linkcode RemoteOutcome},
 * and `ctx` calls in between are {@linkcode ContextCall}s answered by `serveContextCall`. Only
 * structured data crosses; errors travel as {@linkcode ErrorRecord}s.
 *
 * @module
 */
import type { ContextCall, RemoteOutcome, RemoteTaskMessage } from "../context/remote_context.ts";
import type { ErrorRecord } from "../errors.ts";

/** Host → worker: run a task (job `id` is unique per pool). */
export interface RunMessage {
  /** Discriminant. */
  type: "run";
  /** Job id. */
  id: number;
  /** The task, its input and identity. */
  message: RemoteTaskMessage;
}

/** Host → worker: run these tasks one after another (short tasks are sent ahead in batches). */
export interface BatchMessage {
  /** Discriminant. */
  type: "batch";
  /** The runs, in order. */
  runs: RunMessage[];
}

/** Host → worker: abort the signal of job `id` (a job that has not started yet is skipped). */
export interface AbortMessage {
  /** Discriminant. */
  type: "abort";
  /** Job id. */
  id: number;
  /** The abort reason (the host `ctx.signal.reason`). */
  reason: ErrorRecord;
}

/** Host → worker: the answer to a context call. */
export type ReplyMessage =
  | { type: "reply"; callId: number; ok: true; value: unknown }
  | { type: "reply"; callId: number; ok: false; error: ErrorRecord };

/** Everything the host sends. */
export type HostMessage = RunMessage | BatchMessage | AbortMessage | ReplyMessage;

/** Worker → host: job `id` finished. */
export interface OutcomeMessage {
  /** Discriminant. */
  type: "outcome";
  /** Job id. */
  id: number;
  /** Value (codec tree) and directives, or the error. */
  outcome: RemoteOutcome;
}

/** Worker → host: a `ctx` call of job `id` (channel, result, checkpoint, feedback). */
export interface CallMessage {
  /** Discriminant. */
  type: "call";
  /** Job id. */
  id: number;
  /** Call id, echoed by the reply. */
  callId: number;
  /** The call. */
  call: ContextCall;
}

/** Worker → host: an uncaught error or unhandled rejection; the worker is not trusted after it. */
export interface CrashMessage {
  /** Discriminant. */
  type: "crash";
  /** What escaped. */
  kind: "uncaught error" | "unhandled rejection";
  /** The error. */
  error: ErrorRecord;
}

/** Worker → host: the worker is ending itself (`self.close()`, `Deno.exit()`). */
export interface ExitMessage {
  /** Discriminant. */
  type: "exit";
  /** How, e.g. `"self.close()"`. */
  how: string;
}

/** Everything a worker sends. */
export type WorkerMessage = OutcomeMessage | CallMessage | CrashMessage | ExitMessage;
