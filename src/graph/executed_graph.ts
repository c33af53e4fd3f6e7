/**
 * The graph a run actually executed: nodes with how often they ran, edges with how they were
 * taken (static edges, loops, `next`, `goto`, iterations), rendered like a flow.
 *
 * @module
 */
import { BARRIER, type Graph, type GraphNode, type GroupSpec } from "./graph.ts";
import {
  type RenderEdge,
  type RenderModel,
  type RenderNode,
  toAscii,
  toDot,
  toMermaid,
} from "./render.ts";

/**
 * How a node was activated (for the executed graph). `"map"`: a task's `ctx.map` started the
 * items of the target; `"item"`: a self-edge counting the map items a node ran.
 */
export type ActivationKind =
  | "start"
  | "edge"
  | "back"
  | "next"
  | "goto"
  | "iterate"
  | "map"
  | "item"
  | "resume";

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
  #data:
    | { edges: TraceEdge[]; counts: Map<string, number>; items: Map<string, number> }
    | undefined;

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

  #load(): { edges: TraceEdge[]; counts: Map<string, number>; items: Map<string, number> } {
    if (!this.#data) {
      const edges = this.#source();
      const counts = new Map<string, number>();
      const items = new Map<string, number>();
      for (const e of edges) {
        if (e.kind === "item") items.set(e.to, (items.get(e.to) ?? 0) + e.count);
        else counts.set(e.to, (counts.get(e.to) ?? 0) + e.count);
      }
      this.#data = { edges, counts, items };
    }
    return this.#data;
  }

  /**
   * How many map items each node ran (map nodes, and tasks run by `ctx.map`).
   *
   * @returns Items by node id.
   */
  items(): Record<string, number> {
    return Object.fromEntries(this.#load().items);
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
      const items = this.#load().items.get(id);
      nodes.push({
        id,
        count,
        parent: node?.parent?.group,
        dynamic: !node,
        ...(node?.map ? { map: mapLabel(node) } : {}),
        ...(items !== undefined ? { items } : {}),
      });
    }
    const edges: RenderEdge[] = [];
    for (const e of this.#edges) {
      if (e.from === "start" || e.kind === "item") continue;
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
    else if (n.kind === "map") nodes.push({ id: n.id, parent: n.parent?.group, map: mapLabel(n) });
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
 * How a map node is named in drawings: `map(score)`, `ranker: map(score)`, with its bound and
 * policy: `map(score) ≤8 (at least 2)`.
 *
 * @param node The map node.
 * @returns The label.
 */
export function mapLabel(node: GraphNode): string {
  const name = node.task!.name;
  let label = node.id === name ? `map(${name})` : `${node.id}: map(${name})`;
  const c = node.map?.concurrency;
  if (c !== undefined && c !== Infinity) label += ` ≤${c}`;
  const policy = node.map?.policy?.label;
  if (policy) label += ` (${policy})`;
  return label;
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
