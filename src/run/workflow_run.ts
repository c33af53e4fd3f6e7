/**
 * `WorkflowRun`: the handle of a started run. Starting it checks the options and assembles the
 * engine (`./run_setup.ts`), records the run in its store when it has one (`./run_recorder.ts`),
 * traces it, and writes its final record.
 *
 * @module
 */
import { Engine } from "../engine/engine.ts";
import { graphShape } from "../graph/graph_version.ts";
import { toJsonTree } from "../channels/codec.ts";
import { SimulatedCrash } from "../engine/simulated_crash.ts";
import { RunRecorder } from "./run_recorder.ts";
import { finalPatch, keyedRunId, recordedResult } from "./recorded_run.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import type { CheckpointInfo } from "../context/task_context.ts";
import { systemClock } from "../time/clock.ts";
import type { WorkflowError } from "../errors.ts";
import { type RunTelemetry, runTelemetry } from "../observability/instrumentation.ts";
import { checkRunOptions, type ContinueFrom, engineSetup } from "./run_setup.ts";

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

/** Default lease of a recorded run. */
export const DEFAULT_LEASE_MS = 10_000;

/** This process, as the owner of the runs it drives. */
export const OWNER = `${safeHost()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;

function safeHost(): string {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "host";
  } catch {
    return "host";
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
    checkRunOptions(o);
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
      const setup = await engineSetup(this.runId, o, {
        graph: flow.graph,
        plan: flow.plan(o.start),
        from,
        recorder,
        telemetry,
        trace,
      });
      engine = new Engine(setup, from?.state);
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
