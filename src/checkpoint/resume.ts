/**
 * `resume()`: continues a run from a checkpoint, in this process or a new one.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import { WorkflowRun } from "../engine/workflow_run.ts";
import { type Plan, planGraph } from "../graph/plan.ts";
import type { Graph } from "../graph/graph.ts";
import { MemoryChannel } from "../channels/memory_channel.ts";
import type { Channel, ChannelSnapshot } from "../channels/channel.ts";
import { decodeValue } from "../channels/codec.ts";
import { decodeState, findTask, graphFromJson } from "./format.ts";
import { readCheckpoint, SUFFIXES } from "./files.ts";

/** Options of {@linkcode resume}: run options, plus the flow when it has custom policies. */
export interface ResumeOptions extends Omit<RunOptions, "input" | "start" | "runId"> {
  /** The original flow (needed only when a group has a custom policy function). */
  flow?: { readonly graph: Graph };
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
 * found in the registry (import the module that defines them first) or by importing the module
 * URLs recorded in the checkpoint.
 *
 * @param path Base path of the checkpoint (or one of its files).
 * @param options Run options (checkpointDir, handlers, channel, backend, events, …).
 * @returns The run result.
 * @throws {CheckpointError} When the checkpoint is invalid or a task cannot be found.
 *
 * @example Resuming after a crash
 * ```ts ignore
 * import { resume } from "@graflow/graflow";
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
 */
export async function startResume(path: string, options: ResumeOptions = {}): Promise<WorkflowRun> {
  const cp = await readCheckpoint(path);
  const stateFile = cp.path + SUFFIXES.state;
  const graph = await graphFromJson(cp.state.flow, stateFile, options.flow?.graph);
  const starts = cp.state.flow.starts;
  for (const s of starts) {
    if (!graph.nodes.has(s)) {
      throw new CheckpointError(stateFile, `start node "${s}" is not in the flow`);
    }
  }
  const state = decodeState(cp.state.state);
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
  const dynamic = await Promise.all(
    state.dynamic.map(async (d) => ({ task: await findTask(d.id, d.module, stateFile), by: d.by })),
  );
  const { flow: _flow, ...runOptions } = options;
  return new WorkflowRun(runnable, {
    ...runOptions,
    maxSteps: options.maxSteps ?? cp.state.options?.maxSteps,
    executor: options.executor ?? cp.state.options?.executor,
    checkpointDir: options.checkpointDir ?? cp.state.options?.checkpointDir,
    keepCheckpoints: options.keepCheckpoints ?? cp.state.options?.keepCheckpoints,
    runId: cp.state.run_id,
  }, {
    state,
    channel,
    prepare(engine) {
      for (const d of dynamic) engine.addDynamic(d.task, d.by);
    },
  });
}
