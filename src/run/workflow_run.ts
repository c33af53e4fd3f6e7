/**
 * `WorkflowRun`: the handle of a started run, and the composition root of a run: it checks the
 * options, builds the handler map (built-in handlers, the backend's, the caller's), the
 * channel, the persistence (checkpoints, human in the loop) and the engine.
 *
 * @module
 */
import { join } from "node:path";
import { Engine } from "../engine/engine.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import { MemoryChannel } from "../channels/memory_channel.ts";
import type { Channel } from "../channels/channel.ts";
import type { CheckpointInfo } from "../context/task_context.ts";
import { directHandler, type TaskHandler } from "../handlers/task_handler.ts";
import { defaultWorkerPool } from "../handlers/default_worker_pool.ts";
import { FileFeedbackStore } from "../checkpoint/file_feedback_store.ts";
import { systemClock } from "../time/clock.ts";
import { runPersistence } from "./run_persistence.ts";

/** What a run needs of its flow. */
export interface Runnable {
  /** The flow's graph. */
  readonly graph: Graph;
  /** Its plan for a set of start nodes. */
  plan(start?: string | string[]): Plan;
}

/** @internal How a run continues from saved state. */
export interface ContinueFrom {
  /** The state. */
  state: RunStateData;
  /** Its channel. */
  channel?: Channel;
}

/** Folder of the default feedback store under the checkpoint directory. */
export const FEEDBACK_DIR = "feedback";

const RUN_ID = /^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,128}$/;

/** The built-in handlers every run has, created when first used. */
function builtinHandlers(): Map<string, TaskHandler> {
  return new Map<string, TaskHandler>([
    ["direct", directHandler],
    ["worker", { execute: (t, input, ctx) => defaultWorkerPool().execute(t, input, ctx) }],
  ]);
}

