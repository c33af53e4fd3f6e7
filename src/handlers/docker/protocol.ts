/**
 * The wire protocol between the Docker handler (host) and the container runner
 * (`workers/container_runner.ts`), over the container's stdin and stdout.
 *
 * - Host → container, on stdin, one JSON document per line: first the task
 *   (`{ t: "task", nonce, message }`, a {@linkcode RemoteTaskMessage} and a random nonce), then
 *   answers to calls (`{ t: "answer", id, ok: true, value }` or `{ t: "answer", id, ok: false,
 *   error }`). The subprocesses of the process pool read the same lines, several tasks one after
 *   another, plus `{ t: "abort", nonce, reason }`.
 * - Container → host, on stdout, frames: {@linkcode FRAME_MARKER} then one JSON document then
 *   `\n`. A call (`{ t: "call", nonce, id, call }`, a {@linkcode ContextCall}) asks the host for a
 *   channel operation, a task result, an immediate checkpoint or feedback; the outcome
 *   (`{ t: "outcome", nonce, outcome }`, a {@linkcode RemoteOutcome}) is the last frame of its
 *   task. Every frame echoes the nonce of its task: the host refuses frames without it. Everything
 *   else the task prints (stdout and stderr) is log output.
 *
 * Values are codec trees and errors {@linkcode ErrorRecord}s: JSON only, never code. This module
 * imports nothing heavy: the runner loads it inside the container.
 *
 * @module
 */
import type {
  ContextCall,
  RemoteOutcome,
  RemoteTaskMessage,
} from "../../context/remote_context.ts";
import type { ErrorRecord } from "../../errors.ts";

/**
 * Starts every protocol frame on the container's stdout: ASCII record separator, a tag and a
 * unit separator, so ordinary output never contains it by accident.
 */
export const FRAME_MARKER = "\x1egraflow\x1f";

/** The first line on the container's stdin: the task to run. */
export interface TaskLine {
  /** Line type. */
  t: "task";
  /** Random per attempt; every frame about this task echoes it. */
  nonce: string;
  /** The task, its input and identity. */
  message: RemoteTaskMessage;
}

/** Aborts the signal of the task with this nonce (process pool only). */
export interface AbortLine {
  /** Line type. */
  t: "abort";
  /** The task's nonce. */
  nonce: string;
  /** The abort reason. */
  reason: ErrorRecord;
}

/** The host's answer to a {@linkcode CallFrame}. */
export type AnswerLine =
  | { t: "answer"; id: number; ok: true; value: unknown }
  | { t: "answer"; id: number; ok: false; error: ErrorRecord };

/** What the host writes on the container's stdin. */
export type HostLine = TaskLine | AnswerLine | AbortLine;

/** A call from the task to its run (`ctx.channel.*`, `ctx.result`, …). */
export interface CallFrame {
  /** Frame type. */
  t: "call";
  /** The task's nonce. */
  nonce: string;
  /** Call id, echoed by the answer. */
  id: number;
  /** The call. */
  call: ContextCall;
}

/** The task's outcome: the last frame. */
export interface OutcomeFrame {
  /** Frame type. */
  t: "outcome";
  /** The task's nonce. */
  nonce: string;
  /** Value and directives, or the error. */
  outcome: RemoteOutcome;
}

/** What the container writes as frames on stdout. */
export type ContainerFrame = CallFrame | OutcomeFrame;

/** Environment variable that tells the runner the frame size limit (bytes). */
export const MAX_FRAME_ENV = "GRAFLOW_MAX_FRAME_BYTES";
