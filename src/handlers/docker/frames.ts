/**
 * Checks what a container sends before the host acts on it. A container is not trusted: its
 * frames are parsed as JSON and checked for shape; tasks it asks to run next must already be
 * registered on the host (the host never imports a module a container names); checkpoint paths
 * are chosen by the host only.
 *
 * @module
 */
import type { ContextCall, RemoteDirectives, RemoteOutcome } from "../../context/remote_context.ts";
import type { ErrorRecord } from "../../errors.ts";
import { WorkflowError } from "../../errors.ts";
import { getTask } from "../../graph/task.ts";
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalString(v: unknown): boolean {
  return v === undefined || typeof v === "string";
}

function isErrorRecord(v: unknown, depth = 0): v is ErrorRecord {
  return isObject(v) && typeof v.name === "string" && typeof v.message === "string" &&
    optionalString(v.stack) && optionalString(v.code) &&
    (v.props === undefined || isObject(v.props)) &&
    (v.cause === undefined || (depth < 8 && isErrorRecord(v.cause, depth + 1)));
}

function isDirectives(d: unknown): d is RemoteDirectives {
  if (d === undefined) return true;
  if (!isObject(d)) return false;
  if (
    d.next !== undefined &&
    !(Array.isArray(d.next) &&
      d.next.every((n) =>
        isObject(n) && typeof n.task === "string" && typeof n.hasInput === "boolean" &&
        optionalString(n.module) && (n.goto === undefined || typeof n.goto === "boolean")
      ))
  ) return false;
  if (
    d.iterate !== undefined && !(isObject(d.iterate) && typeof d.iterate.hasInput === "boolean")
  ) {
    return false;
  }
  for (const k of ["terminate", "cancel"] as const) {
    const v = d[k];
    if (v !== undefined && !(isObject(v) && optionalString(v.reason))) return false;
  }
  return d.checkpoints === undefined ||
    (Array.isArray(d.checkpoints) &&
      d.checkpoints.every((c) =>
        isObject(c) && (c.metadata === undefined || isObject(c.metadata)) &&
        (c.deferred === undefined || typeof c.deferred === "boolean")
      ));
}

/**
 * Parses and checks one frame.
 *
 * @param taskId The task (for messages).
 * @param json The frame's JSON text.
 * @returns The frame.
 * @throws {WorkflowError} `CONTAINER_PROTOCOL` when it is not a well-formed frame.
 */
export function parseFrame(taskId: string, json: string): ContainerFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(json);
  } catch (error) {
    throw protocolError(taskId, `a frame is not JSON (${(error as Error).message})`);
  }
  if (!isObject(frame)) throw protocolError(taskId, "a frame is not an object");
  if (frame.t === "call") {
    if (!Number.isSafeInteger(frame.id) || !isObject(frame.call)) {
      throw protocolError(taskId, "a call frame has no numeric id or no call");
    }
    return frame as unknown as ContainerFrame;
  }
  if (frame.t === "outcome" && isObject(frame.outcome)) {
    const o = frame.outcome;
    if (o.ok === true && "value" in o && isDirectives(o.directives)) {
      return frame as unknown as ContainerFrame;
    }
    if (o.ok === false && isErrorRecord(o.error)) return frame as unknown as ContainerFrame;
    throw protocolError(taskId, "the outcome frame is malformed");
  }
  throw protocolError(taskId, `unknown frame type ${JSON.stringify(frame.t)}`);
}

function pathRefused(taskId: string): WorkflowError {
  return new WorkflowError(
    `Cannot checkpoint from the container of task "${taskId}": a checkpoint path chosen in a ` +
      "container is not accepted (the host picks the path)",
    { code: "CHECKPOINT_PATH_REFUSED" },
  );
}

/**
 * Checks a call before the host serves it.
 *
 * @param taskId The task.
 * @param call The call.
 * @returns The call.
 * @throws {WorkflowError} `CHECKPOINT_PATH_REFUSED` for a checkpoint with a path.
 */
export function checkCall(taskId: string, call: ContextCall): ContextCall {
  if (call.op === "checkpoint" && (!isObject(call.options) || call.options.path !== undefined)) {
    throw pathRefused(taskId);
  }
  return call;
}

/**
 * Checks an outcome before the host applies it: tasks named by `next` must be registered on the
 * host (their module URL is taken from the host's registry, never from the container), and
 * deferred checkpoints may not choose a path.
 *
 * @param taskId The task.
 * @param outcome The outcome.
 * @returns The outcome to apply.
 * @throws {WorkflowError} `TASK_NOT_FOUND` or `CHECKPOINT_PATH_REFUSED`.
 */
export function checkOutcome(taskId: string, outcome: RemoteOutcome): RemoteOutcome {
  if (!outcome.ok || !outcome.directives) return outcome;
  const d = outcome.directives;
  for (const n of d.next ?? []) {
    const known = getTask(n.task);
    if (!known) {
      throw new WorkflowError(
        `Cannot apply ctx.next() from the container of task "${taskId}": task "${n.task}" is ` +
          "not registered on the host (import the module that defines it before the run)",
        { code: "TASK_NOT_FOUND" },
      );
    }
    n.module = known.module;
  }
  if (d.checkpoints?.some((c) => c.path !== undefined)) throw pathRefused(taskId);
  return outcome;
}
