import assert from "assert";
import { Flow, flow, FlowSyntaxError, parallel, type Task, task } from "../../mod.ts";
import { Prng } from "./prng.ts";

// Task names are process-global: everything in this file starts with "dslp_". Some names carry
// '.' and '-' so that the renderers' id sanitising is exercised too.
const POOL: Task[] = Array.from(
  { length: 24 },
  (_, i) => task(`dslp_t${i}${i % 5 === 1 ? ".x" : i % 5 === 2 ? "-y" : ""}`, () => i),
);
const byName = new Map(POOL.map((t) => [t.name, t]));

/** A template as its strings and interpolated values. */
interface Template {
  strings: string[];
  values: unknown[];
}

function template(parts: (string | { value: unknown })[]): Template {
  const strings = [""];
  const values: unknown[] = [];
  for (const p of parts) {
    if (typeof p === "string") strings[strings.length - 1] += p;
    else {
      values.push(p.value);
      strings.push("");
    }
  }
  return { strings, values };
}

function build({ strings, values }: Template): Flow {
  const tsa = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  return flow(tsa, ...values);
}

function sourceOf({ strings }: Template): string {
  return strings.join("${…}");
}

// ---------------------------------------------------------------------------------------------
// Random well-formed expressions and their reference graph
// ---------------------------------------------------------------------------------------------

type Expr =
  | { kind: "task"; name: string }
  | { kind: "seq" | "par"; items: Expr[] };

/** A random expression using each name of `pool` at most once (names are popped). */
function genExpr(rng: Prng, pool: string[], depth: number): Expr {
  if (pool.length < 2 || depth >= 4 || rng.chance(0.3)) {
    return { kind: "task", name: pool.pop()! };
  }
  const kind = rng.chance(0.5) ? "seq" : "par";
  const n = 2 + rng.int(3);
  const items: Expr[] = [];
  for (let i = 0; i < n && pool.length > 0; i++) items.push(genExpr(rng, pool, depth + 1));
  return items.length === 1 ? items[0] : { kind, items };
}

/** Prints an expression with random spacing, optional parentheses and interpolations. */
function printExpr(rng: Prng, e: Expr): (string | { value: unknown })[] {
  const space = () => rng.pick(["", " ", " ", "  ", "\t"]);
  const afterOp = () => rng.pick([" ", " ", "", "\n  ", " \n\n "]);
  const paren = (inner: (string | { value: unknown })[]) => [
    "(",
    rng.pick(["", " ", "\n "]),
    ...inner,
    rng.pick(["", " ", "\n"]),
    ")",
  ];
  if (e.kind === "task") {
    const atom = rng.chance(0.3) ? [{ value: byName.get(e.name)! }] : [e.name];
    return rng.chance(0.1) ? paren(atom) : atom;
  }
  const op = e.kind === "seq" ? ">>" : "|";
  const out: (string | { value: unknown })[] = [];
  e.items.forEach((item, i) => {
    if (i > 0) out.push(space(), op, afterOp());
    const inner = printExpr(rng, item);
    // A group inside a chain or inside another group needs parentheses (else it would be
    // flattened or bind differently); a chain inside a group or chain may have them.
    const needs = item.kind === "par";
    out.push(...(needs || (item.kind === "seq" && rng.chance(0.3)) ? paren(inner) : inner));
  });
  return out;
}

/** The expected graph, built with hand-written combinators over fragments. */
class Reference {
  /** Edges of `flow.graph` (groups are fork `G` and barrier `G/end`). */
  readonly raw = new Set<string>();
  /** Edges as drawn (a group is one box `G`; member entries and exits are containment). */
  readonly drawn = new Set<string>();
  /** Innermost enclosing group of every task and group. */
  readonly parent = new Map<string, string | undefined>();
  #groups = 0;

  task(name: string): Frag {
    this.parent.set(name, undefined);
    return { entries: [name], exits: [name], drawnIn: [name], drawnOut: [name], nodes: [name] };
  }

  seq(parts: Frag[]): Frag {
    for (let i = 1; i < parts.length; i++) {
      for (const from of parts[i - 1].exits) {
        for (const to of parts[i].entries) this.raw.add(`${from}->${to}`);
      }
      for (const from of parts[i - 1].drawnOut) {
        for (const to of parts[i].drawnIn) this.drawn.add(`${from}->${to}`);
      }
    }
    return {
      entries: parts[0].entries,
      exits: parts[parts.length - 1].exits,
      drawnIn: parts[0].drawnIn,
      drawnOut: parts[parts.length - 1].drawnOut,
      nodes: parts.flatMap((p) => p.nodes),
    };
  }

