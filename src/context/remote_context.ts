/**
 * Running a task away from its run (Web Worker, Redis worker, container) with a working `ctx`:
 * the messages, and the host side.
 *
 * The remote side (`./remote_task.ts`) gets a `RemoteTaskContext`: `next`, `nextIteration`,
 * `terminate`, `cancel` and deferred checkpoints are recorded and shipped back with the outcome;
 * `channel`, `result`, immediate checkpoints and feedback requests are calls answered by the host
 * with {@linkcode serveContextCall}. Only JSON data crosses: values as codec trees, errors as
 * {@linkcode ErrorRecord}s.
 *
 * Code is chosen by the host only. Host → remote, a task travels with the URL of the module
 * that defines it (the operator's choice: the remote side imports exactly that). Remote → host,
 * tasks travel by name only: {@linkcode settleOutcome} resolves every name a directive carries
 * in the host's own registry and never imports anything because a message said so; an unknown
 * name fails the task with `TASK_NOT_FOUND`. Every outcome and call is checked for shape
 * (`remote_check.ts`) before the host uses it.
 *
 * @module
 */
import { fromJsonTree, toJsonTree } from "../channels/codec.ts";
import { type ErrorRecord, fromErrorRecord, WorkflowError } from "../errors.ts";
import { getTask, type Task } from "../graph/task.ts";
import { policyFromSpec, type PolicySpec } from "../graph/policies.ts";
import { callProblem, outcomeProblem } from "./remote_check.ts";
import type { TraceCarrier } from "../observability/otel.ts";
import { tracedCall, traceHeaders } from "../observability/task_trace.ts";
import type { CheckpointOptions, FeedbackRequest, TaskContext } from "./task_context.ts";
import { DirectiveRecorder } from "./directive_recorder.ts";

/** A task to run remotely: names and JSON only. */
export interface RemoteTaskMessage {
  /** The run. */
  runId: string;
  /** Task name (looked up in the registry after importing `module`). */
  taskId: string;
  /** URL of the module that defines the task. */
  module?: string;
  /** Input as a codec tree. */
  input: unknown;
  /** 1-based attempt. */
  attempt: number;
  /** 1-based cycle. */
  cycle: number;
  /** W3C trace context of the attempt's span, when the run is traced. */
  trace?: TraceCarrier;
}

/** Directives as JSON: tasks by name only (the host resolves names in its own registry). */
export interface RemoteDirectives {
  /** `ctx.next` calls. */
  next?: { task: string; input?: unknown; hasInput: boolean; goto?: boolean }[];
  /** `ctx.nextIteration`. */
  iterate?: { input?: unknown; hasInput: boolean };
  /** `ctx.map`: the task by name (the host's registry decides; nothing is imported). */
  map?: { task: string; items: unknown; policy?: PolicySpec; concurrency?: number };
  /** `ctx.terminate`. */
  terminate?: { reason?: string };
  /** `ctx.cancel`. */
  cancel?: { reason?: string };
  /** Deferred `ctx.checkpoint` calls. */
  checkpoints?: CheckpointOptions[];
}

/** How a remote attempt ended. */
export type RemoteOutcome =
  | { ok: true; value: unknown; directives?: RemoteDirectives }
  | { ok: false; error: ErrorRecord };

/** A call from a remote task to its run; answered by {@linkcode serveContextCall}. */
export type ContextCall =
  | { op: "channel"; method: ChannelMethod; args: unknown[] }
  | { op: "result"; taskId: string }
  | { op: "checkpoint"; options: CheckpointOptions }
  | { op: "requestFeedback"; request: FeedbackRequest };

/** Channel methods a remote task can call. */
export type ChannelMethod =
  | "get"
  | "set"
  | "delete"
  | "has"
  | "keys"
  | "clear"
  | "append"
  | "increment";

/** Sends a {@linkcode ContextCall} to the host and resolves with its (codec tree) answer. */
export type CallTransport = (call: ContextCall) => Promise<unknown>;

/**
 * Builds the message for running `task` remotely.
 *
 * @param task The task.
 * @param input Its input.
 * @param ctx The host context.
 * @returns The message (JSON data).
 * @throws {TypeError} When the input cannot be encoded.
 */
export function toRemoteMessage(task: Task, input: unknown, ctx: TaskContext): RemoteTaskMessage {
  const trace = traceHeaders(ctx);
  return {
    runId: ctx.runId,
    taskId: task.name,
    module: task.module,
    input: toJsonTree(input, `input of task "${task.name}"`),
    attempt: ctx.attempt,
    cycle: ctx.cycle,
    ...(trace ? { trace } : {}),
  };
}

/**
 * Host side: answers a call from a remote task with the host `ctx`.
 *
 * @param ctx The host context of the attempt.
 * @param call The call.
 * @param trace The caller's trace context, when the call carried one (its span is the parent of
 * the call's span; else the attempt's span is).
 * @returns The answer as a codec tree.
 * @throws {TypeError} When the call is malformed (unknown op or method, malformed values).
 */
