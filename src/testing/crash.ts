/**
 * Crash injection: stop a run as if its process died right after a chosen task's outcome was
 * recorded (`run({ crashAfter: crashAfter("task") })`), then continue it in the same process
 * from what it had recorded ({@linkcode resumeAfterCrash}), as a resume or a takeover would.
 *
 * @module
 */
import type { CrashPoint, SimulatedCrash } from "../engine/simulated_crash.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import { WorkflowRun } from "../run/workflow_run.ts";
import type { Flow } from "../dsl/flow.ts";

/** Options of {@linkcode crashAfter}. */
export interface CrashAfterOptions {
  /** Crash at the n-th matching outcome (map items count one each). @default {1} */
  times?: number;
  /** Which outcomes match. @default {"succeeded"} */
  outcome?: "succeeded" | "failed" | "any";
}

/**
 * A crash hook for `run({ crashAfter })`: the run stops right after the `times`-th outcome of
 * task `taskId` was applied to its state, rejects with a `SimulatedCrash` holding that state
 * (tasks running then count as pending) and its channel; nothing runs or is recorded after.
 *
 * @param taskId The task (for map items: the task run per item).
 * @param options Which outcome, and how many.
 * @returns The hook.
 * @throws {TypeError} When `taskId` is not a non-empty string.
 * @throws {RangeError} When `times` is not a whole number >= 1.
 *
 * @example Crashing after a task and resuming
 * ```ts
 * import { flow, SimulatedCrash, task } from "@graflow/graflow";
 * import { crashAfter, resumeAfterCrash } from "@graflow/graflow/testing";
 * const loads: number[][] = [];
 * const extract = task("doc_crash_extract", () => [1, 2]);
 * const load = task("doc_crash_load", (rows: number[]) => loads.push(rows));
 * const etl = flow`${extract} >> ${load}`;
 * const crash = await etl.run({ crashAfter: crashAfter("doc_crash_extract") }).catch((e) => e);
 * if (!(crash instanceof SimulatedCrash) || loads.length !== 0) throw new Error("unexpected");
 * const result = await resumeAfterCrash(etl, crash); // extract does not run again
 * if (result.output !== 1 || JSON.stringify(loads) !== "[[1,2]]") throw new Error("unexpected");
 * ```
 */
export function crashAfter(
  taskId: string,
  options: CrashAfterOptions = {},
): (point: CrashPoint) => boolean {
  if (typeof taskId !== "string" || taskId === "") {
    throw new TypeError(
      `Cannot set a crash point: taskId must be a task name, got ${String(taskId)}`,
    );
  }
  const times = options.times ?? 1;
  if (!Number.isInteger(times) || times < 1) {
    throw new RangeError(
      `Cannot set a crash point: times must be a whole number >= 1, got ${times}`,
    );
  }
  const outcome = options.outcome ?? "succeeded";
  if (!["succeeded", "failed", "any"].includes(outcome)) {
    throw new TypeError(
      `Cannot set a crash point: outcome must be "succeeded", "failed" or "any", got ${
        JSON.stringify(outcome)
      }`,
    );
  }
  let seen = 0;
  return (point) => {
    if (point.taskId !== taskId) return false;
    if (outcome !== "any" && point.ok !== (outcome === "succeeded")) return false;
    return ++seen === times;
  };
}

/**
 * Continues a crashed run in this process from the state it had recorded (its channel is
 * reused, as a durable channel would be): tasks that were running run again, finished ones
 * (map items included) do not.
 *
 * @param flow The flow the run ran.
 * @param crash The `SimulatedCrash` the run rejected with.
 * @param options Run options for the continuation, as a restarted process would pass them
 * again (handlers, `checkpointDir`, `maxSteps`, events, another crash hook, …; `start` must be
 * the original run's).
 * @returns The run result.
 */
export function resumeAfterCrash(
  flow: Flow,
  crash: SimulatedCrash,
  options: Omit<RunOptions, "input" | "runId"> = {},
): Promise<RunResult> {
  const run = new WorkflowRun(flow, { ...options, runId: crash.state.runId }, {
    state: structuredClone(crash.state),
    channel: options.channel ?? crash.channel,
  });
  return run.result;
}
