/**
 * The graph a run actually executed: nodes with how often they ran, edges with how they were
 * taken (static edges, loops, `next`, `goto`, iterations), rendered like a flow.
 *
 * @module
 */
import { BARRIER, type Graph, type GroupSpec } from "./graph.ts";
import {
  type RenderEdge,
  type RenderModel,
  type RenderNode,
  toAscii,
  toDot,
  toMermaid,
} from "./render.ts";

/** How a node was activated (for the executed graph). */
export type ActivationKind = "start" | "edge" | "back" | "next" | "goto" | "iterate" | "resume";

/** An edge of the executed graph with how often it was taken. */
export interface TraceEdge {
  /** Source node (or `"start"`). */
  from: string;
  /** Target node. */
  to: string;
  /** How the edge was taken. */
  kind: ActivationKind;
  /** How often. */
  count: number;
}

/** The executed graph of a run (`result.graph`). */
export class ExecutedGraph {
  readonly #graph: Graph;
  readonly #source: () => TraceEdge[];
  #data: { edges: TraceEdge[]; counts: Map<string, number> } | undefined;

  /**
   * Creates the executed graph of a run.
   *
   * @param graph The flow graph.
   * @param edges The activations recorded by the run (or a function computing them on first use).
   */
  constructor(graph: Graph, edges: TraceEdge[] | (() => TraceEdge[])) {
    this.#graph = graph;
    this.#source = typeof edges === "function" ? edges : () => edges;
  }

  get #edges(): TraceEdge[] {
    return this.#load().edges;
  }

  get #counts(): Map<string, number> {
    return this.#load().counts;
  }

  #load(): { edges: TraceEdge[]; counts: Map<string, number> } {
    if (!this.#data) {
      const edges = this.#source();
      const counts = new Map<string, number>();
      for (const e of edges) counts.set(e.to, (counts.get(e.to) ?? 0) + e.count);
      this.#data = { edges, counts };
    }
    return this.#data;
  }

  /**
   * The edges taken, with how and how often.
   *
   * @returns A copy of the edges.
   */
  edges(): TraceEdge[] {
    return this.#edges.map((e) => ({ ...e }));
  }

  /**
   * How often each node (task or group) was activated.
   *
   * @returns Activations by node id.
   */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  /**
   * @internal The render model (only nodes that ran).
   *
   * @returns The render model (only nodes that ran).
   */
  model(): RenderModel {
    const g = this.#graph;
    const nodes: RenderNode[] = [];
    const groupsSeen = new Set<string>();
    for (const [id, count] of this.#counts) {
      const node = g.nodes.get(id);
      if (node?.kind === "fork") {
        groupsSeen.add(id);
        continue;
      }
      nodes.push({
        id,
        count,
        parent: node?.parent?.group,
        dynamic: !node,
      });
    }
    const edges: RenderEdge[] = [];
    for (const e of this.#edges) {
      if (e.from === "start") continue;
      const fromNode = g.nodes.get(e.from);
      if (fromNode?.kind === "fork" && e.kind === "edge") continue; // member entry: drawn as containment
      const from = fromNode?.kind === "barrier" ? fromNode.group! : e.from;
      edges.push({ from, to: e.to, kind: e.kind, count: e.count });
    }
    return {
      nodes,
      groups: [...groupsSeen].map((id) => {
        const spec = g.groups.get(id)!;
        return {
          id,
          parent: g.nodes.get(id)?.parent?.group,
          policy: spec.policy?.label,
          members: spec.members.map((m) => m.id),
          chains: memberChains(g, spec),
        };
      }),
      edges,
    };
  }

  /**
   * Mermaid source.
   *
   * @returns Mermaid source.
   */
  toMermaid(): string {
    return toMermaid(this.model());
  }

  /**
   * Plain text.
   *
   * @returns Plain text.
   */
  toAscii(): string {
    return toAscii(this.model());
  }

  /**
   * Graphviz DOT source.
   *
   * @returns Graphviz DOT source.
   */
  toDot(): string {
    return toDot(this.model());
  }
}

/**
 * The render model of a static graph.
 *
 * @param g The graph.
 * @returns Nodes, group boxes and edges (edges into a fork or out of a barrier attach to the box).
 */
export function staticModel(g: Graph): RenderModel {
  const nodes: RenderNode[] = [];
  for (const n of g.nodes.values()) {
    if (n.kind === "task") nodes.push({ id: n.id, parent: n.parent?.group });
  }
  const edges: RenderEdge[] = [];
  for (const [from, to] of g.edges()) {
    const f = g.nodes.get(from)!;
    const t = g.nodes.get(to)!;
    if (f.kind === "fork" && t.parent?.group === f.group) continue; // member entry
    if (t.kind === "barrier") continue; // member exit
    edges.push({ from: f.kind === "barrier" ? f.group! : from, to });
  }
  return {
    nodes,
    groups: [...g.groups.values()].map((s) => ({
      id: s.id,
      parent: g.nodes.get(s.id)!.parent?.group,
      policy: s.policy?.label,
      members: s.members.map((m) => m.id),
      chains: memberChains(g, s),
    })),
    edges,
  };
}

/**
 * Each member of a group as its nodes in flow order, `a >> b >> c` (a nested group shows as its
 * id), found by walking from the member's entries along edges that stay inside the member.
 *
 * @param g The graph.
 * @param spec The group.
 * @returns One text per member.
 */
export function memberChains(g: Graph, spec: GroupSpec): string[] {
  return spec.members.map((m) => {
    const inMember = (id: string) => {
      const p = g.nodes.get(id)?.parent;
      return p?.group === spec.id && p.member === m.id;
    };
    const seen = new Set<string>();
    const order: string[] = [];
    const stack = [...m.entries].reverse();
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id) || !inMember(id)) continue;
      seen.add(id);
      order.push(id);
      const node = g.nodes.get(id)!;
      const from = node.kind === "fork" ? id + BARRIER : id;
      stack.push(...[...g.successors(from)].reverse());
    }
    return order.join(" >> ");
  });
}
