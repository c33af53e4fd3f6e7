/**
 * Running a task away from its run (Web Worker, Redis worker, container) with a working `ctx`.
 *
 * The remote side gets a {@linkcode RemoteTaskContext}: `next`, `nextIteration`, `terminate`,
 * `cancel` and deferred checkpoints are recorded and shipped back with the outcome; `channel`,
 * `result`, immediate checkpoints and feedback requests are calls answered by the host with
 * {@linkcode serveContextCall}. Only JSON data crosses: values as codec trees, errors as
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
import type { Channel, SetOptions } from "../channels/channel.ts";
import { type ErrorRecord, fromErrorRecord, toErrorRecord, WorkflowError } from "../errors.ts";
import { getTask, resolveTask, type Task } from "../graph/task.ts";
import { policyFromSpec, type PolicySpec } from "../graph/policies.ts";
import { callProblem, outcomeProblem } from "./remote_check.ts";
import type { TraceCarrier } from "../observability/otel.ts";
import { runTraced, tracedCall, traceHeaders } from "../observability/task_trace.ts";
import {
  type CheckpointInfo,
  type CheckpointOptions,
  DirectiveRecorder,
  type Directives,
  type FeedbackRequest,
  type FeedbackResponse,
  type TaskContext,
} from "./task_context.ts";

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

function directivesToJson(d: Directives | undefined): RemoteDirectives | undefined {
  if (!d) return undefined;
  const out: RemoteDirectives = {};
  if (d.next) {
    out.next = d.next.map((n) => ({
      task: typeof n.task === "string" ? n.task : n.task.name,
      ...(n.hasInput
        ? { input: toJsonTree(n.input, `input of next task "${nameOf(n.task)}"`) }
        : {}),
      hasInput: n.hasInput,
      ...(n.goto !== undefined ? { goto: n.goto } : {}),
    }));
  }
  if (d.iterate) {
    out.iterate = d.iterate.hasInput
      ? { input: toJsonTree(d.iterate.input, "input of nextIteration"), hasInput: true }
      : { hasInput: false };
  }
  if (d.map) {
    out.map = {
      task: nameOf(d.map.task),
      items: toJsonTree(d.map.items, `items of ctx.map() over "${nameOf(d.map.task)}"`),
      ...(d.map.policy ? { policy: d.map.policy } : {}),
      ...(d.map.concurrency !== undefined ? { concurrency: d.map.concurrency } : {}),
    };
  }
  if (d.terminate) out.terminate = d.terminate;
  if (d.cancel) out.cancel = d.cancel;
  if (d.checkpoints) out.checkpoints = d.checkpoints;
  return out;
}

function nameOf(t: Task | string): string {
  return typeof t === "string" ? t : t.name;
}

/** A channel whose every call goes to the host. */
class RemoteChannel implements Channel {
  readonly #call: CallTransport;
  constructor(call: CallTransport) {
    this.#call = call;
  }
  async #do(method: ChannelMethod, args: unknown[]): Promise<unknown> {
    // Encode here so that values that cannot be stored fail in the task, at the call site.
    const encoded = args.map((a, i) => toJsonTree(a, `channel ${method} argument ${i + 1}`));
    return fromJsonTree(await this.#call({ op: "channel", method, args: encoded }));
  }
  get<T>(key: string, fallback?: T): Promise<T | undefined> {
    const args = fallback === undefined ? [key] : [key, fallback];
    return this.#do("get", args) as Promise<T | undefined>;
  }
  set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    return this.#do("set", options ? [key, value, options] : [key, value]) as Promise<void>;
  }
  delete(key: string): Promise<boolean> {
    return this.#do("delete", [key]) as Promise<boolean>;
  }
  has(key: string): Promise<boolean> {
    return this.#do("has", [key]) as Promise<boolean>;
  }
  keys(): Promise<string[]> {
    return this.#do("keys", []) as Promise<string[]>;
  }
  clear(): Promise<void> {
    return this.#do("clear", []) as Promise<void>;
  }
  append(key: string, value: unknown): Promise<number> {
    return this.#do("append", [key, value]) as Promise<number>;
  }
  increment(key: string, by?: number): Promise<number> {
    return this.#do("increment", by === undefined ? [key] : [key, by]) as Promise<number>;
  }
}

