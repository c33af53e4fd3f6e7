/**
 * Where results go: the queue of activations waiting to start, the arrivals of joins, the
 * active parallel groups and the executed graph (the edges taken). Owned by one `RunState`,
 * which it tells when a group settled or failed the run.
 *
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import { BARRIER } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import { WorkflowError } from "../errors.ts";
import type { Activation } from "./exec_state.ts";
import { GroupRun } from "./group_run.ts";
import { ReadyQueue } from "./ready_queue.ts";
import { RunTrace } from "./run_trace.ts";
import type { ActivationKind, RunStateData, TraceEdge } from "./run_state_data.ts";

/** What routing tells its owner. */
export interface RoutingPort {
  /** A group succeeded with this output (its fork node carries the result). */
  groupSucceeded(fork: PlanNode, output: Record<string, unknown>): void;
  /** A group failure that is no outer group's member failure: the run fails. */
  fail(error: unknown): void;
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

  /** Whether an activation waits. */
  get hasReady(): boolean {
    return !this.#ready.empty;
  }

  /**
   * The next task activation; the forks of groups met on the way are opened.
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

  #memberExit(node: PlanNode, result: unknown): void {
    const run = this.#groups.get(node.node.parent!.group);
    if (run?.exit(node.member, node.key, result)) this.#settleGroup(run);
  }

  #settleGroup(run: GroupRun): void {
    const group = run.spec.id;
    this.#groups.delete(group);
    const { outcome, output, error } = run.settle();
    this.#port.note?.("group.settled", {
      groupId: group,
      succeeded: outcome.succeeded,
      failed: outcome.failed.map((f) => f.taskId),
      ok: !error,
    });
    const barrier = this.#plan.nodes.get(group + BARRIER)!;
    if (error) {
      if (!this.memberFailed(barrier, error)) this.#port.fail(error);
      return;
    }
    this.#port.groupSucceeded(this.#plan.nodes.get(group)!, output);
    this.propagate(barrier, output, false);
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
   * @throws {WorkflowError} When a saved group is not in the flow.
   */
  restore(
    data: RunStateData,
    arrivals: [PlanNode, Map<string, unknown>][],
    pending: Activation[],
  ): void {
    for (const [node, preds] of arrivals) this.#arrivals.set(node, preds);
    for (const [group, members] of Object.entries(data.groups)) {
      const spec = this.#graph.groups.get(group);
      if (!spec) {
        throw new WorkflowError(`Cannot restore run: group "${group}" is not in the flow`);
      }
      this.#groups.set(group, new GroupRun(spec, members));
    }
    this.#trace.restore(data.trace);
    for (const act of pending) this.#ready.push(act);
  }
}