  par(parts: Frag[]): Frag {
    const id = `group_${++this.#groups}`;
    this.parent.set(id, undefined);
    for (const p of parts) {
      for (const entry of p.entries) this.raw.add(`${id}->${entry}`);
      for (const exit of p.exits) this.raw.add(`${exit}->${id}/end`);
      for (const node of p.nodes) {
        if (this.parent.get(node) === undefined) this.parent.set(node, id);
      }
    }
    return {
      entries: [id],
      exits: [`${id}/end`],
      drawnIn: [id],
      drawnOut: [id],
      nodes: [id, ...parts.flatMap((p) => p.nodes)],
    };
  }

  build(e: Expr): Frag {
    if (e.kind === "task") return this.task(e.name);
    const parts = e.items.map((item) => this.build(item));
    return e.kind === "seq" ? this.seq(parts) : this.par(parts);
  }
}

interface Frag {
  entries: string[];
  exits: string[];
  drawnIn: string[];
  drawnOut: string[];
  nodes: string[];
}

// ---------------------------------------------------------------------------------------------
// Reading the renderers' output back
// ---------------------------------------------------------------------------------------------

interface Drawing {
  edges: Set<string>;
  parent: Map<string, string | undefined>;
}

/** Reads edges and subgraph nesting back from `toMermaid()` text (ids mapped back by label). */
function readMermaid(text: string): Drawing {
  const names = new Map<string, string>();
  const parent = new Map<string, string | undefined>();
  const stack: string[] = [];
  const edgeIds: [string, string][] = [];
  const lines = text.split("\n");
  assert.equal(lines[0], "flowchart TD");
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    if (line === "" || line === "direction LR") continue;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^subgraph (\w+) \["([^"]*)"\]$/))) {
      const name = m[2].replace(/ \(.*\)$/, "");
      names.set(m[1], name);
      parent.set(name, stack.at(-1));
      stack.push(name);
    } else if (line === "end") {
      assert.ok(stack.pop(), "'end' closes an open subgraph");
    } else if ((m = line.match(/^(\w+)\["([^"]*)"\]$/))) {
      names.set(m[1], m[2]);
      parent.set(m[2], stack.at(-1));
    } else if ((m = line.match(/^(\w+) (?:-->|-\.->)(?:\|"[^"]*"\|)? (\w+)$/))) {
      edgeIds.push([m[1], m[2]]);
    } else {
      assert.fail(`unexpected Mermaid line: ${JSON.stringify(raw)}`);
    }
  }
  assert.equal(stack.length, 0, "every subgraph is closed");
  const edges = new Set<string>();
  for (const [from, to] of edgeIds) {
    assert.ok(names.has(from) && names.has(to), `edge between declared ids: ${from} ${to}`);
    edges.add(`${names.get(from)}->${names.get(to)}`);
  }
  return { edges, parent };
}

/** Reads edges and cluster nesting back from `toDot()` text. */
function readDot(text: string): Drawing {
  const parent = new Map<string, string | undefined>();
  const edges = new Set<string>();
  const stack: string[] = [];
  const lines = text.split("\n");
  assert.equal(lines[0], "digraph flow {");
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^subgraph "cluster_(.+)" \{$/))) {
      parent.set(m[1], stack.at(-1));
      stack.push(m[1]);
    } else if (line === "}") {
      stack.pop();
    } else if ((m = line.match(/^"(.+?)" -> "(.+?)"(?: \[.*\])?;$/))) {
      edges.add(`${m[1]}->${m[2]}`);
    } else if ((m = line.match(/^"(.+?)" \[(.*)\];$/))) {
      if (m[1] !== stack.at(-1)) parent.set(m[1], stack.at(-1)); // not the cluster's own point
    }
  }
  return { edges, parent };
}