/** Options of {@linkcode RemoteTaskContext}. */
export interface RemoteTaskContextOptions {
  /** Answers calls (channel, result, immediate checkpoint, feedback). */
  call: CallTransport;
  /** Aborted when the host cancels the attempt. */
  signal: AbortSignal;
  /** A channel to use directly instead of calling the host (e.g. a Redis channel). */
  channel?: Channel;
  /** Where the task runs, for its span (`"worker"`, `"process"`, `"container"`, `"redis"`). */
  where?: string;
  /** More attributes of its span. */
  spanAttributes?: Record<string, string | number | boolean>;
}

/** The `ctx` of a task that runs away from its run. */
export class RemoteTaskContext extends DirectiveRecorder implements TaskContext {
  /** The task id. */
  readonly taskId: string;
  /** The run id. */
  readonly runId: string;
  /** 1-based attempt. */
  readonly attempt: number;
  /** 1-based cycle. */
  readonly cycle: number;
  /** Aborted when the host cancels the attempt. */
  readonly signal: AbortSignal;
  /** The run's channel (calls go to the host unless a direct channel was given). */
  readonly channel: Channel;
  readonly #call: CallTransport;

  /**
   * Creates the context.
   *
   * @param message The task message.
   * @param options Transport, signal, optional direct channel.
   */
  constructor(message: RemoteTaskMessage, options: RemoteTaskContextOptions) {
    super();
    this.taskId = message.taskId;
    this.runId = message.runId;
    this.attempt = message.attempt;
    this.cycle = message.cycle;
    this.signal = options.signal;
    this.#call = options.call;
    this.channel = options.channel ?? new RemoteChannel(options.call);
  }

  /**
   * Result of a completed task of the run (asks the host).
   *
   * @param taskId The task.
   * @returns Its result or `undefined`.
   */
  async result<T = unknown>(taskId: string): Promise<T | undefined> {
    return fromJsonTree(await this.#call({ op: "result", taskId })) as T | undefined;
  }

  /**
   * Checkpoint: deferred ones are shipped with the outcome; immediate ones ask the host now.
   *
   * @param options Checkpoint options.
   * @returns For immediate checkpoints, path and metadata.
   */
  async checkpoint(options: CheckpointOptions = {}): Promise<CheckpointInfo | undefined> {
    if (options.deferred !== false) {
      ((this.directives ??= {}).checkpoints ??= []).push(options);
      return undefined;
    }
    return fromJsonTree(await this.#call({ op: "checkpoint", options })) as CheckpointInfo;
  }

  /**
   * Human-in-the-loop request (asks the host).
   *
   * @param request The question.
   * @returns The answer.
   */
  async requestFeedback(request: FeedbackRequest): Promise<FeedbackResponse> {
    return fromJsonTree(await this.#call({ op: "requestFeedback", request })) as FeedbackResponse;
  }
}

/**
 * Remote side: resolves the task (importing its module), runs it with a
 * {@linkcode RemoteTaskContext}, and returns the outcome as JSON. Never throws.
 *
 * @param message The task message.
 * @param options Transport, signal, optional direct channel.
 * @returns The outcome.
 */
export async function runRemoteTask(
  message: RemoteTaskMessage,
  options: RemoteTaskContextOptions,
): Promise<RemoteOutcome> {
  try {
    const t = await resolveTask(message.taskId, message.module);
    const ctx = new RemoteTaskContext(message, options);
    const input = fromJsonTree(message.input);
    const value = message.trace
      ? await runTraced(
        message,
        options.where ?? "remote",
        async () => await t.invoke(input, ctx),
        options.spanAttributes,
      )
      : await t.invoke(input, ctx);
    return {
      ok: true,
      value: toJsonTree(value, `result of task "${message.taskId}"`),
      directives: directivesToJson(ctx.directives),
    };
  } catch (error) {
    return { ok: false, error: toErrorRecord(error) };
  }
}
