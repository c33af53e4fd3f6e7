/**
 * Where results go: the queue of activations waiting to start, the arrivals of joins, the
 * active parallel groups and maps, and the executed graph (the edges taken). Owned by one
 * `RunState`, which it tells when a group or map settled, failed the run, or cancelled
 * running executions (a group or map decided early).
 *
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import { BARRIER } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import { WorkflowError } from "../errors.ts";
import type { GroupOutcome } from "../graph/policies.ts";
import type { Activation, ExecState } from "./exec_state.ts";
import { GroupRun } from "./group_run.ts";
import type { MapRun, MapSettings } from "./map_run.ts";
import { MapRuns } from "./map_runs.ts";
import type { Task } from "../graph/task.ts";
import { ReadyQueue } from "./ready_queue.ts";
import { RunTrace } from "./run_trace.ts";
import type { ActivationKind, RunStateData, TraceEdge } from "./run_state_data.ts";

/** What routing tells its owner. */
export interface RoutingPort {
  /** A group succeeded with this output (its fork node carries the result). */
  groupSucceeded(fork: PlanNode, output: Record<string, unknown>): void;
  /** A map succeeded with this output (its owner carries the result). */
  mapSucceeded(run: MapRun, output: unknown[]): void;
  /** A group failure that is no outer group's member failure: the run fails. */
  fail(error: unknown): void;
  /** Cancels the running executions that pass `test` (a group or map decided without them). */
  cancel(test: (exec: ExecState) => boolean, reason: unknown): void;
  /** Emits an event (absent when nobody listens). */
  note?(type: "group.settled", fields: Record<string, unknown>): void;
}

/** The activations and group states of one run. */
export class Routing {
  readonly #graph: Graph;
  readonly #plan: Plan;
  readonly #port: RoutingPort;
  readonly #ready = new ReadyQueue<Activation>();
  readonly #arrivals = new Map<PlanNode, Map<string, unknown>>();
  readonly #groups = new Map<string, GroupRun>();
  readonly #maps = new MapRuns();
  readonly #trace: RunTrace;

  /**
   * Creates empty routing.
   *
   * @param graph The flow's graph.
   * @param plan Its plan.
   * @param port The owner.
   */
  constructor(graph: Graph, plan: Plan, port: RoutingPort) {
    this.#graph = graph;
    this.#plan = plan;
    this.#port = port;
    this.#trace = new RunTrace(plan);
  }

  /** Whether an activation or a map item waits. */
  get hasReady(): boolean {
    return !this.#ready.empty || this.#maps.hasRoom;
  }

  /**
   * Starts the next item of the oldest active map that has room.
   *
   * @returns The map (the item started is its `current`), or `undefined`.
   */
  nextItem(): MapRun | undefined {
    return this.#maps.next();
  }

  /**
   * The next task or map node activation; the forks of groups met on the way are opened.
   *
   * @returns The activation, or `undefined` when none waits.
   */
  next(): Activation | undefined {
    for (;;) {
      const act = this.#ready.take();
      if (!act || act.node.node.kind !== "fork") return act;
      const spec = this.#graph.groups.get(act.node.node.group!)!;
      this.#groups.set(spec.id, new GroupRun(spec));
      this.propagate(act.node, act.input, false);
    }
  }

  /**
   * Queues a node that is not reached along a static edge (start, next, goto).
   *
   * @param node The node.
   * @param input Its input.
   * @param from What activated it.
   * @param kind How.
   */
  activate(node: PlanNode, input: unknown, from: string, kind: ActivationKind): void {
    this.#ready.push({ node, input, from, kind });
    this.#trace.record(from, node.id, kind);
  }

  /**
   * Queues the next execution of a task that iterates.
   *
   * @param node The task's node.
   * @param input The next execution's input.
   */
  iterate(node: PlanNode, input: unknown): void {
    this.#ready.push({ node, input, from: node.id, kind: "iterate" });
    this.#trace.iterate(node);
  }

