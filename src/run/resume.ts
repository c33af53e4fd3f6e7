/**
 * `resume()`: continues a run from a checkpoint, in this process or a new one.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import { WorkflowRun } from "./workflow_run.ts";
import { type Plan, planGraph } from "../graph/plan.ts";
import type { Flow } from "../dsl/flow.ts";
import { MemoryChannel } from "../channels/memory_channel.ts";
import type { Channel, ChannelSnapshot } from "../channels/channel.ts";
import { decodeValue } from "../channels/codec.ts";
import { decodeState, graphFromJson } from "../checkpoint/format.ts";
import { readCheckpoint, SUFFIXES } from "../checkpoint/files.ts";

/** Options of {@linkcode resume}: run options, plus the flow when it has custom policies. */
export interface ResumeOptions extends Omit<RunOptions, "input" | "start" | "runId"> {
  /** The original flow (needed only when a group has a custom policy function). */
  flow?: Flow;
}

function restoreChannel(snapshot: ChannelSnapshot, file: string): MemoryChannel {
  for (const e of snapshot.entries ?? []) {
    try {
      if (e.list) e.list.forEach((item) => decodeValue(item));
      else decodeValue(e.value ?? "");
    } catch (error) {
      throw new CheckpointError(
        file,
        `channel value of key "${e.key}" cannot be restored: ${(error as Error).message}`,
        error,
      );
    }
  }
  return MemoryChannel.fromSnapshot(snapshot);
}

/**
 * Continues a run from a checkpoint to the same final result as an uninterrupted run. Tasks are
 * found by name in the task registry: import the modules that define them first (a checkpoint
 * never makes Graflow import code).
 *
 * @param path Base path of the checkpoint (or one of its files).
 * @param options Run options (checkpointDir, handlers, channel, backend, events, …); with
 * `checkpointSecret`, an unsigned or tampered checkpoint is refused.
 * @returns The run result.
 * @throws {CheckpointError} When the checkpoint is invalid or a task is not registered.
 *
 * @example Resuming after a crash
 * ```ts ignore
 * import { resume } from "@graflow/graflow";
 * import "./tasks.ts"; // defines the flow's tasks
 * const result = await resume("checkpoints/run-1/step_3", { checkpointDir: "checkpoints" });
 * ```
 */
export async function resume(path: string, options: ResumeOptions = {}): Promise<RunResult> {
  return (await startResume(path, options)).result;
}

/**
 * Like {@linkcode resume} but returns the run handle.
 *
 * @param path Base path of the checkpoint.
 * @param options Run options.
 * @returns The run handle.
 * @throws {CheckpointError} When the checkpoint is invalid or a task is not registered.
 */
export async function startResume(path: string, options: ResumeOptions = {}): Promise<WorkflowRun> {
  const cp = await readCheckpoint(
    path,
    options.checkpointSecret === undefined ? {} : { secret: options.checkpointSecret },
  );
  const stateFile = cp.path + SUFFIXES.state;
  const graph = graphFromJson(cp.state.flow, stateFile, options.flow?.graph);
  const starts = cp.state.flow.starts;
  const state = decodeState(cp.state.state, stateFile);
  let plan: Plan | undefined;
  const runnable = { graph, plan: () => (plan ??= planGraph(graph, starts)) };
  let channel: Channel | undefined = options.channel;
  if (!channel) {
    if (cp.channel.kind === "memory") {
      channel = restoreChannel(cp.channel, cp.path + SUFFIXES.channel);
    } else if (!options.backend?.channel) {
      throw new CheckpointError(
        cp.path + SUFFIXES.channel,
        `the run used a "${cp.channel.kind}" channel: pass resume(path, { backend }) or { channel } to reconnect to it`,
      );
    }
  }
  const { flow: _flow, ...runOptions } = options;
  const saved = cp.state.options;
  return new WorkflowRun(runnable, {
    ...runOptions,
    maxSteps: options.maxSteps ?? saved.maxSteps,
    executor: options.executor ?? saved.executor,
    checkpointDir: options.checkpointDir ?? saved.checkpointDir,
    keepCheckpoints: options.keepCheckpoints ?? saved.keepCheckpoints,
    runId: cp.state.runId,
  }, { state, channel, ...(saved.trace ? { trace: saved.trace } : {}) });
}
