/**
 * The remote side of running a task away from its run (Web Worker, Redis worker, container):
 * {@linkcode runRemoteTask} imports the task's module, runs the task with a
 * {@linkcode RemoteTaskContext} and returns its outcome as JSON, with what the task asked for
 * (`next`, `nextIteration`, `map`, `terminate`, `cancel`, deferred checkpoints) as data that
 * names tasks only. The context's `channel`, `result`, immediate checkpoints and feedback
 * requests are calls to the host (`ContextCall`, answered by `serveContextCall` in
 * `./remote_context.ts`).
 *
 * @module
 */
import { fromJsonTree, toJsonTree } from "../channels/codec.ts";
import type { Channel, SetOptions } from "../channels/channel.ts";
import { toErrorRecord } from "../errors.ts";
import { resolveTask, type Task } from "../graph/task.ts";
import { runTraced } from "../observability/task_trace.ts";
import type {
  CallTransport,
  ChannelMethod,
  RemoteDirectives,
  RemoteOutcome,
  RemoteTaskMessage,
} from "./remote_context.ts";
import { DirectiveRecorder, type Directives } from "./directive_recorder.ts";
import type {
  CheckpointInfo,
  CheckpointOptions,
  FeedbackRequest,
  FeedbackResponse,
  TaskContext,
} from "./task_context.ts";

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
