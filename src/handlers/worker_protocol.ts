/**
 * The messages between a {@linkcode WorkerPool} and its Web Workers (`workers/web_worker.ts`).
 *
 * A thin envelope around the shared remote-task protocol of `src/context/remote_context.ts`:
 * the task goes out as a {@linkcode RemoteTaskMessage}, comes back as a {@linkcode RemoteOutcome},
 * and `ctx` calls in between are {@linkcode ContextCall}s answered by `serveContextCall`. Only
 * structured data crosses; errors travel as {@linkcode ErrorRecord}s.
 *
 * A worker runs code the host does not vouch for, so the host checks every message with
 * {@linkcode decodeWorkerMessage} before it uses it, and accepts an outcome or a call only for
 * the job that worker is running now, with the random nonce the host sent with that job.
 *
 * @module
 */
import type { ContextCall, RemoteOutcome, RemoteTaskMessage } from "../context/remote_context.ts";
import {
  callProblem,
  errorRecordProblem,
  isObject,
  outcomeProblem,
} from "../context/remote_check.ts";
import type { ErrorRecord } from "../errors.ts";

/** Host → worker: run a task (job `id` is unique per pool). */
export interface RunMessage {
  /** Discriminant. */
  type: "run";
  /** Job id. */
  id: number;
  /** Random per job; the worker echoes it with the job's outcome and calls. */
  nonce: string;
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
  /** The job's nonce. */
  nonce: string;
  /** Value (codec tree) and directives, or the error. */
  outcome: RemoteOutcome;
}

/** Worker → host: a `ctx` call of job `id` (channel, result, checkpoint, feedback). */
export interface CallMessage {
  /** Discriminant. */
  type: "call";
  /** Job id. */
  id: number;
  /** The job's nonce. */
  nonce: string;
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

/**
 * Checks a message from a worker before the host uses it.
 *
 * @param data What the worker posted (any value).
 * @returns The message.
 * @throws {TypeError} Naming what is wrong, when it is not a well-formed worker message.
 */
export function decodeWorkerMessage(data: unknown): WorkerMessage {
  const problem = workerMessageProblem(data);
  if (problem) throw new TypeError(problem);
  return data as WorkerMessage;
}

function workerMessageProblem(m: unknown): string | undefined {
  if (!isObject(m)) return "the message is not an object";
  switch (m.type) {
    case "outcome":
      return jobProblem(m) ?? outcomeProblem(m.outcome);
    case "call":
      if (!Number.isSafeInteger(m.callId)) return "a call has no numeric call id";
      return jobProblem(m) ?? callProblem(m.call);
    case "crash":
      if (m.kind !== "uncaught error" && m.kind !== "unhandled rejection") {
        return "a crash report has an unknown kind";
      }
      return errorRecordProblem(m.error);
    case "exit":
      return typeof m.how === "string" ? undefined : "an exit report has no string how";
    default:
      return `unknown message type ${JSON.stringify(m.type)?.slice(0, 50)}`;
  }
}

function jobProblem(m: Record<string, unknown>): string | undefined {
  if (!Number.isSafeInteger(m.id)) return `${m.type} has no numeric job id`;
  return typeof m.nonce === "string" ? undefined : `${m.type} has no nonce`;
}
