/**
 * Writing checkpoints from a run: deferred ones after a task succeeded, immediate ones from
 * inside a task, and host-side ones with {@linkcode createCheckpoint}.
 *
 * @module
 */
import { join, resolve } from "node:path";
import type { Engine, EngineHooks, Execution } from "../engine/engine.ts";
import { WorkflowError } from "../errors.ts";
import type { RunOptions } from "../engine/run_options.ts";
import type { WorkflowRun } from "../engine/workflow_run.ts";
import type { RunStateData } from "../context/run_state.ts";
import type {
  CheckpointInfo,
  CheckpointMetadata,
  CheckpointOptions,
  EngineTaskContext,
} from "../context/task_context.ts";
import { type ChannelSnapshot, isSnapshotChannel } from "../channels/channel.ts";
import { decodeState, encodeState, graphToJson, SCHEMA_VERSION } from "./format.ts";
import { readCheckpoint, removeCheckpoint, SUFFIXES, writeCheckpoint } from "./files.ts";
import { requestFeedback } from "./feedback.ts";

/** Writes of one run happen one after another (a later checkpoint never loses to an earlier). */
const queues = new WeakMap<Engine, Promise<unknown>>();

function enqueue<T>(engine: Engine, job: () => Promise<T>): Promise<T> {
  const previous = queues.get(engine) ?? Promise.resolve();
  const next = previous.catch(() => {}).then(job);
  queues.set(engine, next);
  return next;
}

/** A snapshot of a run taken at one instant: state and channel contents. */
interface Capture {
  state: RunStateData;
  channel: Promise<ChannelSnapshot>;
}

function capture(engine: Engine, rerun?: Execution): Capture {
  const channel = engine.channel;
  if (!isSnapshotChannel(channel)) {
    throw new WorkflowError(
      `Cannot write checkpoint of run "${engine.runId}": its channel cannot be saved (it has no snapshot() method)`,
      { code: "CHECKPOINT_FAILED" },
    );
  }
  // Both are taken synchronously here: MemoryChannel.snapshot reads its entries before its
  // first await, so the channel matches the state.
  return { state: engine.snapshot(rerun), channel: channel.snapshot() };
}

async function write(
  engine: Engine,
  cap: Capture,
  options: CheckpointOptions,
  taskId: string | undefined,
): Promise<CheckpointInfo> {
  const dir = engine.options.checkpointDir;
  if (options.path === undefined && dir === undefined) {
    throw new WorkflowError(
      `Cannot write checkpoint of run "${engine.runId}"${
        taskId ? ` from task "${taskId}"` : ""
      }: set run({ checkpointDir }) or give ctx.checkpoint({ path })`,
      { code: "CHECKPOINT_UNAVAILABLE" },
    );
  }
  const base = options.path ?? await freeBase(join(dir!, engine.runId), cap.state.steps);
  const metadata = await writeCheckpoint(base, {
    state: {
      schema_version: SCHEMA_VERSION,
      run_id: engine.runId,
      state: encodeState(cap.state),
      flow: graphToJson(engine.graph, engine.plan.starts.map((s) => s.id)),
      options: {
        ...(engine.options.maxSteps !== undefined ? { maxSteps: engine.options.maxSteps } : {}),
        ...(engine.options.executor ? { executor: engine.options.executor } : {}),
        ...(dir !== undefined ? { checkpointDir: resolve(dir) } : {}),
        ...(engine.options.keepCheckpoints !== undefined
          ? { keepCheckpoints: engine.options.keepCheckpoints }
          : {}),
      },
    },
    channel: await cap.channel,
    meta: {
      checkpoint_id: crypto.randomUUID(),
      run_id: engine.runId,
      created_at: new Date().toISOString(),
      steps: cap.state.steps,
      ...(taskId ? { task_id: taskId } : {}),
      user: options.metadata ?? {},
      schema_version: SCHEMA_VERSION,
    },
  });
  engine.checkpoints.push(base);
  engine.note("checkpoint.written", { path: base, taskId, steps: cap.state.steps });
  if (options.path === undefined && engine.options.keepCheckpoints !== undefined) {
    await prune(join(dir!, engine.runId), engine.options.keepCheckpoints);
  }
  return { path: base, metadata };
}

