/**
 * Draws a run's executed graph as SVG, with no layout library: nodes in layers top to bottom
 * (longest path over forward edges; back edges, loops and iterations found by depth-first
 * search are drawn as arcs on the right), parallel groups as boxes around their members (nested
 * groups laid out recursively), tasks added at run time with a dashed border, a count badge for
 * tasks that ran more than once, and a class per status (`node-running`, `node-failed`, ...) that
 * the stylesheet colours. Every text is escaped.
 *
 * @module
 */
import type { GraphView } from "./run_view.ts";
import { escapeHtml } from "./dashboard/html.ts";

const NODE_H = 34;
const GAP_X = 22;
const GAP_Y = 42;
const PAD = 14;
const LABEL_H = 20;
const CHAR_W = 7.4;

interface Box {
  id: string;
  kind: "node" | "group";
  w: number;
  h: number;
  x: number;
  y: number;
  children: Box[];
}

function textWidth(text: string): number {
  return Math.ceil(text.length * CHAR_W) + 28;
}

/**
 * Lays the graph out and draws it.
 *
 * @param g The graph.
 * @param label An accessible name for the drawing.
 * @returns An `<svg>` element as text.
 */
export function graphSvg(g: GraphView, label: string): string {
  const parentOf = new Map<string, string | undefined>();
  for (const n of g.nodes) parentOf.set(n.id, n.group);
  for (const gr of g.groups) parentOf.set(gr.id, gr.parent);
  const isGroup = new Set(g.groups.map((x) => x.id));
  const nodeById = new Map(g.nodes.map((n) => [n.id, n]));

  // The item directly inside `container` that holds `id` (itself, or an enclosing group).
  const itemIn = (id: string, container: string | undefined): string | undefined => {
    let cur: string | undefined = id;
    for (let i = 0; cur !== undefined && i < 64; i++) {
      const p = parentOf.get(cur);
      if (p === container) return cur;
      cur = p;
    }
    return undefined;
  };

  const layout = (container: string | undefined): Box[] => {
    const items = [
      ...g.groups.filter((x) => x.parent === container).map((x) => x.id),
      ...g.nodes.filter((n) => n.group === container).map((n) => n.id),
    ];
    const order = new Map(items.map((id, i) => [id, i]));
    // Items in first-appearance order along edges, for stable drawings.
    const succ = new Map<string, string[]>(items.map((id) => [id, []]));
    for (const e of g.edges) {
      const a = itemIn(e.from, container);
      const b = itemIn(e.to, container);
      if (a && b && a !== b && e.kind !== "iterate") succ.get(a)!.push(b);
    }
    // Depth-first search marks edges that close a cycle as back edges.
    const state = new Map<string, number>();
    const forward = new Map<string, string[]>(items.map((id) => [id, []]));
    const visit = (id: string) => {
      state.set(id, 1);
      for (const t of succ.get(id)!) {
        if (state.get(t) === 1) continue;
        forward.get(id)!.push(t);
        if (!state.has(t)) visit(t);
      }
      state.set(id, 2);
    };
    const hasPred = new Set([...succ.values()].flat());
    for (const id of items) if (!hasPred.has(id) && !state.has(id)) visit(id);
    for (const id of items) if (!state.has(id)) visit(id);
    const layer = new Map<string, number>(items.map((id) => [id, 0]));
    const indeg = new Map<string, number>(items.map((id) => [id, 0]));
    for (const ts of forward.values()) for (const t of ts) indeg.set(t, indeg.get(t)! + 1);
    const queue = items.filter((id) => indeg.get(id) === 0);
    while (queue.length) {
      const id = queue.shift()!;
      for (const t of forward.get(id)!) {
        layer.set(t, Math.max(layer.get(t)!, layer.get(id)! + 1));
        indeg.set(t, indeg.get(t)! - 1);
        if (indeg.get(t) === 0) queue.push(t);
      }
    }
    const boxes = new Map<string, Box>();
    for (const id of items) {
      if (isGroup.has(id)) {
        const children = layout(id);
        const w = Math.max(
          textWidth(id),
          children.reduce((m, c) => Math.max(m, c.x + c.w), 0) + PAD,
        );
        const h = children.reduce((m, c) => Math.max(m, c.y + c.h), LABEL_H) + PAD;
        boxes.set(id, { id, kind: "group", w: w + PAD, h, x: 0, y: 0, children });
      } else {
        const n = nodeById.get(id)!;
        const badge = n.count > 1 ? ` ×${n.count}` : "";
        boxes.set(id, {
          id,
          kind: "node",
          w: textWidth(id + badge),
          h: NODE_H,
          x: 0,
          y: 0,
          children: [],
        });
      }
    }
    const layers: string[][] = [];
    for (const id of items) (layers[layer.get(id)!] ??= []).push(id);
    const pos = new Map<string, number>();
    let y = container === undefined ? PAD : LABEL_H + 6;
    const x0 = container === undefined ? PAD : PAD;
    for (const ids of layers.filter(Boolean)) {
      // Barycentre of the predecessors' positions, then first appearance.
      const bary = (id: string) => {
        const ps = items.filter((p) => forward.get(p)!.includes(id) && pos.has(p));
        return ps.length ? ps.reduce((s, p) => s + pos.get(p)!, 0) / ps.length : order.get(id)!;
      };
      ids.sort((a, b) => bary(a) - bary(b) || order.get(a)! - order.get(b)!);
      let x = x0;
      let h = 0;
      ids.forEach((id, i) => {
        const b = boxes.get(id)!;
        b.x = x;
        b.y = y;
        pos.set(id, i);
        x += b.w + GAP_X;
        h = Math.max(h, b.h);
      });
      for (const id of ids) {
        const b = boxes.get(id)!;
        b.y += (h - b.h) / 2;
      }
      y += h + GAP_Y;
    }
    return [...boxes.values()];
  };

  const top = layout(undefined);
  const abs = new Map<string, Box>();
  const place = (bs: Box[], dx: number, dy: number) => {
    for (const b of bs) {
      const a = { ...b, x: b.x + dx, y: b.y + dy };
      abs.set(b.id, a);
      place(b.children, a.x, a.y);
    }
  };
  place(top, 0, 0);
  const width = top.reduce((m, b) => Math.max(m, b.x + b.w), 0) + PAD + 60;
  const height = top.reduce((m, b) => Math.max(m, b.y + b.h), 0) + PAD;

  const parts: string[] = [];
  const groupsByDepth = [...g.groups].sort((a, b) => depth(a.id) - depth(b.id));
  function depth(id: string): number {
    let d = 0;
    for (let p = parentOf.get(id); p !== undefined && d < 64; p = parentOf.get(p)) d++;
    return d;
  }
  for (const gr of groupsByDepth) {
    const b = abs.get(gr.id)!;
    parts.push(
      `<g class="group" data-group="${
        escapeHtml(gr.id)
      }"><rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="8"/>` +
        `<text x="${b.x + 8}" y="${b.y + 14}">${escapeHtml(gr.id)}${
          gr.policy ? ` · ${escapeHtml(gr.policy)}` : ""
        }</text></g>`,
    );
  }
  for (const e of g.edges) {
    const a = abs.get(e.from);
    const b = abs.get(e.to);
    if (!a || !b) continue;
    const cls = `edge edge-${e.kind}${e.count === 0 ? " edge-untaken" : ""}`;
    const title = `<title>${
      escapeHtml(`${e.from} → ${e.to} (${e.kind}${e.count > 1 ? ` ×${e.count}` : ""})`)
    }</title>`;
    let d: string;
    let lx: number;
    let ly: number;
    if (e.from === e.to) {
      const x = a.x + a.w;
      const y = a.y + a.h / 2;
      d = `M${x} ${y - 8} C${x + 34} ${y - 26}, ${x + 34} ${y + 26}, ${x} ${y + 8}`;
      lx = x + 30;
      ly = y + 4;
    } else if (b.y + b.h / 2 <= a.y + a.h / 2) {
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x + b.w;
      const y2 = b.y + b.h / 2;
      const bend = Math.max(x1, x2) + 40;
      d = `M${x1} ${y1} C${bend} ${y1}, ${bend} ${y2}, ${x2} ${y2}`;
      lx = bend - 8;
      ly = (y1 + y2) / 2;
    } else {
      const x1 = a.x + a.w / 2;
      const y1 = a.y + a.h;
      const x2 = b.x + b.w / 2;
      const y2 = b.y;
      const my = (y1 + y2) / 2;
      d = `M${x1} ${y1} C${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
      lx = (x1 + x2) / 2 + 4;
      ly = my;
    }
    const text = [e.kind !== "edge" ? e.kind : "", e.count > 1 ? `×${e.count}` : ""].filter(Boolean)
      .join(" ");
    parts.push(
      `<g class="${cls}">${title}<path d="${d}" marker-end="url(#arrow)"/>${
        text ? `<text x="${lx}" y="${ly}">${escapeHtml(text)}</text>` : ""
      }</g>`,
    );
  }
  for (const n of g.nodes) {
    const b = abs.get(n.id)!;
    const badge = n.count > 1 ? ` ×${n.count}` : "";
    parts.push(
      `<g class="node node-${n.status}${n.dynamic ? " node-dynamic" : ""}" data-node="${
        escapeHtml(n.id)
      }" data-status="${n.status}"><title>${escapeHtml(`${n.id}: ${n.status}${badge}`)}</title>` +
        `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="6"/>` +
        `<text x="${b.x + b.w / 2}" y="${b.y + b.h / 2 + 4}" text-anchor="middle">${
          escapeHtml(n.id + badge)
        }</text></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" aria-label="${
    escapeHtml(label)
  }" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"/></marker></defs>` +
    parts.join("") + `</svg>`;
}
