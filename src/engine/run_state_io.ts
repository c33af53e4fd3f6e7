/**
 * Converting a live run to its serializable state (for checkpoints) and back (for resume).
 *
 * @module
 */
import type { Engine, Execution } from "./engine.ts";
import { WorkflowError } from "../errors.ts";
import { GroupRun } from "./group_run.ts";
import type { PendingActivation, RunStateData } from "../context/run_state.ts";
import type { PlanNode } from "../graph/plan.ts";

/**
 * Snapshot of a run. Tasks running now become pending (they run again on resume); `rerun`
 * (the task taking an immediate checkpoint) keeps its attempt number.
 *
 * @param engine The run.
 * @param rerun The execution that takes an immediate checkpoint, if any.
 * @returns The state as plain data (values not yet encoded).
 */
export function snapshotRun(engine: Engine, rerun?: Execution): RunStateData {
  const pending: PendingActivation[] = [];
  const cycles = engine.cycles();
  let steps = engine.steps;
  for (const exec of engine.running) {
    if (exec !== rerun && exec.settled) continue;
    pending.push({
      node: exec.node.id,
      input: exec.input,
      from: exec.from,
      kind: exec.kind,
      ...(exec === rerun || exec.attempt > 1 ? { attempt: exec.attempt } : {}),
    });
    cycles[exec.node.id]--;
    steps--;
  }
  for (const a of engine.ready.items()) {
    pending.push({
      node: a.node.id,
      input: a.input,
      from: a.from,
      kind: a.kind,
      ...(a.attempt ? { attempt: a.attempt } : {}),
    });
  }
  const arrivals: RunStateData["arrivals"] = {};
  for (const [node, preds] of engine.arrivals) arrivals[node.id] = Object.fromEntries(preds);
  const groups: RunStateData["groups"] = {};
  for (const [g, run] of engine.groupRuns) groups[g] = structuredClone(run.toJSON());
  return {
    runId: engine.runId,
    steps,
    results: engine.results(),
    completed: [...engine.completed],
    cycles,
    output: engine.output,
    lastTask: engine.lastTask,
    pending,
    arrivals,
    groups,
    dynamic: [...engine.dynamic],
    trace: engine.trace.edges(),
    feedback: { requests: structuredClone(engine.feedbackRequests) },
    ...(engine.stop?.kind === "terminated" ? { terminated: true } : {}),
  };
}

/**
 * Loads a saved state into a new engine (dynamic tasks must already be added).
 *
 * @param engine The new run.
 * @param state The saved state.
 * @throws {WorkflowError} When the state names a node that is not in the flow.
 */
export function restoreRun(engine: Engine, state: RunStateData): void {
  const node = (id: string): PlanNode => {
    const found = engine.node(id);
    if (!found) throw new WorkflowError(`Cannot restore run: node "${id}" is not in the flow`);
    return found;
  };
  engine.steps = state.steps;
  for (const [id, value] of Object.entries(state.results)) engine.setResult(id, value);
  engine.completed.push(...state.completed);
  for (const [id, count] of Object.entries(state.cycles)) {
    engine.cycleCounts[node(id).index] = count;
  }
  engine.output = state.output;
  engine.lastTask = state.lastTask;
  for (const [id, preds] of Object.entries(state.arrivals)) {
    engine.arrivals.set(node(id), new Map(Object.entries(preds)));
  }
  for (const [group, members] of Object.entries(state.groups)) {
    engine.groupRuns.set(group, new GroupRun(engine.graph.groups.get(group)!, members));
  }
  engine.feedbackRequests = structuredClone(state.feedback?.requests ?? {});
  engine.trace.restore(state.trace);
  if (state.terminated) {
    engine.halt({ kind: "terminated" });
    return;
  }
  for (const p of state.pending) {
    engine.ready.push({
      node: node(p.node),
      input: p.input,
      from: p.from,
      kind: p.kind,
      ...(p.attempt ? { attempt: p.attempt } : {}),
    });
  }
}