export async function serveContextCall(
  ctx: TaskContext,
  call: ContextCall,
  trace?: TraceCarrier,
): Promise<unknown> {
  const problem = callProblem(call);
  if (problem) throw new TypeError(`Cannot serve a ctx call of task "${ctx.taskId}": ${problem}`);
  const op = call.op === "channel" ? `channel.${call.method}` : call.op;
  return await tracedCall(ctx, op, trace, () => serveCall(ctx, call));
}

async function serveCall(ctx: TaskContext, call: ContextCall): Promise<unknown> {
  switch (call.op) {
    case "channel": {
      const args = call.args.map((a) => fromJsonTree(a));
      const fn = ctx.channel[call.method] as (...a: unknown[]) => Promise<unknown>;
      return toJsonTree(await fn.apply(ctx.channel, args));
    }
    case "result":
      return toJsonTree(await ctx.result(call.taskId));
    case "checkpoint":
      return toJsonTree(await ctx.checkpoint({ ...call.options, deferred: false }));
    case "requestFeedback":
      return toJsonTree(await ctx.requestFeedback(call.request));
  }
}

/**
 * Host side: applies a remote outcome to the host `ctx` (directives) and returns the task's
 * value, or throws its error (rebuilt with class, message, stack and code). The outcome is
 * checked first, and every task a `next` directive names is looked up in this process's
 * registry before anything is applied: nothing is imported, and a malformed outcome or an
 * unknown name fails the task without applying any directive.
 *
 * @param ctx The host context.
 * @param outcome The outcome, as received (any value).
 * @returns The task's result.
 * @throws {WorkflowError} `REMOTE_PROTOCOL` for a malformed outcome, `TASK_NOT_FOUND` for a
 * `next` directive naming a task this process does not have; or what the task threw.
 */
export async function settleOutcome(ctx: TaskContext, outcome: RemoteOutcome): Promise<unknown> {
  const problem = outcomeProblem(outcome);
  if (problem) {
    throw new WorkflowError(`Cannot accept the outcome of task "${ctx.taskId}": ${problem}`, {
      code: "REMOTE_PROTOCOL",
    });
  }
  if (!outcome.ok) throw fromErrorRecord(outcome.error);
  const d = outcome.directives;
  const value = fromJsonTree(outcome.value);
  if (!d) return value;
  const next = (d.next ?? []).map((n) => ({ ...n, task: registeredTask(ctx.taskId, n.task) }));
  for (const n of next) {
    if (n.hasInput) ctx.next(n.task, fromJsonTree(n.input), { goto: n.goto });
    else if (ctx instanceof DirectiveRecorder) {
      // Keep "no input given" (the engine then passes the caller's result).
      ((ctx.directives ??= {}).next ??= []).push({
        task: n.task,
        input: undefined,
        hasInput: false,
        goto: n.goto,
      });
    } else ctx.next(n.task);
  }
  if (d.iterate) {
    if (d.iterate.hasInput) ctx.nextIteration(fromJsonTree(d.iterate.input));
    else ctx.nextIteration();
  }
  if (d.map) applyRemoteMap(ctx, d.map);
  if (d.terminate) ctx.terminate(d.terminate.reason);
  if (d.cancel) ctx.cancel(d.cancel.reason);
  for (const c of d.checkpoints ?? []) await ctx.checkpoint(c);
  return value;
}

/** The task registered in this process under `name`; never imports. */
function registeredTask(caller: string, name: string): Task {
  const t = getTask(name);
  if (t) return t;
  throw new WorkflowError(
    `Cannot apply ctx.next() of task "${caller}": task "${name}" is not registered in this ` +
      "process (tasks from a remote task travel by name only, and the host never imports a " +
      "module because a message names it: import the module that defines it before the run)",
    { code: "TASK_NOT_FOUND" },
  );
}

/** Applies a `ctx.map` that came back as data: the task must be registered on the host. */
function applyRemoteMap(ctx: TaskContext, m: NonNullable<RemoteDirectives["map"]>): void {
  const what = `ctx.map() of task "${ctx.taskId}"`;
  if (typeof m !== "object" || m === null || typeof m.task !== "string") {
    throw new TypeError(`Cannot apply ${what}: the map is malformed`);
  }
  const t = getTask(m.task);
  if (!t) {
    throw new WorkflowError(
      `Cannot apply ${what}: task "${m.task}" is not registered on the host (import the module that defines it before the run)`,
      { code: "TASK_NOT_FOUND" },
    );
  }
  const items = fromJsonTree(m.items);
  const policy = m.policy === undefined ? undefined : policyFromSpec(m.policy);
  // The host context checks the items and options again (they arrive as data).
  ctx.map(t, items as unknown[], {
    ...(policy ? { policy } : {}),
    ...(m.concurrency !== undefined ? { concurrency: m.concurrency } : {}),
  });
}
