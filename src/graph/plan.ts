/**
 * The scheduling plan of a graph for a set of start nodes: back edges (loops), forward
 * predecessors (joins) and each node's outgoing edges, precompiled for the run loop.
 *
 * @module
 */
import type { Graph, GraphNode } from "./graph.ts";

/** An outgoing edge, precompiled for the run loop. */
export interface PlanEdge {
  /** Target. */
  readonly to: PlanNode;
  /** Index of the edge in {@linkcode Plan.edges} (for per-run counters). */
  readonly index: number;
  /** `member`: the source is an exit of the group whose barrier this is; `back`: closes a loop;
   * `single`: the target has one forward predecessor; `join`: it has several. */
  readonly kind: "member" | "back" | "single" | "join";
}

/** A node with its precompiled scheduling facts. */
export interface PlanNode {
  /** Node id. */
  readonly id: string;
  /** Dense index (per-run counters are arrays). */
  readonly index: number;
  /** The graph node. */
  readonly node: GraphNode;
  /** Outgoing edges. */
  readonly out: PlanEdge[];
  /** Forward predecessors (a join waits for all of them). */
  readonly preds: PlanNode[];
  /** Key of this node in a successor's join input (task id, or group id for a barrier). */
  readonly key: string;
  /** Position of this node's member in its parent group's members (-1 outside groups). */
  readonly member: number;
}

/** Scheduling facts about a graph for one set of start nodes. */
export interface Plan {
  /** Start nodes. */
  readonly starts: PlanNode[];
  /** Every node by id. */
  readonly nodes: Map<string, PlanNode>;
  /** Every static edge, by index: source, target, and whether it closes a loop. */
  readonly edges: { from: string; to: string; back: boolean }[];
}

/**
 * Finds back edges by depth-first search from the start nodes (then from any node not reached)
 * and precompiles each node's outgoing edges and forward predecessors.
 *
 * @param graph The graph.
 * @param starts Start node ids.
 * @returns The plan.
 */
export function planGraph(graph: Graph, starts: string[]): Plan {
  const backEdges = new Set<string>();
  const state = new Map<string, 1 | 2>(); // 1 on stack, 2 done
  const visit = (root: string) => {
    if (state.has(root)) return;
    // Iterative DFS so that 100k-node chains do not overflow the stack.
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const succ = graph.successors(top[0]);
      if (top[1] < succ.length) {
        const next = succ[top[1]++];
        const s = state.get(next);
        if (s === 1) backEdges.add(top[0] + "\u0000" + next);
        else if (s === undefined) {
          state.set(next, 1);
          stack.push([next, 0]);
        }
      } else {
        state.set(top[0], 2);
        stack.pop();
      }
    }
  };
  for (const s of starts) visit(s);
  for (const id of graph.nodes.keys()) visit(id);

  const positions = new Map<string, Map<string, number>>();
  for (const g of graph.groups.values()) {
    positions.set(g.id, new Map(g.members.map((m, i) => [m.id, i])));
  }
  const nodes = new Map<string, PlanNode>();
  let index = 0;
  for (const [id, node] of graph.nodes) {
    const key = node.kind === "barrier" ? node.group! : id;
    const member = node.parent
      ? positions.get(node.parent.group)?.get(node.parent.member) ?? -1
      : -1;
    nodes.set(id, {
      id,
      index: index++,
      node,
      out: [],
      preds: [],
      key,
      member,
    });
  }
  const edges: Plan["edges"] = [];
  for (const [id, pn] of nodes) {
    for (const p of graph.predecessors(id)) {
      if (!backEdges.has(p + "\u0000" + id)) pn.preds.push(nodes.get(p)!);
    }
  }
  for (const [id, pn] of nodes) {
    for (const to of graph.successors(id)) {
      const target = nodes.get(to)!;
      const t = target.node;
      const kind = t.kind === "barrier" && pn.node.parent?.group === t.group
        ? "member"
        : backEdges.has(id + "\u0000" + to)
        ? "back"
        : target.preds.length <= 1
        ? "single"
        : "join";
      pn.out.push({ to: target, index: edges.length, kind });
      edges.push({ from: id, to, back: kind === "back" });
    }
  }
  return { starts: starts.map((s) => nodes.get(s)!), nodes, edges };
}
