/**
 * Checks what a container (or a subprocess of the process pool) sends before the host acts on
 * it. Neither is trusted: its frames are parsed as JSON, checked for shape, and must carry the
 * nonce the host gave the task (so a frame printed by anything else is refused); tasks it asks to
 * run next are resolved by name in the host's registry (`settleOutcome`: the host never imports
 * a module a container names); checkpoint paths are chosen by the host only.
 *
 * @module
 */
import type { ContextCall, RemoteOutcome } from "../../context/remote_context.ts";
import { callProblem, isObject, outcomeProblem } from "../../context/remote_check.ts";
import { WorkflowError } from "../../errors.ts";
import type { ContainerFrame } from "./protocol.ts";

/**
 * The error for a container that broke the protocol (a malformed frame).
 *
 * @param taskId The task.
 * @param why What was wrong.
 * @returns A `WorkflowError` with code `CONTAINER_PROTOCOL`.
 */
export function protocolError(taskId: string, why: string): WorkflowError {
  return new WorkflowError(
    `Cannot read the container of task "${taskId}": ${why}`,
    { code: "CONTAINER_PROTOCOL" },
  );
}

/**
 * Parses and checks one frame.
 *
 * @param taskId The task (for messages).
 * @param json The frame's JSON text.
 * @param nonce The nonce the host sent with the task; the frame must echo it.
 * @param error Makes the error for a malformed frame. @default {protocolError}
 * @returns The frame.
 * @throws {WorkflowError} `CONTAINER_PROTOCOL` (or what `error` makes) when it is not a
 * well-formed frame of this task.
 */
export function parseFrame(
  taskId: string,
  json: string,
  nonce: string,
  error: (taskId: string, why: string) => WorkflowError = protocolError,
): ContainerFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(json);
  } catch (cause) {
    throw error(taskId, `a frame is not JSON (${(cause as Error).message})`);
  }
  if (!isObject(frame)) throw error(taskId, "a frame is not an object");
  if (frame.nonce !== nonce) throw error(taskId, "a frame does not carry the task's nonce");
  if (frame.t === "call") {
    if (!Number.isSafeInteger(frame.id)) throw error(taskId, "a call frame has no numeric id");
    const problem = callProblem(frame.call);
    if (problem) throw error(taskId, problem);
    return frame as unknown as ContainerFrame;
  }
  if (frame.t === "outcome") {
    const problem = outcomeProblem(frame.outcome);
    if (problem) throw error(taskId, problem);
    return frame as unknown as ContainerFrame;
  }
  throw error(taskId, `unknown frame type ${JSON.stringify(frame.t)?.slice(0, 50)}`);
}

function pathRefused(taskId: string, where: Sandbox): WorkflowError {
  return new WorkflowError(
    `Cannot checkpoint from the ${where} of task "${taskId}": a checkpoint path chosen in a ` +
      `${where} is not accepted (the host picks the path)`,
    { code: "CHECKPOINT_PATH_REFUSED" },
  );
}

/** Where a task runs, for messages. */
export type Sandbox = "container" | "subprocess";

/**
 * Checks a call before the host serves it.
 *
 * @param taskId The task.
 * @param call The call.
 * @param where Where the task runs. @default {"container"}
 * @returns The call.
 * @throws {WorkflowError} `CHECKPOINT_PATH_REFUSED` for a checkpoint with a path.
 */
export function checkCall(
  taskId: string,
  call: ContextCall,
  where: Sandbox = "container",
): ContextCall {
  if (call.op === "checkpoint" && (!isObject(call.options) || call.options.path !== undefined)) {
    throw pathRefused(taskId, where);
  }
  return call;
}

/**
 * Checks an outcome before the host applies it: deferred checkpoints may not choose a path.
 * (Tasks named by `next` are resolved by name in the host's registry by `settleOutcome`.)
 *
 * @param taskId The task.
 * @param outcome The outcome.
 * @param where Where the task runs. @default {"container"}
 * @returns The outcome to apply.
 * @throws {WorkflowError} `CHECKPOINT_PATH_REFUSED`.
 */
export function checkOutcome(
  taskId: string,
  outcome: RemoteOutcome,
  where: Sandbox = "container",
): RemoteOutcome {
  if (!outcome.ok || !outcome.directives) return outcome;
  if (outcome.directives.checkpoints?.some((c) => c.path !== undefined)) {
    throw pathRefused(taskId, where);
  }
  return outcome;
}