/** Reads edges and nesting back from `toAscii()` text (four spaces per level). */
function readAscii(text: string): Drawing {
  const parent = new Map<string, string | undefined>();
  const edges = new Set<string>();
  const open: string[] = []; // group at each indentation level
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const indent = line.length - line.trimStart().length;
    assert.equal(indent % 4, 0, `indentation of ${JSON.stringify(line)}`);
    const level = indent / 4;
    open.length = level;
    const [head, succ] = line.trim().split(" ──> ");
    let id: string;
    if (head.startsWith("[")) {
      id = head.slice(1).split(/[\] ]/)[0];
      parent.set(id, open[level - 1]);
      open[level] = id;
    } else {
      id = head;
      parent.set(id, open[level - 1]);
    }
    for (const to of succ ? succ.split(", ") : []) edges.add(`${id}->${to}`);
  }
  return { edges, parent };
}

function sorted(set: Iterable<string>): string[] {
  return [...set].sort();
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

Deno.test("property: random well-formed expressions build the reference graph and drawings", () => {
  const cases = 400;
  for (let seed = 1; seed <= cases; seed++) {
    const rng = new Prng(seed);
    const pool = rng.shuffle(POOL.map((t) => t.name)).slice(0, 2 + rng.int(POOL.length - 1));
    const expr = genExpr(rng, pool, 0);
    const tpl = template(printExpr(rng, expr));
    const label = `seed ${seed}: ${JSON.stringify(sourceOf(tpl))}`;
    let f: Flow;
    try {
      f = build(tpl);
    } catch (error) {
      assert.fail(`${label} did not build: ${(error as Error).message}`);
    }
    const ref = new Reference();
    ref.build(expr);
    const graphEdges = f.graph.edges().map(([from, to]) => `${from}->${to}`);
    assert.equal(graphEdges.length, new Set(graphEdges).size, `${label}: duplicate edges`);
    assert.deepEqual(sorted(graphEdges), sorted(ref.raw), `${label}: graph edges`);
    for (
      const [name, drawing] of [
        ["Mermaid", readMermaid(f.toMermaid())],
        ["DOT", readDot(f.toDot())],
        ["ASCII", readAscii(f.toAscii())],
      ] as const
    ) {
      assert.deepEqual(sorted(drawing.edges), sorted(ref.drawn), `${label}: ${name} edges`);
      assert.deepEqual(
        new Map([...drawing.parent].sort()),
        new Map([...ref.parent].sort()),
        `${label}: ${name} nesting`,
      );
    }
  }
});

Deno.test("property: random multi-statement chains share nodes by name", () => {
  const names = POOL.slice(0, 6).map((t) => t.name);
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Prng(seed * 7919);
    const statements: string[][] = [];
    for (let s = 1 + rng.int(4); s > 0; s--) {
      statements.push(Array.from({ length: 1 + rng.int(6) }, () => rng.pick(names)));
    }
    const parts: (string | { value: unknown })[] = [rng.pick(["", "\n", ";", "  \n"])];
    statements.forEach((chain, i) => {
      if (i > 0) parts.push(rng.pick(["\n", ";", " ; ", "\n\n", ";\n"]));
      chain.forEach((name, j) => {
        if (j > 0) parts.push(rng.pick([" >> ", ">>", " >>\n  "]));
        parts.push(rng.chance(0.3) ? { value: byName.get(name)! } : name);
      });
    });
    parts.push(rng.pick(["", "\n", ";"]));
    const tpl = template(parts);
    const label = `seed ${seed}: ${JSON.stringify(sourceOf(tpl))}`;
    const f = build(tpl);
    const expected = new Set<string>();
    for (const chain of statements) {
      for (let j = 1; j < chain.length; j++) expected.add(`${chain[j - 1]}->${chain[j]}`);
    }
    const graphEdges = f.graph.edges().map(([from, to]) => `${from}->${to}`);
    assert.deepEqual(sorted(graphEdges), sorted(expected), `${label}: graph edges`);
    assert.deepEqual(sorted(readMermaid(f.toMermaid()).edges), sorted(expected), label);
    assert.deepEqual(f.tasks, [...new Set(statements.flat())], `${label}: tasks in order`);
    assert.equal(f.graph.groups.size, 0, label);
  }
});

// ---------------------------------------------------------------------------------------------
// Garbage
// ---------------------------------------------------------------------------------------------

