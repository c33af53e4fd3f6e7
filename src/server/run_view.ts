/**
 * A recorded run as the run page shows it: task attempts with timings, each execution's output
 * or error, and — when the run's flow is registered in the server's process with the same
 * version — its executed graph with a status per node, and each execution's input. Rebuilt from
 * the journal (nothing runs); the rebuilt states of recently viewed runs are kept and brought up
 * to date with the entries appended since, so a live run page costs the new entries only.
 *
 * @module
 */
import { toJsonTree } from "../channels/codec.ts";
import type { Flow } from "../dsl/flow.ts";
import type { ErrorRecord } from "../errors.ts";
import { ExecutedGraph, staticModel } from "../graph/executed_graph.ts";
import type { RenderModel } from "../graph/render.ts";
import type { ExecState } from "../state/exec_state.ts";
import { linearJournal, type Replay } from "../state/replay.ts";
import type { Transition } from "../state/run_state_data.ts";
import { decodeTransition } from "../state/state_codec.ts";
import { plainExecPort, replayFrom } from "../state/journal_state.ts";
import { type TaskAttempt, taskAttempts } from "../store/run_history.ts";
import type { JournalEntry, RunRecord, RunStore } from "../store/run_store.ts";
import { type ApiError, apiError } from "./views.ts";

/** How a node of the graph stands. */
export type NodeStatus =
  | "pending"
  | "running"
  | "retrying"
  | "succeeded"
  | "failed"
  | "waiting";

/** The executed graph of a run, with a status per node. */
export interface GraphView {
  /** Task nodes (static ones that have not run yet are `pending`). */
  nodes: {
    id: string;
    group?: string;
    status: NodeStatus;
    count: number;
    dynamic: boolean;
  }[];
  /** Parallel groups (boxes). */
  groups: { id: string; parent?: string; policy?: string; members: string[] }[];
  /** Edges; `count` 0 for a static edge not taken (yet). */
  edges: { from: string; to: string; kind: string; count: number }[];
}

/** One task execution (all its attempts) with its outcome. */
export interface StepView {
  /** The execution's number in the run. */
  step: number;
  /** The task. */
  taskId: string;
  /** How it ended (or `running`). */
  status: "running" | "succeeded" | "failed";
  /** Attempts made. */
  attempts: number;
  /** Its input (codec JSON), when the flow is registered here. */
  input?: unknown;
  /** Its result (codec JSON), once it succeeded. */
  output?: unknown;
  /** Its last error, with causes. */
  error?: ApiError;
}

interface Cached {
  seq: number;
  version: string;
  replay: Replay<ExecState>;
  inputs: Map<number, unknown>;
  broken?: string;
}

/** Builds run views; keeps the rebuilt states of the most recently viewed runs. */
export class RunViews {
  readonly #store: RunStore;
  readonly #flow: (name: string) => Flow | undefined;
  readonly #cache = new Map<string, Cached>();
  readonly #size: number;

  /**
   * @param store The store.
   * @param flow Finds a registered flow by name.
   * @param size How many rebuilt runs to keep.
   */
  constructor(store: RunStore, flow: (name: string) => Flow | undefined, size = 64) {
    this.#store = store;
    this.#flow = flow;
    this.#size = size;
  }

  /** The rebuilt state of a run brought up to date, or why there is none. */
  async #state(record: RunRecord): Promise<Cached | string> {
    const flow = this.#flow(record.flow);
    if (!flow) {
      return `flow "${record.flow}" is not registered in the server's process (start it with --module)`;
    }
    if (flow.version !== record.version) {
      return `flow "${record.flow}" is version ${flow.version} here; the run has version ${record.version}`;
    }
    let c = this.#cache.get(record.runId);
    if (c && c.version !== record.version) c = undefined;
    let entries: JournalEntry[] = [];
    if (c) {
      entries = await this.#store.entries(record.runId, c.seq);
      // A retry undoes an earlier failure: rebuild from the start rather than step on.
      if (entries.some((e) => (e.tr as { t?: string })?.t === "retried")) c = undefined;
    }
    if (!c) {
      const j = await this.#store.journal(record.runId);
      const inputs = new Map<number, unknown>();
      const port = plainExecPort((exec) => inputs.set(exec.step, exec.input));
      const make = () =>
        replayFrom(record.runId, flow.graph, flow.plan(), j.snapshot?.data, (f, e) => {
          throw new Error(`snapshot field ${f}: ${(e as Error)?.message}`);
        }, port);
      let replay: Replay<ExecState>;
      let transitions: Transition[];
      try {
        transitions = linearJournal(make, j.entries.map((e) => decodeTransition(e.tr as never)));
        inputs.clear(); // the probes of linearJournal made executions too
        replay = make();
      } catch (error) {
        return `its journal cannot be read: ${(error as Error).message}`;
      }
      c = { seq: j.snapshot?.seq ?? 0, version: record.version, replay, inputs };
      const last = j.entries.at(-1)?.seq ?? c.seq;
      for (const tr of transitions) {
        try {
          c.replay.apply(tr);
        } catch (error) {
          c.broken = `its journal does not replay: ${(error as Error).message}`;
          break;
        }
      }
      c.seq = last;
    } else if (!c.broken) {
      for (const e of entries) {
        try {
          c.replay.apply(decodeTransition(e.tr as never));
          c.seq = e.seq;
        } catch (error) {
          c.broken = `its journal does not replay at entry ${e.seq}: ${(error as Error).message}`;
          break;
        }
      }
    }
    this.#cache.delete(record.runId);
    this.#cache.set(record.runId, c);
    while (this.#cache.size > this.#size) this.#cache.delete(this.#cache.keys().next().value!);
    return c.broken ?? c;
  }

