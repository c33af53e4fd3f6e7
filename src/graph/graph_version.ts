/**
 * A flow's graph as canonical JSON, its version hash, and the differences between two
 * versions: a run records the version it started with, and continuing it with another graph
 * is refused with an error that names what changed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Graph } from "./graph.ts";

/** A graph's shape, by names only. */
export interface GraphShape {
  /** Task nodes. */
  tasks: string[];
  /** Edges as `from -> to`. */
  edges: string[];
  /** Groups as `id: members [policy] @executor`. */
  groups: string[];
}

/**
 * The graph's shape, sorted so that equal graphs give equal shapes.
 *
 * @param graph The graph.
 * @returns Tasks, edges and groups by name.
 */
export function graphShape(graph: Graph): GraphShape {
  let shape = shapes.get(graph);
  if (!shape) shapes.set(graph, shape = computeShape(graph));
  return shape;
}

/** Shapes already computed (a flow's graph does not change once built). */
const shapes = new WeakMap<Graph, GraphShape>();

function computeShape(graph: Graph): GraphShape {
  return {
    tasks: [...graph.nodes.values()].filter((n) => n.kind === "task").map((n) => n.id).sort(),
    edges: graph.edges().map(([a, b]) => `${a} -> ${b}`).sort(),
    groups: [...graph.groups.values()].map((g) =>
      `${g.id}: ${g.members.map((m) => m.id).join(" | ")}` +
      (g.policy
        ? ` [${g.policy.spec ? JSON.stringify(g.policy.spec) : g.policy.label ?? "custom"}]`
        : "") +
      (g.executor ? ` @${g.executor}` : "")
    ).sort(),
  };
}

/**
 * The version hash of a graph (SHA-256 of its shape, 16 hex digits).
 *
 * @param graph The graph.
 * @returns The version.
 */
export function graphVersion(graph: Graph): string {
  return createHash("sha256").update(JSON.stringify(graphShape(graph))).digest("hex").slice(0, 16);
}

/**
 * What differs between two shapes, in words (empty when they are equal).
 *
 * @param recorded The shape a run started with.
 * @param current The shape of the flow now.
 * @returns Sentences such as `task "audit" was added`.
 */
export function shapeDiff(recorded: GraphShape, current: GraphShape): string[] {
  const out: string[] = [];
  const diff = (what: string, a: string[], b: string[]) => {
    const before = new Set(a);
    const after = new Set(b);
    for (const x of b) if (!before.has(x)) out.push(`${what} ${JSON.stringify(x)} was added`);
    for (const x of a) if (!after.has(x)) out.push(`${what} ${JSON.stringify(x)} was removed`);
  };
  diff("task", recorded.tasks ?? [], current.tasks);
  diff("edge", recorded.edges ?? [], current.edges);
  diff("group", recorded.groups ?? [], current.groups);
  return out;
}
