import assert from "assert";
import {
  bestEffort,
  critical,
  type Flow,
  flow,
  FlowSyntaxError,
  parallel,
  type Task,
  task,
} from "../../mod.ts";
import { isParsed } from "../../src/dsl/flow.ts";

// Task names are process-global: everything in this file starts with "dslg_".
const t = (name: string): Task =>
  task(`dslg_${name}`, (input: unknown) => `${name}(${JSON.stringify(input)})`);
const a = t("a");
const b = t("b");
const c = t("c");
const d = t("d");
const e = t("e");
t("f");

/** Edges as sorted "from->to" strings. */
function edges(f: Flow): string[] {
  return f.graph.edges().map(([from, to]) => `${from}->${to}`).sort();
}

/** Strips the "dslg_" prefix for readable expectations. */
function short(list: string[]): string[] {
  return list.map((s) => s.replaceAll("dslg_", ""));
}

Deno.test("flow`a >> b | c >> d` is one group of two chains (>> binds tighter than |)", () => {
  const f = flow`dslg_a >> dslg_b | dslg_c >> dslg_d`;
  assert.deepEqual(
    short(edges(f)),
    [
      "a->b",
      "b->group_1/end",
      "c->d",
      "d->group_1/end",
      "group_1->a",
      "group_1->c",
    ].sort(),
  );
  const group = f.graph.groups.get("group_1");
  assert.ok(group, "the top-level | makes a group");
  assert.deepEqual(short(group.members.map((m) => m.id)), ["b", "d"]);
  assert.deepEqual(short(group.members.map((m) => m.entries[0])), ["a", "c"]);
  assert.equal(f.graph.groups.size, 1);
});

Deno.test("flow`a | b >> c` groups a with the chain b >> c", () => {
  const f = flow`dslg_a | dslg_b >> dslg_c`;
  const group = f.graph.groups.get("group_1")!;
  assert.deepEqual(short(group.members.map((m) => m.id)), ["a", "c"]);
  assert.ok(edges(f).includes("dslg_b->dslg_c"));
  assert.ok(!edges(f).some((x) => x.startsWith("dslg_a->dslg_")), "a has no task successor");
});

Deno.test("parentheses override precedence: (a | b) >> c waits for the group", () => {
  const f = flow`dslg_a >> (dslg_b | dslg_c) >> dslg_d`;
  assert.deepEqual(
    short(edges(f)),
    [
      "a->group_1",
      "group_1->b",
      "group_1->c",
      "b->group_1/end",
      "c->group_1/end",
      "group_1/end->d",
    ].sort(),
  );
});

Deno.test("a | b | c is one group of three members; (a | b) | c nests a group", () => {
  const flat = flow`dslg_a | dslg_b | dslg_c`;
  assert.equal(flat.graph.groups.size, 1);
  assert.deepEqual(short(flat.graph.groups.get("group_1")!.members.map((m) => m.id)), [
    "a",
    "b",
    "c",
  ]);
  const nested = flow`(dslg_a | dslg_b) | dslg_c`;
  assert.equal(nested.graph.groups.size, 2);
  // Inner groups are built first.
  assert.deepEqual(short(nested.graph.groups.get("group_2")!.members.map((m) => m.id)), [
    "group_1",
    "c",
  ]);
  assert.deepEqual(nested.graph.nodes.get("group_1")!.parent, {
    group: "group_2",
    member: "group_1",
  });
});

Deno.test("redundant parentheses change nothing", () => {
  const plain = flow`dslg_a >> dslg_b >> dslg_c`;
  const parens = flow`((dslg_a)) >> (dslg_b >> (dslg_c))`;
  assert.deepEqual(edges(parens), edges(plain));
  assert.equal(parens.graph.groups.size, 0);
});

Deno.test("names from the registry and ${} interpolation build the same graph", () => {
  const byName = flow`dslg_a >> (dslg_b | dslg_c) >> dslg_d`;
  const byValue = flow`${a} >> (${b} | ${c}) >> ${d}`;
  const mixed = flow`dslg_a >> (${b} | dslg_c) >> ${d}`;
  assert.deepEqual(edges(byValue), edges(byName));
  assert.deepEqual(edges(mixed), edges(byName));
  assert.equal(byValue.graph.nodes.get("dslg_a")!.task, a);
});

Deno.test("names may contain dots and dashes", async () => {
  task("dslg_etl.load-v2", (x: number) => x + 1);
  const f = flow`dslg_etl.load-v2`;
  assert.deepEqual(f.tasks, ["dslg_etl.load-v2"]);
  assert.equal((await f.run({ input: 1 })).output, 2);
});

