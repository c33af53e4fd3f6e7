/**
 * Records which edges a run took and how often: static edges in an array indexed like the
 * plan's edges (no string keys on the hot path), activations that are not static edges
 * (start, next, goto, iterations, resume) in a map.
 *
 * @module
 */
import type { ActivationKind, TraceEdge } from "./run_state_data.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";

/** The activations of one run. */
export class RunTrace {
  readonly #plan: Plan;
  readonly #counts: number[];
  readonly #extra = new Map<string, TraceEdge>();
  readonly #iterations = new Map<PlanNode, number>();
  readonly #items = new Map<PlanNode, number>();

  /**
   * Creates an empty trace.
   *
   * @param plan The run's plan.
   */
  constructor(plan: Plan) {
    this.#plan = plan;
    this.#counts = new Array(plan.edges.length).fill(0);
  }

  /**
   * Counts one activation along static edge `index`.
   *
   * @param index Edge index in the plan.
   */
  edge(index: number): void {
    this.#counts[index]++;
  }

  /**
   * Counts one `nextIteration` of a node (a self-loop; no string key on this hot path).
   *
   * @param node The node that iterates.
   */
  iterate(node: PlanNode): void {
    this.#iterations.set(node, (this.#iterations.get(node) ?? 0) + 1);
  }

  /**
   * Counts the items of a map that opened (a self-edge of kind `"item"` of the node the items
   * run as: the executed graph shows one node with the count).
   *
   * @param node The node the items run as.
   * @param n How many items.
   */
  items(node: PlanNode, n: number): void {
    this.#items.set(node, (this.#items.get(node) ?? 0) + n);
  }

  /**
   * Counts one activation that is not a static edge.
   *
   * @param from Source node (or `"start"`).
   * @param to Target node.
   * @param kind How.
   */
  record(from: string, to: string, kind: ActivationKind): void {
    add(this.#extra, from, to, kind, 1);
  }

  /**
   * Adds edges saved in a checkpoint.
   *
   * @param edges The saved edges.
   */
  restore(edges: TraceEdge[]): void {
    for (const e of edges) add(this.#extra, e.from, e.to, e.kind, e.count);
  }

  /**
   * Every edge taken, with counts.
   *
   * @returns Plain data.
   */
  edges(): TraceEdge[] {
    const merged = new Map<string, TraceEdge>();
    for (const [key, e] of this.#extra) merged.set(key, { ...e });
    for (const [node, count] of this.#iterations) add(merged, node.id, node.id, "iterate", count);
    for (const [node, count] of this.#items) {
      if (count > 0) add(merged, node.id, node.id, "item", count);
    }
    for (let i = 0; i < this.#counts.length; i++) {
      const count = this.#counts[i];
      if (count === 0) continue;
      const { from, to, back } = this.#plan.edges[i];
      add(merged, from, to, back ? "back" : "edge", count);
    }
    // A stable order: by source, then target, in plan order (tasks added at run time after the
    // flow's own nodes, by name), so renderings do not depend on what finished first.
    const rank = (id: string) => id === "start" ? -1 : this.#plan.nodes.get(id)?.index ?? Infinity;
    const kinds = ["start", "edge", "back", "iterate", "next", "goto", "map", "item", "resume"];
    return [...merged.values()].sort((a, b) =>
      rank(a.from) - rank(b.from) ||
      (rank(a.from) === Infinity ? a.from.localeCompare(b.from) : 0) ||
      rank(a.to) - rank(b.to) || (rank(a.to) === Infinity ? a.to.localeCompare(b.to) : 0) ||
      kinds.indexOf(a.kind) - kinds.indexOf(b.kind)
    );
  }
}

/** Adds `count` activations of the edge `from -kind-> to` to `edges`. */
function add(
  edges: Map<string, TraceEdge>,
  from: string,
  to: string,
  kind: ActivationKind,
  count: number,
): void {
  const key = `${from}\u0000${to}\u0000${kind}`;
  const e = edges.get(key);
  if (e) e.count += count;
  else edges.set(key, { from, to, kind, count });
}
