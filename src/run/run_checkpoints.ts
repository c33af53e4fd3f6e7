/**
 * Writing the checkpoints of a run: deferred ones after a task succeeded, immediate ones from
 * inside a task or from the host. Writes of one run happen one after another. A path that a
 * task asks for (`ctx.checkpoint({ path })`, in-process or remote) is a relative name inside
 * the run's checkpoint folder: a task, however sandboxed, cannot choose where the host writes.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { WorkflowError } from "../errors.ts";
import type { CheckpointInfo, CheckpointOptions } from "../context/task_context.ts";
import { type ChannelSnapshot, isSnapshotChannel } from "../channels/channel.ts";
import { encodeState, graphToJson, SCHEMA_VERSION } from "../checkpoint/format.ts";
import { removeCheckpoint, SUFFIXES, writeCheckpoint } from "../checkpoint/files.ts";
import type { CheckpointMetadata } from "../context/task_context.ts";
import type { AttemptRef, EnginePort } from "../engine/persistence.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { TraceCarrier } from "../observability/otel.ts";

/** Run options a checkpoint keeps or uses. */
export interface CheckpointSettings {
  /** Folder of the run folders. */
  checkpointDir?: string;
  /** Keep only the newest n checkpoints of the run. */
  keepCheckpoints?: number;
  /** Stored so that a resumed run keeps them. */
  maxSteps?: number;
  /** Stored so that a resumed run keeps it. */
  executor?: string;
  /** Signs the checkpoints. */
  secret?: string;
  /** Stored so that a resumed run links to the run's first span. */
  trace?: TraceCarrier;
}

/** A relative checkpoint name: segments of `[A-Za-z0-9_.-]`, none of them `.` or `..`. */
const NAME = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

/** A snapshot of a run taken at one instant: state and channel contents. */
interface Capture {
  state: RunStateData;
  channel: Promise<ChannelSnapshot>;
}

/** The checkpoint writer of one run. */
export class RunCheckpoints {
  readonly #port: EnginePort;
  readonly #o: CheckpointSettings;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Creates the writer.
   *
   * @param port The run.
   * @param settings Folder, retention, options to keep.
   */
  constructor(port: EnginePort, settings: CheckpointSettings) {
    this.#port = port;
    this.#o = settings;
  }