Deno.test("an interpolated parallel() group keeps its name, policy and executor", () => {
  const policy = bestEffort();
  const g = parallel([b, c], { name: "dslg_fan", policy, executor: "inline" });
  const f = flow`${a} >> ${g} >> ${d}`;
  const spec = f.graph.groups.get("dslg_fan");
  assert.ok(spec, "the group keeps its name");
  assert.equal(spec.policy, policy);
  assert.equal(spec.executor, "inline");
  assert.equal(spec.named, true);
  assert.deepEqual(
    short(edges(f)),
    [
      "a->fan",
      "fan->b",
      "fan->c",
      "b->fan/end",
      "c->fan/end",
      "fan/end->d",
    ].sort(),
  );
  assert.match(f.toMermaid(), /subgraph dslg_fan \["dslg_fan \(best effort\)"\]/);
});

Deno.test("a group interpolated twice is the same node", () => {
  const g = parallel([b, c]);
  const f = flow`${a} >> ${g}\n${g} >> ${d}`;
  assert.equal(f.graph.groups.size, 1);
  assert.ok(edges(f).includes("group_1/end->dslg_d"));
  assert.ok(edges(f).includes("dslg_a->group_1"));
});

Deno.test("parallel() accepts flows as members (a chain member is named by its last task)", () => {
  const f = flow`${a} >> ${parallel([flow`dslg_b >> dslg_c`, d])} >> ${e}`;
  const spec = f.graph.groups.get("group_1")!;
  assert.deepEqual(short(spec.members.map((m) => m.id)), ["c", "d"]);
  assert.deepEqual(short(spec.members[0].entries), ["b"]);
  assert.ok(edges(f).includes("dslg_b->dslg_c"));
  assert.deepEqual(f.graph.nodes.get("dslg_b")!.parent, { group: "group_1", member: "dslg_c" });
});

Deno.test("an interpolated flow is inlined as a sub-flow", () => {
  const sub = flow`dslg_b >> (dslg_c | dslg_d)`;
  const f = flow`dslg_a >> ${sub} >> dslg_e`;
  assert.deepEqual(
    short(edges(f)),
    [
      "a->b",
      "b->group_1",
      "group_1->c",
      "group_1->d",
      "c->group_1/end",
      "d->group_1/end",
      "group_1/end->e",
    ].sort(),
  );
  // The sub-flow itself is unchanged.
  assert.deepEqual(short(edges(sub)), [
    "b->group_1",
    "c->group_1/end",
    "d->group_1/end",
    "group_1->c",
    "group_1->d",
  ]);
});

Deno.test("inlined sub-flows get fresh automatic group ids", () => {
  const sub = flow`dslg_c | dslg_d`;
  const f = flow`(dslg_a | dslg_b) >> ${sub}`;
  assert.deepEqual([...f.graph.groups.keys()].sort(), ["group_1", "group_2"]);
  assert.ok(edges(f).includes("group_1/end->group_2"));
  assert.deepEqual(f.graph.nodes.get("dslg_c")!.parent, { group: "group_2", member: "dslg_c" });
});

Deno.test("a sub-flow with several entries and exits connects all of them", () => {
  const sub = flow`dslg_b >> dslg_d\ndslg_c >> dslg_d\ndslg_c >> dslg_e`;
  const f = flow`dslg_a >> ${sub} >> dslg_f`;
  const list = short(edges(f));
  for (const x of ["a->b", "a->c", "d->f", "e->f", "b->d", "c->d", "c->e"]) {
    assert.ok(list.includes(x), `missing ${x} in ${list}`);
  }
  assert.equal(list.length, 7);
});

Deno.test("statements on several lines share nodes by name (a join)", async () => {
  const f = flow`
    dslg_a >> dslg_b
    dslg_a >> dslg_c >> dslg_b
  `;
  assert.deepEqual(short(edges(f)), ["a->b", "a->c", "c->b"]);
  const result = await f.run({ input: 0 });
  assert.equal(result.results["dslg_b"], 'b({"dslg_a":"a(0)","dslg_c":"c(\\"a(0)\\")"})');
  assert.deepEqual(result.completed, ["dslg_a", "dslg_c", "dslg_b"]);
});

Deno.test("';' separates statements like a newline; empty statements are ignored", () => {
  const semi = flow`dslg_a >> dslg_b; dslg_a >> dslg_c >> dslg_b;;`;
  const lines = flow`

    dslg_a >> dslg_b

    dslg_a >> dslg_c >> dslg_b
  `;
  assert.deepEqual(edges(semi), edges(lines));
  assert.deepEqual(short(edges(semi)), ["a->b", "a->c", "c->b"]);
});

