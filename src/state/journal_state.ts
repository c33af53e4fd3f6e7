/**
 * A run's state rebuilt from its journal (a snapshot, then transitions) without running
 * anything: what another process continues from, and what run pages are drawn from.
 *
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import type { ExecState } from "./exec_state.ts";
import { RunState, type RunStatePort } from "./run_state.ts";
import { Replay } from "./replay.ts";
import type { RunStateData } from "./run_state_data.ts";
import { decodeStateData } from "./state_codec.ts";

/**
 * The port of a state that only replays: executions are plain records.
 *
 * @param onExec Called with each execution made (e.g. to keep its input).
 * @returns The port.
 */
export function plainExecPort(onExec?: (exec: ExecState) => void): RunStatePort<ExecState> {
  return {
    exec: (step, node, task, input, from, kind, cycle, attempt, map, item) => {
      const exec: ExecState = {
        step,
        node,
        task,
        input,
        from,
        kind,
        cycle,
        attempt,
        map,
        item,
        settled: false,
        slot: -1,
      };
      onExec?.(exec);
      return exec;
    },
  };
}

/**
 * A replay that starts at a journal snapshot (encoded, as stored), or at the beginning.
 *
 * @param runId The run.
 * @param graph The flow's graph.
 * @param plan Its plan.
 * @param snapshot The snapshot's data, if any.
 * @param fail Makes the error for a snapshot field that cannot be decoded.
 * @param port The state's port.
 * @returns The replay; apply the transitions after the snapshot to it.
 */
export function replayFrom(
  runId: string,
  graph: Graph,
  plan: Plan,
  snapshot: unknown,
  fail: (field: string, error: unknown) => Error,
  port: RunStatePort<ExecState> = plainExecPort(),
): Replay<ExecState> {
  const state = snapshot
    ? RunState.fromData(
      decodeStateData(snapshot as RunStateData, fail),
      graph,
      plan,
      Number.MAX_SAFE_INTEGER,
      port,
    )
    : new RunState(runId, graph, plan, Number.MAX_SAFE_INTEGER, port);
  return new Replay(state);
}
