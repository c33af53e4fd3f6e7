/**
 * The `RunResult` a finished run resolves to.
 *
 * @module
 */
import { ExecutedGraph } from "../graph/executed_graph.ts";
import type { Engine } from "./engine.ts";
import type { RunResult, RunStatus } from "./run_options.ts";

/**
 * Builds the result of a run that completed, terminated or is waiting for feedback.
 *
 * @param engine The run.
 * @param status How it ended.
 * @param feedback The open feedback request, for `"waiting"`.
 * @returns The result; `results` and `graph` are computed on first read.
 */
export function makeRunResult(
  engine: Engine,
  status: RunStatus,
  feedback?: { id: string; checkpoint: string },
): RunResult {
  const result = {
    runId: engine.runId,
    status,
    output: engine.output,
    completed: engine.completed,
    steps: engine.steps,
    channel: engine.channel,
    checkpoints: engine.checkpoints,
    ...(feedback ? { feedback } : {}),
    graph: new ExecutedGraph(engine.graph, () => engine.trace.edges()),
  };
  // Built on first read: a 100,000-task run does not pay for a record nobody looks at.
  let results: Record<string, unknown> | undefined;
  Object.defineProperty(result, "results", {
    get: () => (results ??= engine.results()),
    enumerable: true,
    configurable: true,
  });
  return result as RunResult;
}