  /**
   * Sends a result along a node's edges: to successors, joins and group barriers.
   *
   * @param node The node that completed.
   * @param result Its result.
   * @param skipStatic Skip static successors (a jump); member exits still settle.
   */
  propagate(node: PlanNode, result: unknown, skipStatic: boolean): void {
    const out = node.out;
    for (let i = 0; i < out.length; i++) {
      const edge = out[i];
      switch (edge.kind) {
        case "member":
          this.#memberExit(node, result);
          continue;
        case "single":
        case "back":
          if (skipStatic) continue;
          this.#trace.edge(edge.index);
          this.#ready.push({
            node: edge.to,
            input: result,
            from: node.id,
            kind: edge.kind === "back" ? "back" : "edge",
          });
          continue;
        case "join": {
          if (skipStatic) continue;
          const to = edge.to;
          let arrived = this.#arrivals.get(to);
          if (!arrived) this.#arrivals.set(to, arrived = new Map());
          arrived.set(node.id, result);
          if (arrived.size < to.preds.length) continue;
          this.#arrivals.delete(to);
          const input: Record<string, unknown> = {};
          for (const p of to.preds) input[p.key] = arrived.get(p.id);
          this.#trace.edge(edge.index);
          this.#ready.push({ node: to, input, from: node.id, kind: "edge" });
        }
      }
    }
  }

  /**
   * Fails the group member `node` belongs to.
   *
   * @param node The node that failed.
   * @param error What it threw.
   * @returns False when the failure is no group member's (it fails the run).
   */
  memberFailed(node: PlanNode, error: unknown): boolean {
    const parent = node.node.parent;
    if (!parent) return false;
    const run = this.#groups.get(parent.group);
    const settledAll = run?.fail(node.member, node.key, error);
    if (settledAll === undefined) return false;
    if (settledAll) this.#settleGroup(run!);
    return true;
  }

  /**
   * Opens a map: its items become startable (an empty map settles at once). A map that cannot
   * start (its input is no array, …) fails like a task of its owner.
   *
   * @param owner The node the map completes (a map node, or the task that called `ctx.map`).
   * @param node The node its items run as.
   * @param task The task.
   * @param input The items.
   * @param cycle The owner's execution count.
   * @param settings Policy and bound.
   */
  openMap(
    owner: PlanNode,
    node: PlanNode,
    task: Task,
    input: unknown,
    cycle: number,
    settings: MapSettings,
  ): void {
    let run: MapRun;
    try {
      run = this.#maps.open(owner, node, task, input, cycle, settings);
    } catch (error) {
      if (!this.memberFailed(owner, error)) this.#port.fail(error);
      return;
    }
    if (owner !== node) this.#trace.record(owner.id, node.id, "map");
    this.#trace.items(node, run.items.length);
    if (run.done) this.#settleMap(run);
  }

  /**
   * Records a map item's result.
   *
   * @param run The map.
   * @param i The item.
   * @param result Its result.
   */
  itemOk(run: MapRun, i: number, result: unknown): void {
    if (run.ok(i, result)) this.#settleMap(run);
  }

  /**
   * Records a map item's failure (after its retries).
   *
   * @param run The map.
   * @param i The item.
   * @param error What it threw.
   */
  itemFailed(run: MapRun, i: number, error: unknown): void {
    if (run.fail(i, error)) this.#settleMap(run);
  }

  #settleMap(run: MapRun): void {
    this.#maps.delete(run);
    const { outcome, output, error } = run.settle();
    this.#noteSettled(outcome, !error, run);
    if (run.running > 0) {
      this.#port.cancel(
        (e) => e.map === run,
        settledEarly(`map "${run.owner.id}"`, run.policy?.label ?? "strict"),
      );
    }
    if (error) {
      if (!this.memberFailed(run.owner, error)) this.#port.fail(error);
      return;
    }
    this.#port.mapSucceeded(run, output);
    this.propagate(run.owner, output, false);
  }

  #noteSettled(outcome: GroupOutcome, ok: boolean, map?: MapRun): void {
    this.#port.note?.("group.settled", {
      groupId: outcome.groupId,
      succeeded: outcome.succeeded,
      failed: outcome.failed.map((f) => f.taskId),
      cancelled: outcome.cancelled,
      ok,
      ...(map ? { map: map.owner === map.node ? "node" : "call" } : {}),
    });
  }

  #memberExit(node: PlanNode, result: unknown): void {
    const run = this.#groups.get(node.node.parent!.group);
    if (run?.exit(node.member, node.key, result)) this.#settleGroup(run);
  }

  #settleGroup(run: GroupRun): void {
    const group = run.spec.id;
    this.#groups.delete(group);
    const { outcome, output, error } = run.settle();
    this.#noteSettled(outcome, !error);
    if (outcome.cancelled.length) {
      this.#cancelInside(
        group,
        settledEarly(`group "${group}"`, run.spec.policy?.label ?? "strict"),
      );
    }
    const barrier = this.#plan.nodes.get(group + BARRIER)!;
    if (error) {
      if (!this.memberFailed(barrier, error)) this.#port.fail(error);
      return;
    }
    this.#port.groupSucceeded(this.#plan.nodes.get(group)!, output);
    this.propagate(barrier, output, false);
  }

  /**
   * Drops everything inside a group that settled early: activations waiting, join arrivals,
   * nested groups and maps, and the executions running (cancelled).
   */
  #cancelInside(group: string, reason: unknown): void {
    const inside = (node: PlanNode) => isInside(this.#graph, node, group);
    this.#ready.removeWhere((a) => inside(a.node));
    for (const node of [...this.#arrivals.keys()]) if (inside(node)) this.#arrivals.delete(node);
    for (const id of [...this.#groups.keys()]) {
      if (inside(this.#plan.nodes.get(id)!)) this.#groups.delete(id);
    }
    for (const run of [...this.#maps.active]) if (inside(run.owner)) this.#maps.delete(run);
    this.#port.cancel((e) => inside(e.map ? e.map.owner : e.node), reason);
  }

  // As data -----------------------------------------------------------------------------------

  /**
   * The activations waiting, oldest first.
   *
   * @returns A copy.
   */
  readyItems(): Activation[] {
    return this.#ready.items();
  }

  /**
   * Join arrivals by join node id.
   *
   * @returns Plain data.
   */
  arrivalsData(): RunStateData["arrivals"] {
    const out: RunStateData["arrivals"] = {};
    for (const [node, preds] of this.#arrivals) out[node.id] = Object.fromEntries(preds);
    return out;
  }

  /**
   * Member states of the active groups.
   *
   * @param copy Deep-copy member results (else they are the live values, for a caller that
   * encodes them at once). @default {true}
   * @returns Plain data.
   */
  groupsData(copy = true): RunStateData["groups"] {
    const out: RunStateData["groups"] = {};
    for (const [g, run] of this.#groups) {
      out[g] = copy ? structuredClone(run.toJSON()) : run.toJSON();
    }
    return out;
  }

  /**
   * The active map that completes a node.
   *
   * @param owner The node.
   * @returns The map, if one is active.
   */
  mapRun(owner: PlanNode): MapRun | undefined {
    return this.#maps.get(owner);
  }

  /**
   * The active maps by owner id.
   *
   * @returns Plain data.
   */
  mapsData(): NonNullable<RunStateData["maps"]> {
    return this.#maps.toData();
  }

  /**
   * The edges taken.
   *
   * @returns Plain data.
   */
  traceEdges(): TraceEdge[] {
    return this.#trace.edges();
  }

  /**
   * Restores saved routing.
   *
   * @param data The saved state.
   * @param arrivals Its join arrivals with nodes resolved.
   * @param pending Its pending activations with nodes resolved (none when it was terminated).
   * @param nodeOf Finds a node of the run by id.
   * @throws {WorkflowError} When a saved group or map is not in the flow.
   */
  restore(
    data: RunStateData,
    arrivals: [PlanNode, Map<string, unknown>][],
    pending: Activation[],
    nodeOf: (id: string) => PlanNode | undefined,
  ): void {
    for (const [node, preds] of arrivals) this.#arrivals.set(node, preds);
    for (const [group, members] of Object.entries(data.groups)) {
      const spec = this.#graph.groups.get(group);
      if (!spec) {
        throw new WorkflowError(`Cannot restore run: group "${group}" is not in the flow`);
      }
      this.#groups.set(group, new GroupRun(spec, members));
    }
    if (data.maps && !data.terminated) this.#maps.restore(data.maps, this.#graph, nodeOf);
    this.#trace.restore(data.trace);
    for (const act of pending) this.#ready.push(act);
  }
}

/**
 * Whether a node lies inside a group (in one of its members, at any depth).
 *
 * @param graph The flow's graph.
 * @param node The node.
 * @param group The group id.
 * @returns True when it does.
 */
export function isInside(graph: Graph, node: PlanNode, group: string): boolean {
  for (let p = node.node.parent; p; p = graph.nodes.get(p.group)?.parent) {
    if (p.group === group) return true;
  }
  return false;
}

/** The reason given to the executions a group or map cancels when it settles early. */
function settledEarly(what: string, policy: string): WorkflowError {
  return new WorkflowError(
    `Cannot finish the task: ${what} settled without it (its ${policy} policy had its answer)`,
    { code: "SETTLED_EARLY" },
  );
}
