/**
 * Renders graphs as Mermaid, DOT and plain text. Parallel groups are drawn as boxes (Mermaid
 * subgraphs, DOT clusters); an edge into or out of a group attaches to the box.
 *
 * @module
 */

/** A node to draw. */
export interface RenderNode {
  /** Id (task or group id). */
  id: string;
  /** Enclosing group id, if any. */
  parent?: string;
  /** Times it ran (executed graphs). */
  count?: number;
  /** Added at run time. */
  dynamic?: boolean;
  /** For a map node: how to name it, e.g. `map(score) ≤8 (at least 2)`. */
  map?: string;
  /** Map items it ran (executed graphs). */
  items?: number;
}

/** A group box. */
export interface RenderGroup {
  /** Id (task or group id). */
  id: string;
  /** Enclosing group id, if any. */
  parent?: string;
  /** Policy label. */
  policy?: string;
  /** Member ids, in order. */
  members: string[];
  /** Each member's tasks in flow order (`a >> b`), for text; member ids when absent. */
  chains?: string[];
}

/** An edge between nodes or group boxes. */
export interface RenderEdge {
  /** Source node or group. */
  from: string;
  /** Target node or group. */
  to: string;
  /** `next`, `goto`, `iterate`, `back`, … */
  kind?: string;
  /** Times taken (executed graphs). */
  count?: number;
}

/** What the renderers draw. */
export interface RenderModel {
  /** Nodes to draw. */
  nodes: RenderNode[];
  /** Group boxes. */
  groups: RenderGroup[];
  /** Edges. */
  edges: RenderEdge[];
}

/** Makes ids safe for Mermaid and DOT, keeping them unique. */
function idMap(model: RenderModel): (id: string) => string {
  const map = new Map<string, string>();
  const used = new Set<string>();
  const all = [...model.groups.map((g) => g.id), ...model.nodes.map((n) => n.id)];
  for (const id of all) {
    let safe = id.replace(/[^A-Za-z0-9_]/g, "_");
    if (/^(end|graph|subgraph|flowchart|style|class)$/i.test(safe)) safe = `${safe}_`;
    let out = safe;
    for (let i = 2; used.has(out); i++) out = `${safe}_${i}`;
    used.add(out);
    map.set(id, out);
  }
  return (id) => map.get(id) ?? id.replace(/[^A-Za-z0-9_]/g, "_");
}

function nodeLabel(n: RenderNode): string {
  let label = n.map ?? n.id;
  if (n.count !== undefined && n.count > 1) label += ` ×${n.count}`;
  if (n.items !== undefined) label += ` [${n.items} item${n.items === 1 ? "" : "s"}]`;
  return label;
}

function edgeLabel(e: RenderEdge): string {
  const parts: string[] = [];
  if (e.kind && e.kind !== "edge" && e.kind !== "start") parts.push(e.kind);
  if (e.count !== undefined && e.count > 1) parts.push(`×${e.count}`);
  return parts.join(" ");
}

function children(model: RenderModel, parent: string | undefined) {
  return {
    nodes: model.nodes.filter((n) => n.parent === parent),
    groups: model.groups.filter((g) => g.parent === parent),
  };
}

/**
 * Mermaid `flowchart TD` text.
 *
 * @param model What to draw.
 * @returns Mermaid source.
 */
export function toMermaid(model: RenderModel): string {
  const id = idMap(model);
  const lines = ["flowchart TD"];
  const emit = (parent: string | undefined, indent: string) => {
    const { nodes, groups } = children(model, parent);
    for (const n of nodes) {
      const shape = n.dynamic
        ? `[/"${nodeLabel(n)}"/]`
        : n.map
        ? `[["${nodeLabel(n)}"]]`
        : `["${nodeLabel(n)}"]`;
      lines.push(`${indent}${id(n.id)}${shape}`);
    }
    for (const g of groups) {
      const title = g.policy ? `${g.id} (${g.policy})` : g.id;
      lines.push(`${indent}subgraph ${id(g.id)} ["${title}"]`);
      lines.push(`${indent}  direction LR`);
      emit(g.id, indent + "  ");
      lines.push(`${indent}end`);
    }
  };
  emit(undefined, "  ");
  for (const e of model.edges) {
    const label = edgeLabel(e);
    const arrow = e.kind === "next" || e.kind === "goto" || e.kind === "iterate" ? "-.->" : "-->";
    lines.push(`  ${id(e.from)} ${arrow}${label ? `|"${label}"|` : ""} ${id(e.to)}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Graphviz DOT text.
 *
 * @param model What to draw.
 * @returns DOT source.
 */
export function toDot(model: RenderModel): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ["digraph flow {", "  rankdir=TB;", "  compound=true;", "  node [shape=box];"];
  const groupIds = new Set(model.groups.map((g) => g.id));
  const emit = (parent: string | undefined, indent: string) => {
    const { nodes, groups } = children(model, parent);
    for (const n of nodes) {
      lines.push(
        `${indent}${q(n.id)} [label=${q(nodeLabel(n))}${n.dynamic ? ", style=dashed" : ""}${
          n.map ? ", shape=box3d" : ""
        }];`,
      );
    }
    for (const g of groups) {
      lines.push(`${indent}subgraph ${q(`cluster_${g.id}`)} {`);
      lines.push(`${indent}  label=${q(g.policy ? `${g.id} (${g.policy})` : g.id)};`);
      lines.push(`${indent}  ${q(g.id)} [shape=point, label=""];`);
      emit(g.id, indent + "  ");
      lines.push(`${indent}}`);
    }
  };
  emit(undefined, "  ");
  for (const e of model.edges) {
    const attrs: string[] = [];
    if (groupIds.has(e.from)) attrs.push(`ltail=${q(`cluster_${e.from}`)}`);
    if (groupIds.has(e.to)) attrs.push(`lhead=${q(`cluster_${e.to}`)}`);
    const label = edgeLabel(e);
    if (label) attrs.push(`label=${q(label)}`);
    if (e.kind === "next" || e.kind === "goto" || e.kind === "iterate") attrs.push("style=dashed");
    lines.push(`  ${q(e.from)} -> ${q(e.to)}${attrs.length ? ` [${attrs.join(", ")}]` : ""};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/**
 * Plain text: one line per node or group with its successors, groups with their members.
 *
 * @param model What to draw.
 * @returns Text.
 */
export function toAscii(model: RenderModel): string {
  const out = new Map<string, RenderEdge[]>();
  for (const e of model.edges) {
    if (!out.has(e.from)) out.set(e.from, []);
    out.get(e.from)!.push(e);
  }
  const lines: string[] = [];
  const describe = (parent: string | undefined, indent: string) => {
    const { nodes, groups } = children(model, parent);
    const items = [
      ...nodes.map((n) => ({ id: n.id, text: nodeLabel(n) + (n.dynamic ? " (dynamic)" : "") })),
      ...groups.map((g) => ({
        id: g.id,
        text: `[${g.id}${g.policy ? ` ${g.policy}` : ""}] ( ${
          (g.chains ?? g.members).join(" | ")
        } )`,
      })),
    ];
    for (const item of items) {
      const succ = (out.get(item.id) ?? []).map((e) => {
        const label = edgeLabel(e);
        return label ? `${e.to} (${label})` : e.to;
      });
      lines.push(`${indent}${item.text}${succ.length ? ` ──> ${succ.join(", ")}` : ""}`);
      if (groups.some((g) => g.id === item.id)) describe(item.id, indent + "    ");
    }
  };
  describe(undefined, "");
  return lines.join("\n") + "\n";
}