  /**
   * A run's attempts, executions and (flow registered here) executed graph.
   *
   * @param record The run's record.
   * @param pendingTasks Tasks with an open feedback request.
   * @returns The view; `graphNote` says why there is no graph.
   */
  async view(record: RunRecord, pendingTasks: ReadonlySet<string> = new Set()): Promise<{
    attempts: (TaskAttempt & { error?: ApiError })[];
    steps: StepView[];
    graph?: GraphView;
    graphNote?: string;
  }> {
    const entries = await this.#store.entries(record.runId);
    const attempts = taskAttempts(entries).map((a) => ({
      ...a,
      ...(a.error ? { error: apiError(a.error) } : {}),
    }));
    const steps = stepViews(entries, attempts);
    const state = await this.#state(record);
    if (typeof state === "string") return { attempts, steps, graphNote: state };
    for (const s of steps) {
      if (state.inputs.has(s.step)) s.input = encode(state.inputs.get(s.step));
    }
    const flow = this.#flow(record.flow)!;
    const executed = new ExecutedGraph(flow.graph, state.replay.state.traceEdges()).model();
    return {
      attempts,
      steps,
      graph: graphView(staticModel(flow.graph), executed, attempts, pendingTasks),
    };
  }
}

function encode(value: unknown): unknown {
  try {
    return toJsonTree(value, "input");
  } catch (error) {
    return { $type: "Unstorable", value: (error as Error).message };
  }
}

function stepViews(entries: JournalEntry[], attempts: TaskAttempt[]): StepView[] {
  const byStep = new Map<number, StepView>();
  for (const a of attempts) {
    const s = byStep.get(a.step) ??
      { step: a.step, taskId: a.taskId, status: "running" as const, attempts: 0 };
    s.attempts = Math.max(s.attempts, a.attempt);
    if (a.status === "succeeded" || a.status === "failed") s.status = a.status;
    byStep.set(a.step, s);
  }
  for (const e of entries) {
    const tr = e.tr as { t?: string; step?: number; result?: unknown; error?: ErrorRecord };
    const s = typeof tr?.step === "number" ? byStep.get(tr.step) : undefined;
    if (!s) continue;
    if (tr.t === "ok") s.output = tr.result;
    if ((tr.t === "fail" || tr.t === "retry") && tr.error) s.error = apiError(tr.error);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/**
 * The graph to draw: the flow's static nodes and edges, with what ran (dynamic tasks, loops,
 * `next` and `goto` edges) added, and a status per node from its latest attempt.
 *
 * @param base The flow's static model.
 * @param executed The executed model.
 * @param attempts The run's attempts.
 * @param pendingTasks Tasks with an open feedback request.
 * @returns The graph.
 */
export function graphView(
  base: RenderModel,
  executed: RenderModel,
  attempts: readonly TaskAttempt[],
  pendingTasks: ReadonlySet<string>,
): GraphView {
  const last = new Map<string, TaskAttempt>();
  for (const a of attempts) last.set(a.taskId, a);
  const status = (id: string): NodeStatus => {
    if (pendingTasks.has(id)) return "waiting";
    const a = last.get(id);
    if (!a) return "pending";
    if (a.status === "running") return a.attempt > 1 ? "retrying" : "running";
    return a.status === "retried" ? "retrying" : a.status;
  };
  const counts = new Map(executed.nodes.map((n) => [n.id, n]));
  const nodes: GraphView["nodes"] = base.nodes.map((n) => ({
    id: n.id,
    ...(n.parent ? { group: n.parent } : {}),
    status: status(n.id),
    count: counts.get(n.id)?.count ?? 0,
    dynamic: false,
  }));
  const known = new Set(nodes.map((n) => n.id));
  for (const n of executed.nodes) {
    if (known.has(n.id)) continue;
    known.add(n.id);
    nodes.push({
      id: n.id,
      ...(n.parent ? { group: n.parent } : {}),
      status: status(n.id),
      count: n.count ?? 1,
      dynamic: true,
    });
  }
  const edges = new Map<string, GraphView["edges"][number]>();
  for (const e of base.edges) {
    edges.set(`${e.from}\u0000${e.to}\u0000edge`, {
      from: e.from,
      to: e.to,
      kind: "edge",
      count: 0,
    });
  }
  for (const e of executed.edges) {
    const kind = e.kind ?? "edge";
    const key = `${e.from}\u0000${e.to}\u0000${kind === "back" ? "edge" : kind}`;
    const have = edges.get(key);
    if (have) {
      have.count += e.count ?? 1;
      if (kind === "back") have.kind = "back";
    } else edges.set(key, { from: e.from, to: e.to, kind, count: e.count ?? 1 });
  }
  return {
    nodes,
    groups: base.groups.map((g) => ({
      id: g.id,
      ...(g.parent ? { parent: g.parent } : {}),
      ...(g.policy ? { policy: g.policy } : {}),
      members: g.members,
    })),
    edges: [...edges.values()],
  };
}
