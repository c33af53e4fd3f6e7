/**
 * The stop of a run that "died" on purpose (the test kit's crash injection): what the run
 * knew at that instant, to continue it in the same process.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import type { Channel } from "../channels/channel.ts";

/** Where a run was made to crash: right after the outcome of this task was applied. */
export interface CrashPoint {
  /** The task whose outcome was just applied. */
  taskId: string;
  /** Whether it succeeded. */
  ok: boolean;
  /** For a map item: its index. */
  item?: number;
}

/**
 * The rejection of a run stopped by a crash hook, as if its process died right after an
 * outcome was recorded: nothing ran or was recorded after it; tasks still running were
 * aborted and their results dropped.
 */
export class SimulatedCrash extends WorkflowError {
  /** Where it crashed. */
  readonly point: CrashPoint;
  /** The run state at that instant (running tasks count as pending: they run again). */
  readonly state: RunStateData;
  /** Base paths of the checkpoints the run had written. */
  readonly checkpoints: string[];
  /** The run's channel (as a durable channel would, it outlives the "process"). */
  readonly channel: Channel;

  /**
   * Creates the instance.
   *
   * @param point Where it crashed.
   * @param state The run state then.
   * @param checkpoints Checkpoints written before.
   * @param channel The run's channel.
   */
  constructor(point: CrashPoint, state: RunStateData, checkpoints: string[], channel: Channel) {
    super(
      `Run "${state.runId}" crashed (simulated) right after ${
        point.item === undefined ? "" : `item ${point.item} of `
      }task "${point.taskId}" ${point.ok ? "succeeded" : "failed"}`,
      { code: "SIMULATED_CRASH" },
    );
    this.name = "SimulatedCrash";
    this.point = point;
    this.state = state;
    this.checkpoints = checkpoints;
    this.channel = channel;
  }
}
