/**
 * `WorkflowRun`: the handle of a started run, and the composition root of a run: it checks the
 * options, builds the handler map (built-in handlers, the backend's, the caller's), the
 * channel, the persistence (checkpoints, human in the loop) and the engine.
 *
 * @module
 */
import { join } from "node:path";
import { Engine } from "../engine/engine.ts";
import { graphShape } from "../graph/graph_version.ts";
import { toJsonTree } from "../channels/codec.ts";
import type { Lease } from "../store/run_store.ts";
import { SimulatedCrash } from "../engine/simulated_crash.ts";
import { RunRecorder } from "./run_recorder.ts";
import { finalPatch, keyedRunId, recordedResult } from "./recorded_run.ts";
import type { EngineSetup, RunOptions, RunResult } from "../engine/run_options.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import { MemoryChannel } from "../channels/memory_channel.ts";
import type { Channel } from "../channels/channel.ts";
import type { CheckpointInfo } from "../context/task_context.ts";
import { directHandler, type TaskHandler } from "../handlers/task_handler.ts";
import { defaultProcessPool, defaultWorkerPool } from "../handlers/default_worker_pool.ts";
import { FileFeedbackStore } from "../checkpoint/file_feedback_store.ts";
import { systemClock } from "../time/clock.ts";
import type { WorkflowError } from "../errors.ts";
import { runPersistence } from "./run_persistence.ts";
import { type RunTelemetry, runTelemetry } from "../observability/instrumentation.ts";
import type { TraceCarrier } from "../observability/otel.ts";

/** What a run needs of its flow. */
export interface Runnable {
  /** The flow's graph. */
  readonly graph: Graph;
  /** Its name, when registered. */
  readonly name?: string;
  /** Its graph version. */
  readonly version?: string;
  /** Its plan for a set of start nodes. */
  plan(start?: string | string[]): Plan;
}

/** @internal How a run continues from saved state. */
export interface ContinueFrom {
  /** The state (from a checkpoint). */
  state?: RunStateData;
  /** Its channel. */
  channel?: Channel;
  /** A recorded run continued from its journal, with the lease taken on it. */
  journal?: EngineSetup["journal"] & { lease: Lease; seq: number; runId: string };
  /** The trace context of the run's first span (its new span links to it). */
  trace?: TraceCarrier;
}

/** Default lease of a recorded run. */
export const DEFAULT_LEASE_MS = 10_000;

/** Folder of the default feedback store under the checkpoint directory. */
export const FEEDBACK_DIR = "feedback";

const RUN_ID = /^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,128}$/;