function validate(options: RunOptions): void {
  const { maxSteps, runId, handlers, keepCheckpoints, executor } = options;
  if (maxSteps !== undefined && (!Number.isInteger(maxSteps) || maxSteps < 1)) {
    throw new RangeError(`Cannot run flow: maxSteps must be a whole number >= 1, got ${maxSteps}`);
  }
  if (runId !== undefined && (typeof runId !== "string" || !RUN_ID.test(runId))) {
    throw new TypeError(
      `Cannot run flow: runId must be 1-128 characters of [A-Za-z0-9_.:-], not "." or "..", got ${
        JSON.stringify(runId)
      }`,
    );
  }
  for (const [name, h] of Object.entries({ ...handlers, ...options.taskHandlers })) {
    if (!h || typeof (h as TaskHandler).execute !== "function") {
      throw new TypeError(`Cannot run flow: handler "${name}" has no execute() method`);
    }
  }
  if (options.crashAfter !== undefined && typeof options.crashAfter !== "function") {
    throw new TypeError(
      `Cannot run flow: crashAfter must be a function, got ${typeof options.crashAfter}`,
    );
  }
  if (
    keepCheckpoints !== undefined && (!Number.isInteger(keepCheckpoints) || keepCheckpoints < 1)
  ) {
    throw new RangeError(
      `Cannot run flow: keepCheckpoints must be a whole number >= 1, got ${keepCheckpoints}`,
    );
  }
  if (executor !== undefined && (typeof executor !== "string" || executor === "")) {
    throw new TypeError(
      `Cannot run flow: executor must be a handler name, got ${JSON.stringify(executor)}`,
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
  constructor(flow: Runnable, options: RunOptions, from?: ContinueFrom) {
    this.runId = options.runId ?? from?.state.runId ?? crypto.randomUUID();
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#abort.signal])
      : this.#abort.signal;
    const opts: RunOptions = { ...options, runId: this.runId, signal };
    this.#engine = this.#create(flow, opts, from);
    const result = this.#engine.then((engine) => engine.begin(opts.input, from !== undefined));
    // The backend drops the run's bookkeeping once the run settled (never fails the run).
    const backend = opts.backend;
    this.result = backend?.runFinished
      ? result.finally(() => backend.runFinished!(this.runId).catch(() => {}))
      : result;
    this.result.catch(() => {}); // the caller observes it; avoid unhandled rejections here
  }

  async #create(flow: Runnable, o: RunOptions, from?: ContinueFrom): Promise<Engine> {
    validate(o);
    const handlers = builtinHandlers();
    if (o.backend) handlers.set(o.backend.name, o.backend.handler);
    for (const [name, h] of Object.entries(o.handlers ?? {})) handlers.set(name, h);
    const plan = flow.plan(o.start);
    const channel = o.channel ?? from?.channel ??
      (await o.backend?.channel?.(this.runId)) ?? new MemoryChannel();
    const clock = o.clock ?? systemClock;
    const feedbackStore = o.feedbackStore ?? o.backend?.feedbackStore?.() ??
      (o.checkpointDir ? new FileFeedbackStore(join(o.checkpointDir, FEEDBACK_DIR)) : undefined);
    return new Engine({
      runId: this.runId,
      graph: flow.graph,
      plan,
      channel,
      handlers,
      placement: { executor: o.executor, backend: o.backend },
      maxSteps: o.maxSteps ?? 10_000,
      signal: o.signal,
      clock,
      onEvent: o.onEvent,
      ...(o.taskHandlers ? { taskHandlers: new Map(Object.entries(o.taskHandlers)) } : {}),
      ...(o.crashAfter ? { crashAfter: o.crashAfter } : {}),
      persistence: runPersistence({
        checkpointDir: o.checkpointDir,
        keepCheckpoints: o.keepCheckpoints,
        maxSteps: o.maxSteps,
        executor: o.executor,
        feedbackStore,
        clock,
      }),
    }, from?.state);
  }

  /**
   * Cancels the run: running tasks see their signal abort; the run rejects with `reason`.
   *
   * @param reason The rejection reason. @default {DOMException "AbortError"}
   */
  abort(reason?: unknown): void {
    this.#abort.abort(reason);
  }

  /**
   * A snapshot of the run state (running tasks count as pending).
   *
   * @returns A snapshot of the run state as plain data.
   */
  async snapshot(): Promise<RunStateData> {
    return (await this.#engine).snapshot();
  }

  /**
   * Writes a checkpoint of the running run from the host (tasks running now run again on
   * resume).
   *
   * @param options Base path (any path: the caller chooses) and metadata.
   * @returns Base path and metadata.
   */
  async checkpoint(options: CreateCheckpointOptions = {}): Promise<CheckpointInfo> {
    return (await this.#engine).checkpoint(options);
  }

  /** Aborts the run if it is still going and waits for it to settle. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.abort();
    await this.result.catch(() => {});
  }
}

/** Options of {@linkcode createCheckpoint}. */
export interface CreateCheckpointOptions {
  /** Base path. @default {"<checkpointDir>/<runId>/step_<steps>"} */
  path?: string;
  /** Your data, stored in `.meta.json`. */
  metadata?: Record<string, unknown>;
}

/**
 * Writes a checkpoint of a running run from the host (tasks running now will run again on
 * resume).
 *
 * @param run The run handle from `flow.start()`.
 * @param options Path and metadata.
 * @returns Base path and metadata.
 * @throws {WorkflowError} `CHECKPOINT_UNAVAILABLE` without a path or `checkpointDir`.
 *
 * @example Checkpointing from the host
 * ```ts
 * import { createCheckpoint, flow, task } from "@graflow/graflow";
 * const slow = task("doc_cp_slow", async (_: unknown, ctx) => {
 *   await new Promise((r) => setTimeout(r, 50));
 *   return ctx.runId;
 * });
 * const dir = await Deno.makeTempDir();
 * const run = flow`${slow}`.start({ checkpointDir: dir });
 * const { path } = await createCheckpoint(run);
 * await run.result;
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function createCheckpoint(
  run: WorkflowRun,
  options: CreateCheckpointOptions = {},
): Promise<CheckpointInfo> {
  return run.checkpoint(options);
}