  /**
   * Writes a task's deferred checkpoints (the snapshot is taken now).
   *
   * @param taskId The task.
   * @param requests Its `ctx.checkpoint()` options.
   * @returns When they are written.
   */
  afterTask(taskId: string, requests: CheckpointOptions[]): Promise<void> {
    const cap = this.#capture();
    return Promise.all(
      requests.map((o) => this.#enqueue(() => this.#write(cap, o, taskId, true))),
    ).then(() => {});
  }

  /**
   * Writes an immediate checkpoint (the attempt, if any, re-runs on resume).
   *
   * @param attempt The asking attempt, or `undefined` for the host.
   * @param options Path and metadata.
   * @returns Base path and metadata.
   */
  now(attempt: AttemptRef | undefined, options: CheckpointOptions): Promise<CheckpointInfo> {
    const cap = this.#capture(attempt);
    return this.#enqueue(() => this.#write(cap, options, attempt?.taskId, attempt !== undefined));
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#queue.catch(() => {}).then(job);
    this.#queue = next;
    return next;
  }

  #capture(rerun?: AttemptRef): Capture {
    const channel = this.#port.channel;
    if (!isSnapshotChannel(channel)) {
      throw new WorkflowError(
        `Cannot write checkpoint of run "${this.#port.runId}": its channel cannot be saved (it has no snapshot() method)`,
        { code: "CHECKPOINT_FAILED" },
      );
    }
    // Both are taken synchronously here: MemoryChannel.snapshot reads its entries before its
    // first await, so the channel matches the state.
    return { state: this.#port.snapshot(rerun), channel: channel.snapshot() };
  }

  /** The run's own checkpoint folder. */
  #folder(taskId: string | undefined): string {
    const dir = this.#o.checkpointDir;
    if (dir === undefined) {
      throw new WorkflowError(
        `Cannot write checkpoint of run "${this.#port.runId}"${
          taskId ? ` from task "${taskId}"` : ""
        }: set run({ checkpointDir })`,
        { code: "CHECKPOINT_UNAVAILABLE" },
      );
    }
    return join(dir, this.#port.runId);
  }

  /** Where a checkpoint goes: a task's path is a name inside the run folder. */
  async #base(
    options: CheckpointOptions,
    taskId: string | undefined,
    fromTask: boolean,
    steps: number,
  ): Promise<string> {
    const path = options.path;
    if (path === undefined) return await freeBase(this.#folder(taskId), steps);
    if (!fromTask) return path;
    if (typeof path !== "string" || !NAME.test(path) || path.length > 200) {
      throw new WorkflowError(
        `Cannot write checkpoint of run "${this.#port.runId}" from task "${taskId}": path must be a relative name of [A-Za-z0-9_.-] segments inside the run's checkpoint folder, got ${
          JSON.stringify(path)?.slice(0, 100)
        }`,
        { code: "CHECKPOINT_PATH" },
      );
    }
    const folder = this.#folder(taskId);
    const base = join(folder, path);
    await Deno.mkdir(resolve(base, ".."), { recursive: true });
    // A symbolic link inside the folder must not lead the write elsewhere.
    const real = await Deno.realPath(resolve(base, ".."));
    const root = await Deno.realPath(folder);
    const rel = relative(root, real);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new WorkflowError(
        `Cannot write checkpoint of run "${this.#port.runId}" from task "${taskId}": path ${
          JSON.stringify(path)
        } leads outside the run's checkpoint folder`,
        { code: "CHECKPOINT_PATH" },
      );
    }
    return join(real, base.slice(base.lastIndexOf("/") + 1));
  }

  async #write(
    cap: Capture,
    options: CheckpointOptions,
    taskId: string | undefined,
    fromTask: boolean,
  ): Promise<CheckpointInfo> {
    const port = this.#port;
    const dir = this.#o.checkpointDir;
    const base = await this.#base(options, taskId, fromTask, cap.state.steps);
    const o = this.#o;
    const metadata: CheckpointMetadata = await writeCheckpoint(base, {
      state: {
        schemaVersion: SCHEMA_VERSION,
        runId: port.runId,
        state: encodeState(cap.state),
        flow: graphToJson(port.graph, port.plan.starts.map((s) => s.id)),
        options: {
          ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}),
          ...(o.executor !== undefined ? { executor: o.executor } : {}),
          ...(dir !== undefined ? { checkpointDir: resolve(dir) } : {}),
          ...(o.keepCheckpoints !== undefined ? { keepCheckpoints: o.keepCheckpoints } : {}),
          ...(o.trace ? { trace: o.trace } : {}),
        },
      },
      channel: await cap.channel,
      meta: {
        checkpointId: crypto.randomUUID(),
        runId: port.runId,
        createdAt: new Date().toISOString(),
        steps: cap.state.steps,
        ...(taskId ? { taskId } : {}),
        user: options.metadata ?? {},
        schemaVersion: SCHEMA_VERSION,
      },
    }, o.secret === undefined ? {} : { secret: o.secret });
    port.checkpointWritten(base, cap.state.steps, taskId);
    if (options.path === undefined && o.keepCheckpoints !== undefined) {
      await prune(this.#folder(taskId), o.keepCheckpoints);
    }
    return { path: base, metadata };
  }
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
      found.push({ base, time: Date.parse(meta.createdAt) || 0, steps: meta.steps || 0 });
    } catch {
      // A checkpoint being written or corrupted: not ours to delete.
    }
  }
  // Checkpoints written within one millisecond share createdAt: the step count decides.
  found.sort((a, b) => b.time - a.time || b.steps - a.steps || b.base.localeCompare(a.base));
  await Promise.all(found.slice(keep).map((c) => removeCheckpoint(c.base)));
}