/** This process, as the owner of the runs it drives. */
export const OWNER = `${safeHost()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;

function safeHost(): string {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "host";
  } catch {
    return "host";
  }
}

/** The built-in handlers every run has, created when first used. */
function builtinHandlers(): Map<string, TaskHandler> {
  return new Map<string, TaskHandler>([
    ["direct", directHandler],
    ["worker", { execute: (t, input, ctx) => defaultWorkerPool().execute(t, input, ctx) }],
    ["process", { execute: (t, input, ctx) => defaultProcessPool().execute(t, input, ctx) }],
  ]);
}

function validate(options: RunOptions): void {
  const { maxSteps, runId, handlers, keepCheckpoints, executor, leaseMs, idempotencyKey } = options;
  if (leaseMs !== undefined && (!Number.isInteger(leaseMs) || leaseMs < 100)) {
    throw new RangeError(`Cannot run flow: leaseMs must be a whole number >= 100, got ${leaseMs}`);
  }
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== "string" || idempotencyKey === "" || idempotencyKey.length > 512)
  ) {
    throw new TypeError(
      `Cannot run flow: idempotencyKey must be a string of 1-512 characters, got ${
        JSON.stringify(idempotencyKey)?.slice(0, 80)
      }`,
    );
  }
  if (idempotencyKey !== undefined && !options.store) {
    throw new TypeError("Cannot run flow: idempotencyKey needs run({ store })");
  }
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
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw new TypeError(
      `Cannot run flow: onProgress must be a function, got ${typeof options.onProgress}`,
    );
  }
  const every = options.progressIntervalMs;
  if (every !== undefined && !(typeof every === "number" && every >= 10 && every < 2 ** 31)) {
    throw new RangeError(
      `Cannot run flow: progressIntervalMs must be a number from 10 to 2^31-1, got ${every}`,
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
    this.runId = options.runId ?? from?.journal?.runId ?? from?.state?.runId ??
      (options.store && options.idempotencyKey
        ? keyedRunId(flow.name ?? "flow", options.idempotencyKey)
        : crypto.randomUUID());
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#abort.signal])
      : this.#abort.signal;
    const opts: RunOptions = { ...options, runId: this.runId, signal };
    let engineReady!: (e: Engine) => void;
    let engineFailed!: (e: unknown) => void;
    this.#engine = new Promise((resolve, reject) => {
      engineReady = resolve;
      engineFailed = reject;
    });
    this.#engine.catch(() => {});
    const result = this.#start(flow, opts, from, engineReady).catch((error) => {
      engineFailed(error);
      throw error;
    });
    // The backend drops the run's bookkeeping once the run settled (never fails the run).
    const backend = opts.backend;
    this.result = backend?.runFinished
      ? result.finally(() => backend.runFinished!(this.runId).catch(() => {}))
      : result;
    this.result.catch(() => {}); // the caller observes it; avoid unhandled rejections here
  }

  async #start(
    flow: Runnable,
    o: RunOptions,
    from: ContinueFrom | undefined,
    ready: (e: Engine) => void,
  ): Promise<RunResult> {
    validate(o);
    // Made before the first await: the context active where the run was started is its parent.
    const telemetry = runTelemetry({
      runId: this.runId,
      flow: flow.name ?? "",
      graph: flow.graph,
      placement: { executor: o.executor, backend: o.backend },
      clock: o.clock ?? systemClock,
      link: from?.trace,
      onProgress: o.onProgress,
      progressIntervalMs: o.progressIntervalMs,
    });
    try {
      return await this.#started(flow, o, from, ready, telemetry);
    } catch (error) {
      telemetry?.discard(error); // a no-op once the run itself ended
      throw error;
    } finally {
      telemetry?.discard("not started");
    }
  }

  async #started(
    flow: Runnable,
    o: RunOptions,
    from: ContinueFrom | undefined,
    ready: (e: Engine) => void,
    telemetry: RunTelemetry | undefined,
  ): Promise<RunResult> {
    const store = o.store;
    // Kept with the run: the trace context of its first span (continued runs link to it).
    const trace = from?.trace ?? telemetry?.carrier;
    let lease = from?.journal?.lease;
    if (store && lease && trace && !from?.trace) {
      await store.update(this.runId, lease, { trace }).catch(() => {});
    }
    if (store && !from?.journal) {
      const created = await store.create({
        runId: this.runId,
        flow: flow.name ?? "",
        version: flow.version ?? "",
        graph: graphShape(flow.graph),
        input: toJsonTree(o.input, "run input"),
        status: "running",
        owner: OWNER,
        leaseMs: o.leaseMs ?? DEFAULT_LEASE_MS,
        ...(o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey } : {}),
        ...(trace ? { trace } : {}),
      });
      if (!created.created) {
        // The key's run exists (here or in another process): its result is this call's.
        return recordedResult(
          store,
          created.record.runId,
          flow.graph,
          flow.plan(o.start),
          o.signal,
        );
      }
      lease = created.lease;
    }
    let cancelled = false;
    let engine: Engine | undefined;
    const recorder = store && lease
      ? new RunRecorder({
        store,
        runId: this.runId,
        lease,
        leaseMs: o.leaseMs ?? DEFAULT_LEASE_MS,
        clock: o.clock ?? systemClock,
        seq: from?.journal?.seq ?? 0,
        flushMs: 10,
        snapshotEvery: 10_000,
        journalData: () => engine!.journalData(),
        stop: (error, byCancel) => {
          cancelled ||= byCancel;
          this.#abort.abort(error);
        },
      })
      : undefined;
    try {
      engine = await this.#create(flow, o, from, recorder, telemetry, trace);
    } catch (error) {
      recorder?.close();
      throw error;
    }
    ready(engine);
    try {
      const j = from?.journal;
      const resumed = from?.state !== undefined ||
        (j !== undefined && (j.transitions.length > 0 || j.snapshot !== undefined));
      const result = await engine.begin(o.input, resumed);
      await recorder?.finish(finalPatch({ ok: true, result }, false, new Date().toISOString()));
      if (result.status === "waiting" && recorder) await store!.release(this.runId, recorder.lease);
      return result;
    } catch (error) {
      if (error instanceof SimulatedCrash) {
        // As if the process died right after the outcome: what was recorded is written, the
        // lease is left to expire (another process continues the run), no final record.
        await recorder?.flush();
        recorder?.close();
      } else if ((error as WorkflowError)?.code === "LEASE_LOST") recorder?.close();
      else {
        await recorder?.finish(
          finalPatch(
            { ok: false, error, steps: engine.snapshot().steps },
            cancelled,
            new Date().toISOString(),
          ),
        );
      }
      throw error;
    }
  }

  async #create(
    flow: Runnable,
    o: RunOptions,
    from: ContinueFrom | undefined,
    recorder: RunRecorder | undefined,
    telemetry: RunTelemetry | undefined,
    trace: TraceCarrier | undefined,
  ): Promise<Engine> {
    const handlers = builtinHandlers();
    if (o.backend) handlers.set(o.backend.name, o.backend.handler);
    for (const [name, h] of Object.entries(o.handlers ?? {})) handlers.set(name, h);
    const plan = flow.plan(o.start);
    const channel = o.channel ?? from?.channel ??
      (await o.backend?.channel?.(this.runId)) ?? o.store?.channel(this.runId) ??
      new MemoryChannel();
    const clock = o.clock ?? systemClock;
    const feedbackStore = o.feedbackStore ?? o.backend?.feedbackStore?.() ?? o.store?.feedback ??
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
      ...(telemetry ? { observer: telemetry } : {}),
      record: recorder?.record,
      journal: from?.journal,
      ...(o.taskHandlers ? { taskHandlers: new Map(Object.entries(o.taskHandlers)) } : {}),
      ...(o.crashAfter ? { crashAfter: o.crashAfter } : {}),
      persistence: runPersistence({
        checkpointDir: o.checkpointDir,
        keepCheckpoints: o.keepCheckpoints,
        maxSteps: o.maxSteps,
        executor: o.executor,
        secret: o.checkpointSecret,
        feedbackStore,
        durable: recorder !== undefined,
        clock,
        ...(trace ? { trace } : {}),
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

  /** @internal The engine, once it exists. */
  engine(): Promise<Engine> {
    return this.#engine;
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