const TOKENS = [
  ...POOL.slice(0, 5).map((t) => t.name),
  ...POOL.slice(0, 5).map((t) => t.name),
  "dslp_nope",
  "dslp_t",
  "dslp_t1",
  "constructor",
  "__proto__",
  "toString",
  ">>",
  ">",
  ">>>",
  "|",
  "||",
  "(",
  ")",
  "()",
  ";",
  "\n",
  "\r\n",
  " ",
  "\t",
  "-",
  "0",
  "9a",
  "$",
  "{",
  "}",
  "`",
  "\\",
  "&",
  "é",
  "名前",
  "🙂",
  "\u0000",
  "\u2028",
  "${}",
  "${}",
];

/** Tasks that also appear by name in the token soup, so that conflicts happen often. */
const SOUP = POOL.slice(0, 5);

function garbageValue(rng: Prng): unknown {
  const a = rng.pick(SOUP);
  const b = rng.pick(SOUP);
  switch (rng.int(14)) {
    case 0:
      return a;
    case 1:
      return 42;
    case 2:
      return a.name;
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return {};
    case 6:
      return [a];
    case 7:
      return () => 1;
    case 8:
      return Symbol("s");
    case 9:
      return 10n;
    case 10:
      return a === b ? a : parallel([a, b]);
    case 11:
      return a === b ? parallel([a]) : parallel([a, b], { name: "dslp_named" });
    case 12:
      return flow`${a}`;
    default:
      return a === b ? flow`${a}` : flow`${a} | ${b}`;
  }
}

