/**
 * The `RunResult` a finished run resolves to.
 *
 * @module
 */
import type { Channel } from "../channels/channel.ts";
import { ExecutedGraph } from "../graph/executed_graph.ts";
import type { ExecState, RunState } from "../state/run_state.ts";
import type { RunResult, RunStatus } from "./run_options.ts";

/**
 * Builds the result of a run that completed, terminated or is waiting for feedback.
 *
 * @param state The run's state.
 * @param channel The run's channel.
 * @param status How it ended.
 * @param feedback The open feedback request, for `"waiting"`.
 * @returns The result; `results` and `graph` are computed on first read.
 */
export function makeRunResult<E extends ExecState>(
  state: RunState<E>,
  channel: Channel,
  status: RunStatus,
  feedback?: { id: string; checkpoint: string },
): RunResult {
  const result = {
    runId: state.runId,
    status,
    output: state.output,
    completed: [...state.completed],
    steps: state.steps,
    channel,
    checkpoints: [...state.checkpoints],
    ...(feedback ? { feedback } : {}),
    graph: new ExecutedGraph(state.graph, () => state.traceEdges()),
  };
  // Built on first read: a 100,000-task run does not pay for a record nobody looks at.
  let results: Record<string, unknown> | undefined;
  Object.defineProperty(result, "results", {
    get: () => (results ??= state.results()),
    enumerable: true,
    configurable: true,
  });
  return result as RunResult;
}
