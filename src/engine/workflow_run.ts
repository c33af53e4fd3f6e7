/**
 * `WorkflowRun`: the handle of a started run.
 *
 * @module
 */
import { Engine, type EngineHooks } from "./engine.ts";
import type { RunOptions, RunResult } from "./run_options.ts";
import type { RunStateData } from "../context/run_state.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import { MemoryChannel } from "../channels/memory_channel.ts";
import type { Channel } from "../channels/channel.ts";
import { directHandler, type TaskHandler } from "../handlers/task_handler.ts";

/** What a run needs of its flow. */
export interface Runnable {
  readonly graph: Graph;
  plan(start?: string | string[]): Plan;
}

/** @internal How a run is resumed from a checkpoint. */
export interface ResumeState {
  state: RunStateData;
  channel?: Channel;
  /** Called with the engine before it starts (re-adds dynamic tasks). */
  prepare?(engine: Engine): void | Promise<void>;
}

import { checkpointHooks } from "../checkpoint/checkpointer.ts";

/** Provides hooks (checkpoints, feedback) to every run. */
const hookFactory: (options: RunOptions) => EngineHooks = checkpointHooks;
/** Provides built-in handlers beyond `"direct"` (e.g. `"worker"`), created on first use. */
const builtinHandlers = new Map<string, () => TaskHandler>();

/** @internal Registers a built-in handler, created lazily the first time a run needs it. */
export function registerBuiltinHandler(name: string, create: () => TaskHandler): void {
  let instance: TaskHandler | undefined;
  builtinHandlers.set(name, () => (instance ??= create()));
}

const RUN_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

function validate(options: RunOptions): void {
  const { maxSteps, runId, handlers, keepCheckpoints, executor } = options;
  if (maxSteps !== undefined && (!Number.isInteger(maxSteps) || maxSteps < 1)) {
    throw new RangeError(`Cannot run flow: maxSteps must be a whole number >= 1, got ${maxSteps}`);
  }
  if (runId !== undefined && (typeof runId !== "string" || !RUN_ID.test(runId))) {
    throw new TypeError(
      `Cannot run flow: runId must be 1-128 characters of [A-Za-z0-9_.:-], got ${
        JSON.stringify(runId)
      }`,
    );
  }
  for (const [name, h] of Object.entries(handlers ?? {})) {
    if (!h || typeof (h as TaskHandler).execute !== "function") {
      throw new TypeError(`Cannot run flow: handler "${name}" has no execute() method`);
    }
  }
  if (
    keepCheckpoints !== undefined && (!Number.isInteger(keepCheckpoints) || keepCheckpoints < 1)
  ) {
    throw new RangeError(
      `Cannot run flow: keepCheckpoints must be a whole number >= 1, got ${keepCheckpoints}`,
    );
  }
  if (executor !== undefined && !["inline", "workers", "redis"].includes(executor)) {
    throw new TypeError(
      `Cannot run flow: executor must be "inline", "workers" or "redis", got ${
        JSON.stringify(executor)
      }`,
    );
  }
}

/**
 * A started run: await `result`, `abort()` it, or take a checkpoint from the host with
 * `createCheckpoint(run)`. `await using` aborts it if it is still running.
 */
export class WorkflowRun implements AsyncDisposable {
  /** The run id. */
  readonly runId: string;
  /** Settles with the run. */
  readonly result: Promise<RunResult>;
  readonly #abort = new AbortController();
  readonly #engine: Promise<Engine>;

  /** @internal Use `flow.start()`. */
  constructor(flow: Runnable, options: RunOptions, resume?: ResumeState) {
    this.runId = options.runId ?? resume?.state.runId ?? crypto.randomUUID();
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#abort.signal])
      : this.#abort.signal;
    const opts: RunOptions = { ...options, runId: this.runId, signal };
    this.#engine = this.#create(flow, opts, resume);
    const result = this.#engine.then((engine) => engine.begin(opts.input, resume?.state));
    // The backend drops the run's bookkeeping once the run settled (never fails the run).
    const backend = opts.backend;
    this.result = backend?.runFinished
      ? result.finally(() => backend.runFinished!(this.runId).catch(() => {}))
      : result;
    this.result.catch(() => {}); // the caller observes it; avoid unhandled rejections here
  }

  async #create(flow: Runnable, options: RunOptions, resume?: ResumeState): Promise<Engine> {
    validate(options);
    const handlers = new Map<string, TaskHandler>([["direct", directHandler]]);
    for (const [name, create] of builtinHandlers) {
      handlers.set(name, { execute: (t, input, ctx) => create().execute(t, input, ctx) });
    }
    for (const [name, h] of Object.entries(options.handlers ?? {})) handlers.set(name, h);
    const plan = flow.plan(options.start);
    const channel = options.channel ?? resume?.channel ??
      (await options.backend?.channel?.(this.runId)) ?? new MemoryChannel();
    const engine = new Engine(
      flow.graph,
      plan,
      options,
      channel,
      handlers,
      hookFactory(options),
    );
    await resume?.prepare?.(engine);
    return engine;
  }

  /**
   * Cancels the run: running tasks see their signal abort; the run rejects with `reason`.
   *
   * @param reason The rejection reason. @default {DOMException "AbortError"}
   */
  abort(reason?: unknown): void {
    this.#abort.abort(reason);
  }

  /** @internal The engine, once created. */
  engine(): Promise<Engine> {
    return this.#engine;
  }

  /**
   * A snapshot of the run state (running tasks count as pending).
   *
   * @returns A snapshot of the run state (running tasks count as pending).
   */
  async snapshot(): Promise<RunStateData> {
    return (await this.#engine).snapshot();
  }

  /** Aborts the run if it is still going and waits for it to settle. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.abort();
    await this.result.catch(() => {});
  }
}