Deno.test("a newline after an operator or inside parentheses continues the statement", () => {
  const f = flow`dslg_a >>
    (dslg_b
     | dslg_c) |
    dslg_d`;
  assert.equal(f.graph.groups.size, 2);
  const outer = f.graph.groups.get("group_2")!;
  assert.deepEqual(short(outer.members.map((m) => m.id)), ["group_1", "d"]);
});

Deno.test("a repeated name is the same node: agent >> tool >> agent is a static loop", () => {
  const f = flow`dslg_a >> dslg_b >> dslg_a`;
  assert.deepEqual(short(edges(f)), ["a->b", "b->a"]);
  assert.deepEqual(f.tasks, ["dslg_a", "dslg_b"]);
  assert.deepEqual(f.graph.roots(), [], "every node is on the loop");
});

Deno.test("an entry into a loop keeps the loop's back edge", () => {
  const f = flow`dslg_a >> dslg_b >> dslg_c >> dslg_b >> dslg_d`;
  assert.deepEqual(short(edges(f)), ["a->b", "b->c", "b->d", "c->b"]);
  assert.deepEqual(f.graph.roots(), ["dslg_a"]);
});

Deno.test("flow.tasks lists task ids in order of first appearance", () => {
  const f = flow`dslg_c >> (dslg_a | dslg_b) >> dslg_c`;
  assert.deepEqual(f.tasks, ["dslg_c", "dslg_a", "dslg_b"]);
});

Deno.test("each template is parsed once and the cache never keeps interpolated values", () => {
  let seen: TemplateStringsArray | undefined;
  const build = (x: Task) => {
    const tag = (strings: TemplateStringsArray, ...values: unknown[]) => {
      seen = strings;
      return flow(strings, ...values);
    };
    return tag`${x} >> dslg_f`;
  };
  let strings: TemplateStringsArray | undefined;
  const probe = (s: TemplateStringsArray, ..._values: unknown[]) => (strings = s);
  probe`${a} >> dslg_f`;
  assert.equal(isParsed(strings!), false, "a template nobody built is not parsed");
  const one = build(a);
  const first = seen!;
  assert.equal(isParsed(first), true);
  const two = build(b);
  assert.equal(seen, first, "the same call site yields the same strings object");
  assert.deepEqual(short(edges(one)), ["a->f"]);
  assert.deepEqual(short(edges(two)), ["b->f"]);
});

Deno.test("a template that fails to parse is not cached and fails again", () => {
  let strings: TemplateStringsArray | undefined;
  const attempt = () => {
    const tag = (s: TemplateStringsArray) => {
      strings = s;
      return flow(s);
    };
    return tag`dslg_a >>`;
  };
  assert.throws(attempt, FlowSyntaxError);
  assert.equal(isParsed(strings!), false);
  assert.throws(attempt, FlowSyntaxError);
});

Deno.test("a parsed template still checks names on every build", () => {
  const make = (s: TemplateStringsArray) => flow(s);
  const strings = Object.assign(["dslg_late"], { raw: ["dslg_late"] }) as TemplateStringsArray;
  assert.throws(() => make(strings), FlowSyntaxError);
  task("dslg_late", () => "late");
  assert.deepEqual(make(strings).tasks, ["dslg_late"]);
});

Deno.test("parallel() refuses malformed arguments with a TypeError naming them", () => {
  assert.throws(() => parallel([]), {
    name: "TypeError",
    message: /members must be a non-empty array/,
  });
  assert.throws(() => parallel([a, "dslg_b" as unknown as Task]), {
    name: "TypeError",
    message: /member 1 is not a Task or Flow \(got string\)/,
  });
  assert.throws(() => parallel([a], { name: "has space" }), {
    name: "TypeError",
    message: /name must match .*"has space"/,
  });
  assert.throws(
    () => parallel([a], { executor: "has space" }),
    { name: "TypeError", message: /executor must be a handler name .*got "has space"/ },
  );
  assert.throws(
    () => parallel([a], { executor: 42 as unknown as string }),
    { name: "TypeError", message: /executor must be a handler name .*got 42/ },
  );
  assert.throws(
    () => parallel([a], { policy: "strict" as unknown as ReturnType<typeof bestEffort> }),
    { name: "TypeError", message: /policy must be a function, got string/ },
  );
});

Deno.test("a critical() policy naming a non-member is a TypeError when the flow is built", () => {
  const g = parallel([b, c], { policy: critical(["dslg_x"]) });
  assert.throws(() => flow`${a} >> ${g}`, (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.ok(!(error instanceof FlowSyntaxError));
    assert.match(error.message, /"dslg_x" not among its members \("dslg_b", "dslg_c"\)/);
    return true;
  });
});
