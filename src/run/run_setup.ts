/**
 * The composition root of a run: checks its options ({@linkcode checkRunOptions}) and assembles
 * what the engine needs ({@linkcode engineSetup}): the handler map (the built-in `direct`,
 * `worker` and `process` handlers, then the backend's, then the caller's), the channel (the
 * caller's, the checkpoint's, the backend's, the store's, else one in memory), the feedback store
 * and the persistence of checkpoints and human-in-the-loop requests.
 *
 * @module
 */
import { join } from "node:path";
import type { EngineSetup, RunOptions } from "../engine/run_options.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { Lease } from "../store/run_store.ts";
import { MemoryChannel } from "../channels/memory_channel.ts";
import type { Channel } from "../channels/channel.ts";
import { directHandler, type TaskHandler } from "../handlers/task_handler.ts";
import { defaultProcessPool, defaultWorkerPool } from "../handlers/default_worker_pool.ts";
import { FileFeedbackStore } from "../checkpoint/file_feedback_store.ts";
import { systemClock } from "../time/clock.ts";
import type { RunTelemetry } from "../observability/instrumentation.ts";
import type { TraceCarrier } from "../observability/otel.ts";
import { runPersistence } from "./run_persistence.ts";
import type { RunRecorder } from "./run_recorder.ts";

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

/** Folder of the default feedback store under the checkpoint directory. */
export const FEEDBACK_DIR = "feedback";

const RUN_ID = /^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,128}$/;

/** The built-in handlers every run has, created when first used. */
function builtinHandlers(): Map<string, TaskHandler> {
  return new Map<string, TaskHandler>([
    ["direct", directHandler],
    ["worker", { execute: (t, input, ctx) => defaultWorkerPool().execute(t, input, ctx) }],
    ["process", { execute: (t, input, ctx) => defaultProcessPool().execute(t, input, ctx) }],
  ]);
}

/**
 * Checks the options of a run before anything starts.
 *
 * @param options The options.
 * @throws {TypeError} When an option has the wrong type or shape.
 * @throws {RangeError} When a number is out of range.
 */
export function checkRunOptions(options: RunOptions): void {
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

/** What {@linkcode engineSetup} assembles besides the run options. */
export interface EngineParts {
  /** The flow's graph. */
  graph: Graph;
  /** Its plan for this run's start nodes. */
  plan: Plan;
  /** The saved state the run continues from, if any. */
  from?: ContinueFrom;
  /** The recorder of a run kept in a store. */
  recorder?: RunRecorder;
  /** Tracing, metrics and progress of the run. */
  telemetry?: RunTelemetry;
  /** The trace context of the run's first span. */
  trace?: TraceCarrier;
}

/**
 * Everything the engine of a run needs, from checked options.
 *
 * @param runId The run id.
 * @param o The run options (checked by {@linkcode checkRunOptions}).
 * @param parts Graph, plan, saved state, recorder, telemetry.
 * @returns The engine's setup.
 */
export async function engineSetup(
  runId: string,
  o: RunOptions,
  parts: EngineParts,
): Promise<EngineSetup> {
  const { from, recorder, telemetry, trace } = parts;
  const handlers = builtinHandlers();
  if (o.backend) handlers.set(o.backend.name, o.backend.handler);
  for (const [name, h] of Object.entries(o.handlers ?? {})) handlers.set(name, h);
  const channel = o.channel ?? from?.channel ??
    (await o.backend?.channel?.(runId)) ?? o.store?.channel(runId) ??
    new MemoryChannel();
  const clock = o.clock ?? systemClock;
  const feedbackStore = o.feedbackStore ?? o.backend?.feedbackStore?.() ?? o.store?.feedback ??
    (o.checkpointDir ? new FileFeedbackStore(join(o.checkpointDir, FEEDBACK_DIR)) : undefined);
  return {
    runId,
    graph: parts.graph,
    plan: parts.plan,
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
  };
}
