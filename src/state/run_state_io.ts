/**
 * `RunState` to plain data and back: the conversions behind `toData()` and `fromData()`.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { PlanNode } from "../graph/plan.ts";
import type { Activation, ExecState } from "./exec_state.ts";
import type {
  DynamicTaskRecord,
  PendingActivation,
  RunningExecution,
  RunStateData,
  TraceEdge,
} from "./run_state_data.ts";

/** What a snapshot reads from the state. */
export interface StateFields<E extends ExecState> {
  runId: string;
  steps: number;
  itemSteps: number;
  running: Iterable<E>;
  ready: Activation[];
  cycles: Record<string, number>;
  results: Record<string, unknown>;
  completed: readonly string[];
  output: unknown;
  lastTask: string | undefined;
  arrivals: RunStateData["arrivals"];
  groups: RunStateData["groups"];
  maps: NonNullable<RunStateData["maps"]>;
  dynamic: readonly DynamicTaskRecord[];
  trace: TraceEdge[];
  feedback: Record<string, string[]>;
  checkpoints: readonly string[];
  terminated: boolean;
}

/**
 * The state as data: running executions become pending (first, in start order), and do not
 * count in `steps` and `cycles` (they run again); running map items stay in their map as
 * items not done.
 *
 * @param f The state's fields.
 * @param rerun The execution taking an immediate checkpoint: it keeps its attempt number.
 * @returns The data.
 */
export function snapshotState<E extends ExecState>(
  f: StateFields<E>,
  rerun?: E,
  keepRunning = false,
): RunStateData {
  const pending: PendingActivation[] = [];
  const cycles = f.cycles;
  let steps = f.steps;
  let itemSteps = f.itemSteps;
  const running = [...f.running].filter((e) => e === rerun || !e.settled);
  running.sort((a, b) => a.step - b.step);
  const kept: RunningExecution[] = [];
  for (const exec of running) {
    if (keepRunning) {
      kept.push({
        step: exec.step,
        node: exec.node.id,
        input: exec.input,
        from: exec.from,
        kind: exec.kind,
        cycle: exec.cycle,
        attempt: exec.attempt,
        ...(exec.map ? { map: exec.map.owner.id, item: exec.item } : {}),
      });
      continue;
    }
    steps--;
    if (exec.map) {
      itemSteps--;
      continue;
    }
    pending.push({
      node: exec.node.id,
      input: exec.input,
      from: exec.from,
      kind: exec.kind,
      ...(exec === rerun || exec.attempt > 1 ? { attempt: exec.attempt } : {}),
    });
    if (--cycles[exec.node.id] === 0) delete cycles[exec.node.id];
  }
  for (const a of f.ready) {
    pending.push({
      node: a.node.id,
      input: a.input,
      from: a.from,
      kind: a.kind,
      ...(a.attempt ? { attempt: a.attempt } : {}),
    });
  }
  return {
    runId: f.runId,
    steps,
    results: f.results,
    completed: [...f.completed],
    cycles,
    output: f.output,
    ...(f.lastTask !== undefined ? { lastTask: f.lastTask } : {}),
    pending,
    ...(keepRunning ? { running: kept } : {}),
    arrivals: f.arrivals,
    groups: f.groups,
    dynamic: f.dynamic.map((d) => ({ ...d })),
    trace: f.trace,
    feedback: structuredClone(f.feedback),
    checkpoints: [...f.checkpoints],
    ...(f.terminated ? { terminated: true } : {}),
    ...(Object.keys(f.maps).length ? { maps: f.maps } : {}),
    ...(itemSteps ? { itemSteps } : {}),
  };
}

/** The data of a state with node ids resolved. */
export interface RestoredFields {
  steps: number;
  results: [PlanNode, unknown][];
  completed: string[];
  cycles: [PlanNode, number][];
  output: unknown;
  lastTask: string | undefined;
  arrivals: [PlanNode, Map<string, unknown>][];
  pending: Activation[];
  running: (Omit<RunningExecution, "node"> & { node: PlanNode })[];
}

/**
 * Resolves the node ids of state data.
 *
 * @param data The data.
 * @param nodeOf Finds a node by id.
 * @returns The fields with nodes.
 * @throws {WorkflowError} When the data names a node the flow does not have.
 */
export function restoreState(
  data: RunStateData,
  nodeOf: (id: string) => PlanNode | undefined,
): RestoredFields {
  const node = (id: string): PlanNode => {
    const found = nodeOf(id);
    if (!found) throw new WorkflowError(`Cannot restore run: node "${id}" is not in the flow`);
    return found;
  };
  return {
    steps: data.steps,
    results: Object.entries(data.results).map(([id, v]) => [node(id), v]),
    completed: [...data.completed],
    cycles: Object.entries(data.cycles).map(([id, n]) => [node(id), n]),
    output: data.output,
    lastTask: data.lastTask,
    arrivals: Object.entries(data.arrivals).map(([id, preds]) => [
      node(id),
      new Map(Object.entries(preds)),
    ]),
    pending: data.pending.map((p) => ({
      node: node(p.node),
      input: p.input,
      from: p.from,
      kind: p.kind,
      ...(p.attempt ? { attempt: p.attempt } : {}),
    })),
    running: (data.running ?? []).map((r) => ({ ...r, node: node(r.node) })),
  };
}