/** Either a flow (the input happened to be valid) or a well-formed FlowSyntaxError. */
function assertOnlySyntaxErrors(tpl: Template, label: string): "ok" | "error" {
  try {
    const f = build(tpl);
    assert.equal(typeof f.toMermaid(), "string");
    assert.equal(typeof f.toAscii(), "string");
    assert.equal(typeof f.toDot(), "string");
    return "ok";
  } catch (error) {
    if (!(error instanceof FlowSyntaxError)) {
      assert.fail(`${label} threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
    }
    const lines = sourceOf(tpl).split("\n");
    assert.ok(error.line >= 1 && error.line <= lines.length, `${label}: line ${error.line}`);
    assert.ok(error.column >= 1, `${label}: column ${error.column}`);
    assert.ok(error.column <= lines[error.line - 1].length + 1, `${label}: column in line`);
    const parts = error.message.split("\n");
    assert.equal(parts.length, 3, `${label}: message has source and caret lines`);
    assert.match(
      parts[0],
      /^Cannot parse flow: .+ \(line \d+, column \d+\)$/s,
      `${label}: ${JSON.stringify(error.message)}`,
    );
    assert.match(parts[2], /^ {2} *\^+$/, label);
    return "error";
  }
}

Deno.test("property: random token soup throws nothing but FlowSyntaxError", () => {
  const outcomes = { ok: 0, error: 0 };
  for (let seed = 1; seed <= 1500; seed++) {
    const rng = new Prng(seed * 31337);
    const parts: (string | { value: unknown })[] = [];
    for (let n = rng.int(12); n >= 0; n--) {
      const token = rng.pick(TOKENS);
      if (token === "${}") parts.push({ value: garbageValue(rng) });
      else parts.push(token, rng.chance(0.5) ? " " : "");
    }
    const tpl = template(parts);
    outcomes[assertOnlySyntaxErrors(tpl, `seed ${seed}: ${JSON.stringify(sourceOf(tpl))}`)]++;
  }
  // Both branches were exercised, so the property says something about each.
  assert.ok(outcomes.ok > 10, `valid cases: ${outcomes.ok}`);
  assert.ok(outcomes.error > 500, `error cases: ${outcomes.error}`);
});

Deno.test("property: random characters throw nothing but FlowSyntaxError", () => {
  for (let seed = 1; seed <= 500; seed++) {
    const rng = new Prng(seed * 104729);
    let text = "";
    for (let n = rng.int(30); n >= 0; n--) {
      text += rng.chance(0.5)
        ? rng.pick(["dslp_t0", ">>", "|", "(", ")", " ", "\n", ";"])
        : String.fromCodePoint(rng.chance(0.8) ? rng.int(128) : rng.int(0x10ffff + 1 - 0xe000))
          .replace(/[\ud800-\udfff]/g, "?");
    }
    assertOnlySyntaxErrors(
      { strings: [text], values: [] },
      `seed ${seed}: ${JSON.stringify(text)}`,
    );
  }
});

Deno.test("property: one-token mutations of valid flows throw nothing but FlowSyntaxError", () => {
  const mutations = [">>", "|", "(", ")", ";", "\n", "", "()", "dslp_nope", "${}"];
  let errors = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const rng = new Prng(seed * 65537);
    const pool = rng.shuffle(POOL.map((t) => t.name)).slice(0, 2 + rng.int(10));
    const parts = printExpr(rng, genExpr(rng, pool, 0));
    // Mutate: replace, insert or delete one part.
    const at = rng.int(parts.length + 1);
    const replacement = rng.pick(mutations);
    const inserted = replacement === "${}" ? { value: garbageValue(rng) } : replacement;
    const op = rng.int(3);
    if (op === 0) parts.splice(at, 1, inserted);
    else if (op === 1) parts.splice(at, 0, inserted);
    else parts.splice(at, 1);
    const tpl = template(parts);
    const outcome = assertOnlySyntaxErrors(
      tpl,
      `seed ${seed}: ${JSON.stringify(sourceOf(tpl))}`,
    );
    if (outcome === "error") errors++;
  }
  assert.ok(errors > 100, `mutations that broke the flow: ${errors}`);
});

/** Every member exit of every group belongs to that group (else the group never settles). */
function assertMembersBelong(f: Flow, label: string): void {
  for (const spec of f.graph.groups.values()) {
    for (const member of spec.members) {
      for (const exit of member.exits) {
        const node = f.graph.nodes.get(exit)!;
        const owner = node.kind === "barrier" ? f.graph.nodes.get(node.group!)! : node;
        assert.equal(owner.parent?.group, spec.id, `${label}: ${exit} belongs to ${spec.id}`);
        assert.equal(owner.parent?.member, member.id, `${label}: ${exit} is member ${member.id}`);
      }
    }
  }
}

Deno.test("property: composing random flows and groups with shared tasks builds or is refused", () => {
  const outcomes = { ok: 0, error: 0 };
  for (let seed = 1; seed <= 600; seed++) {
    const rng = new Prng(seed * 2654435761);
    const names = rng.shuffle(POOL.map((t) => t.name)).slice(0, 3 + rng.int(4));
    const pick = () => rng.shuffle(names).slice(0, 2 + rng.int(names.length - 1));
    const inner = printExpr(rng, genExpr(rng, pick(), 0));
    const innerTpl = template(inner);
    let part: unknown;
    try {
      part = rng.chance(0.5)
        ? build(innerTpl)
        : parallel(pick().slice(0, 3).map((n) => byName.get(n)!));
    } catch (error) {
      assert.ok(error instanceof FlowSyntaxError, `seed ${seed}: ${error}`);
      continue;
    }
    const outer = printExpr(rng, genExpr(rng, pick(), 0));
    const parts = rng.chance(0.5)
      ? [...outer, rng.pick([" >> ", " | ", "\n"]), { value: part }]
      : [{ value: part }, rng.pick([" >> ", " | ", "\n"]), "(", ...outer, ")"];
    const tpl = template(parts);
    const label = `seed ${seed}: ${JSON.stringify(sourceOf(tpl))}`;
    const outcome = assertOnlySyntaxErrors(tpl, label);
    outcomes[outcome]++;
    if (outcome === "ok") assertMembersBelong(build(tpl), label);
  }
  assert.ok(outcomes.ok > 50 && outcomes.error > 50, JSON.stringify(outcomes));
});

Deno.test("the reference combinators are not vacuous: a wrong edge is noticed", () => {
  // Guard against a reference that agrees with anything: a hand-checked case.
  const ref = new Reference();
  ref.seq([ref.task("a"), ref.par([ref.task("b"), ref.seq([ref.task("c"), ref.task("d")])])]);
  assert.deepEqual(sorted(ref.raw), [
    "a->group_1",
    "b->group_1/end",
    "c->d",
    "d->group_1/end",
    "group_1->b",
    "group_1->c",
  ]);
  assert.deepEqual(sorted(ref.drawn), ["a->group_1", "c->d"]);
  assert.equal(ref.parent.get("c"), "group_1");
  assert.equal(ref.parent.get("a"), undefined);
  assert.ok(build(template(["dslp_t0 >> dslp_t3"])) instanceof Flow);
});