/**
 * The default base path for a checkpoint at `steps`: `step_<steps>`, or `step_<steps>_<k>`
 * when a checkpoint at that step count exists already (a task re-run after resume, a second
 * feedback timeout), so that no checkpoint ever overwrites another.
 */
async function freeBase(folder: string, steps: number): Promise<string> {
  for (let k = 1;; k++) {
    const base = join(folder, k === 1 ? `step_${steps}` : `step_${steps}_${k}`);
    try {
      await Deno.lstat(base + SUFFIXES.meta);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return base;
      throw error;
    }
  }
}

/** Keeps the newest `keep` checkpoints (by metadata time) in a run's folder. */
async function prune(folder: string, keep: number): Promise<void> {
  const found: { base: string; time: number; steps: number }[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (!entry.isFile || !entry.name.endsWith(SUFFIXES.meta)) continue;
    const base = join(folder, entry.name.slice(0, -SUFFIXES.meta.length));
    try {
      const meta = JSON.parse(await Deno.readTextFile(base + SUFFIXES.meta)) as CheckpointMetadata;
      found.push({ base, time: Date.parse(meta.created_at) || 0, steps: meta.steps || 0 });
    } catch {
      // A checkpoint being written or corrupted: not ours to delete.
    }
  }
  // Checkpoints written within one millisecond share created_at: the step count decides.
  found.sort((a, b) => b.time - a.time || b.steps - a.steps || b.base.localeCompare(a.base));
  await Promise.all(found.slice(keep).map((c) => removeCheckpoint(c.base)));
}

/**
 * The engine hooks that write checkpoints and serve human-in-the-loop requests.
 *
 * @param _options The run options.
 * @returns The hooks.
 */
export function checkpointHooks(_options: RunOptions): EngineHooks {
  return {
    afterTask(engine, exec, directives) {
      const cap = capture(engine);
      const jobs = directives.checkpoints!.map((opts) =>
        enqueue(engine, () => write(engine, cap, opts, exec.task.name))
      );
      return Promise.all(jobs).then(() => {});
    },
    checkpointNow(engine, ctx: EngineTaskContext, options) {
      const exec = engine.executionOf(ctx);
      const cap = capture(engine, exec);
      return enqueue(engine, () => write(engine, cap, options, ctx.taskId));
    },
    requestFeedback,
  };
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
export async function createCheckpoint(
  run: WorkflowRun,
  options: CreateCheckpointOptions = {},
): Promise<CheckpointInfo> {
  const engine = await run.engine();
  const cap = capture(engine);
  return enqueue(engine, () => write(engine, cap, options, undefined));
}

/** What {@linkcode loadCheckpoint} returns. */
export interface CheckpointContents {
  /** Base path. */
  path: string;
  /** `.meta.json`. */
  metadata: CheckpointMetadata;
  /** The run state (inputs and results decoded). */
  state: RunStateData;
  /** Task names of the flow and their module URLs. */
  tasks: { id: string; module?: string }[];
  /** Kind of the saved channel (`"memory"`, `"redis"`, …). */
  channelKind: string;
}

/**
 * Reads and verifies a checkpoint without running anything.
 *
 * @param path Base path (or one of its three file names).
 * @returns Metadata and state.
 * @throws {CheckpointError} For missing, truncated, tampered or newer-schema files.
 *
 * @example Inspecting a checkpoint
 * ```ts ignore
 * import { loadCheckpoint } from "@graflow/graflow";
 * const { metadata, state } = await loadCheckpoint("checkpoints/run-1/step_3");
 * console.log(metadata.created_at, state.completed);
 * ```
 */
export async function loadCheckpoint(path: string): Promise<CheckpointContents> {
  const cp = await readCheckpoint(path);
  return {
    path: cp.path,
    metadata: cp.metadata,
    state: decodeState(cp.state.state),
    tasks: cp.state.flow.nodes.filter((n) => n.kind === "task").map((n) => ({
      id: n.id,
      ...(n.module ? { module: n.module } : {}),
    })),
    channelKind: cp.channel.kind,
  };
}
