/**
 * `loadCheckpoint()`: reads and verifies a checkpoint without running anything.
 *
 * @module
 */
import type { CheckpointMetadata } from "../context/task_context.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import { decodeState } from "./format.ts";
import { readCheckpoint, SUFFIXES } from "./files.ts";

/** What {@linkcode loadCheckpoint} returns. */
export interface CheckpointContents {
  /** Base path. */
  path: string;
  /** `.meta.json`. */
  metadata: CheckpointMetadata;
  /** The run state (inputs and results decoded). */
  state: RunStateData;
  /** Task names of the flow and the modules that defined them. */
  tasks: { id: string; module?: string }[];
  /** Kind of the saved channel (`"memory"`, `"redis"`, …). */
  channelKind: string;
}

/**
 * Reads and verifies a checkpoint without running anything (and without importing anything).
 *
 * @param path Base path (or one of its three file names).
 * @param options `secret`: refuse a checkpoint that is unsigned or not signed with it.
 * @returns Metadata and state.
 * @throws {CheckpointError} For missing, truncated, tampered, malformed or other-schema files,
 * naming the file and the field.
 *
 * @example Inspecting a checkpoint
 * ```ts ignore
 * import { loadCheckpoint } from "@graflow/graflow";
 * const { metadata, state } = await loadCheckpoint("checkpoints/run-1/step_3");
 * console.log(metadata.createdAt, state.completed);
 * ```
 */
export async function loadCheckpoint(
  path: string,
  options: { secret?: string } = {},
): Promise<CheckpointContents> {
  const cp = await readCheckpoint(path, options);
  return {
    path: cp.path,
    metadata: cp.metadata,
    state: decodeState(cp.state.state, cp.path + SUFFIXES.state),
    tasks: cp.state.flow.nodes.filter((n) => n.kind === "task" || n.map).map((n) => ({
      id: n.map?.task ?? n.id,
      ...(n.module ? { module: n.module } : {}),
    })),
    channelKind: cp.channel.kind,
  };
}
