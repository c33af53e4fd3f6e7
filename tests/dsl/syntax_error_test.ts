import assert from "assert";
import { type Flow, flow, FlowSyntaxError, parallel, type Task, task } from "../../mod.ts";

// Task names are process-global: everything in this file starts with "dsle_".
const a = task("dsle_a", () => "a");
const b = task("dsle_b", () => "b");
const c = task("dsle_c", () => "c");
task("dsle_d", () => "d");
task("dsle_fetch", () => "fetch");
task("dsle_fetch_all", () => "all");

/** Builds a flow from plain text, as if it were a template without interpolations. */
function fromText(text: string): Flow {
  return flow(Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray);
}

interface Expected {
  line: number;
  column: number;
  reason: RegExp;
  /** The offending token: the caret must sit under it, one `^` per character (omit for an
   * empty line: a single caret). */
  token?: string;
}

/** Asserts `fn` throws a FlowSyntaxError at the given place with a caret under `token`. */
function assertSyntaxError(fn: () => unknown, expected: Expected): FlowSyntaxError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FlowSyntaxError, `expected a FlowSyntaxError, got ${caught}`);
  assert.ok(caught instanceof SyntaxError);
  assert.equal(caught.name, "FlowSyntaxError");
  assert.equal(caught.line, expected.line, `line of: ${caught.message}`);
  assert.equal(caught.column, expected.column, `column of: ${caught.message}`);
  assert.match(caught.reason, expected.reason);
  const [first, text, caret] = caught.message.split("\n");
  assert.match(first, expected.reason);
  assert.ok(
    first.endsWith(`(line ${expected.line}, column ${expected.column})`),
    `position in: ${first}`,
  );
  assert.ok(text.startsWith("  ") && caret.startsWith("  "), "source and caret are indented");
  const start = caret.indexOf("^");
  assert.equal(start - 2, expected.column - 1, `caret column in:\n${caught.message}`);
  if (expected.token === undefined) {
    assert.equal(caret.trim(), "^");
    return caught;
  }
  assert.equal(
    caret.trim(),
    "^".repeat(expected.token.length),
    `caret length in:\n${caught.message}`,
  );
  assert.equal(
    text.slice(start, start + expected.token.length),
    expected.token,
    `caret is under ${JSON.stringify(expected.token)} in:\n${caught.message}`,
  );
  return caught;
}

Deno.test("FlowSyntaxError is a SyntaxError with line, column, reason and a caret", () => {
  const error = new FlowSyntaxError("bad thing", "x >> y\nfoo bar", 11, 3);
  assert.ok(error instanceof SyntaxError);
  assert.equal(error.line, 2);
  assert.equal(error.column, 5);
  assert.equal(error.reason, "bad thing");
  assert.equal(
    error.message,
    "Cannot parse flow: bad thing (line 2, column 5)\n  foo bar\n      ^^^",
  );
});

Deno.test("flow rejects an unclosed '(' with a caret under it", () => {
  assertSyntaxError(() => flow`dsle_a >> (dsle_b | dsle_c`, {
    line: 1,
    column: 11,
    reason: /unclosed '\(': expected '\)'/,
    token: "(",
  });
  assertSyntaxError(() => flow`(dsle_a | (dsle_b)`, {
    line: 1,
    column: 1,
    reason: /unclosed '\('/,
    token: "(",
  });
});

Deno.test("flow rejects an unclosed '(' on a later line at that line", () => {
  assertSyntaxError(() => fromText("dsle_a >> dsle_b\n  (dsle_c | dsle_d"), {
    line: 2,
    column: 3,
    reason: /unclosed '\('/,
    token: "(",
  });
});

Deno.test("flow rejects an unmatched ')'", () => {
  assertSyntaxError(() => flow`dsle_a >> dsle_b)`, {
    line: 1,
    column: 17,
    reason: /unmatched '\)'/,
    token: ")",
  });
  assertSyntaxError(() => flow`(dsle_a | dsle_b)) >> dsle_c`, {
    line: 1,
    column: 18,
    reason: /unmatched '\)'/,
    token: ")",
  });
  assertSyntaxError(() => flow`)`, { line: 1, column: 1, reason: /unmatched '\)'/, token: ")" });
});

Deno.test("flow rejects two tasks in a group without an operator between them", () => {
  assertSyntaxError(() => fromText("(dsle_a\ndsle_b)"), {
    line: 2,
    column: 1,
    reason: /expected '\)' but found "dsle_b"/,
    token: "dsle_b",
  });
  assertSyntaxError(() => flow`dsle_a dsle_b`, {
    line: 1,
    column: 8,
    reason: /expected '>>', '\|', a new line or ';' but found "dsle_b"/,
    token: "dsle_b",
  });
});

Deno.test("flow rejects a dangling '>>' with the caret under the operator", () => {
  assertSyntaxError(() => flow`dsle_a >>`, {
    line: 1,
    column: 8,
    reason: /expected a task after '>>' but found the end of the flow/,
    token: ">>",
  });
  // A newline after an operator continues the statement, so the flow still ends too early.
  assertSyntaxError(() => fromText("dsle_a >>\n\n"), {
    line: 1,
    column: 8,
    reason: /expected a task after '>>' but found the end of the flow/,
    token: ">>",
  });
  assertSyntaxError(() => flow`dsle_a >> ; dsle_b`, {
    line: 1,
    column: 8,
    reason: /expected a task after '>>' but found ';'/,
    token: ">>",
  });
  assertSyntaxError(() => flow`dsle_a >> >> dsle_b`, {
    line: 1,
    column: 8,
    reason: /expected a task after '>>' but found '>>'/,
    token: ">>",
  });
  assertSyntaxError(() => flow`(dsle_a >>) >> dsle_b`, {
    line: 1,
    column: 9,
    reason: /expected a task after '>>' but found '\)'/,
    token: ">>",
  });
});

Deno.test("flow rejects a leading '>>' or '|'", () => {
  assertSyntaxError(() => flow`| dsle_b`, {
    line: 1,
    column: 1,
    reason: /expected a task before '\|'/,
    token: "|",
  });
  assertSyntaxError(() => flow`>> dsle_b`, {
    line: 1,
    column: 1,
    reason: /expected a task before '>>'/,
    token: ">>",
  });
  assertSyntaxError(() => fromText("dsle_a\n  | dsle_b"), {
    line: 2,
    column: 3,
    reason: /expected a task before '\|'/,
    token: "|",
  });
  assertSyntaxError(() => flow`dsle_a >> (| dsle_b)`, {
    line: 1,
    column: 12,
    reason: /expected a task before '\|'/,
    token: "|",
  });
});

Deno.test("flow rejects a dangling '|'", () => {
  assertSyntaxError(() => flow`dsle_a |`, {
    line: 1,
    column: 8,
    reason: /expected a task after '\|' but found the end of the flow/,
    token: "|",
  });
  assertSyntaxError(() => flow`dsle_a | | dsle_b`, {
    line: 1,
    column: 8,
    reason: /expected a task after '\|' but found '\|'/,
    token: "|",
  });
  assertSyntaxError(() => flow`(dsle_a |) >> dsle_b`, {
    line: 1,
    column: 9,
    reason: /expected a task after '\|' but found '\)'/,
    token: "|",
  });
});

Deno.test("flow rejects an empty group", () => {
  assertSyntaxError(() => flow`()`, {
    line: 1,
    column: 1,
    reason: /empty group '\(\)'/,
    token: "()",
  });
  assertSyntaxError(() => flow`dsle_a >> () >> dsle_b`, {
    line: 1,
    column: 11,
    reason: /empty group/,
    token: "()",
  });
  assertSyntaxError(() => flow`dsle_a | (())`, {
    line: 1,
    column: 11,
    reason: /empty group/,
    token: "()",
  });
});

Deno.test("flow rejects an unknown name and suggests close names", () => {
  const error = assertSyntaxError(() => flow`dsle_a >> dsle_fetchh >> dsle_b`, {
    line: 1,
    column: 11,
    reason: /unknown task "dsle_fetchh" \(did you mean "dsle_fetch"/,
    token: "dsle_fetchh",
  });
  assert.ok(!error.message.includes('"dsle_a"'), "far names are not suggested");
});

Deno.test("flow rejects an unknown name on a later line at its position", () => {
  assertSyntaxError(() => fromText("dsle_a >> dsle_b\n\n   dsle_c >> dsle_fech"), {
    line: 3,
    column: 14,
    reason: /unknown task "dsle_fech" \(did you mean "dsle_fetch"/,
    token: "dsle_fech",
  });
});

Deno.test("flow rejects an unknown name with nothing close without a suggestion", () => {
  const error = assertSyntaxError(() => flow`zzqqxxwwvv_never_defined`, {
    line: 1,
    column: 1,
    reason: /unknown task "zzqqxxwwvv_never_defined"/,
    token: "zzqqxxwwvv_never_defined",
  });
  assert.ok(!error.message.includes("did you mean"));
});

Deno.test("flow rejects an interpolation that is not a Task, Flow or Group", () => {
  const cases: [unknown, string][] = [
    [42, "number"],
    ["dsle_a", "string"],
    [null, "null"],
    [undefined, "undefined"],
    [{ name: "dsle_a" }, "Object"],
    [() => 1, "function"],
    [[a, b], "Array"],
    [new Map(), "Map"],
  ];
  for (const [value, kind] of cases) {
    assertSyntaxError(() => flow`dsle_a >> ${value}`, {
      line: 1,
      column: 11,
      reason: new RegExp(
        `interpolated value is not a Task, Flow, Group or map \\(got ${kind}\\)`,
      ),
      token: "${…}",
    });
  }
});

Deno.test("flow shows interpolations as ${…} in the source line of an error", () => {
  assertSyntaxError(() => flow`${a} >> ${b}\n${c} >> ${"oops"}`, {
    line: 2,
    column: 9,
    reason: /got string/,
    token: "${…}",
  });
});

Deno.test("flow rejects an empty template", () => {
  for (const text of ["", "   ", "\n\n  \n", ";", " ; ;\n;"]) {
    assertSyntaxError(() => fromText(text), {
      line: 1,
      column: 1,
      reason: /empty flow: write at least one task/,
      token: text.split("\n")[0] ? text[0] : undefined,
    });
  }
});

Deno.test("flow rejects stray characters and a single '>'", () => {
  assertSyntaxError(() => flow`dsle_a > dsle_b`, {
    line: 1,
    column: 8,
    reason: /unexpected '>' \(did you mean '>>'\?\)/,
    token: ">",
  });
  assertSyntaxError(() => flow`dsle_a >>> dsle_b`, {
    line: 1,
    column: 10,
    reason: /unexpected '>'/,
    token: ">",
  });
  assertSyntaxError(() => flow`dsle_a & dsle_b`, {
    line: 1,
    column: 8,
    reason: /unexpected character "&"/,
    token: "&",
  });
  assertSyntaxError(() => flow`dsle_a >> 9lives`, {
    line: 1,
    column: 11,
    reason: /unexpected character "9"/,
    token: "9",
  });
});

Deno.test("flow rejects a task in two groups as a FlowSyntaxError", () => {
  // The caret points at the start of the second group (its first member).
  assertSyntaxError(() => flow`(dsle_a | dsle_b) >> (dsle_a | dsle_c)`, {
    line: 1,
    column: 23,
    reason: /group "group_2": "dsle_a" is already a member of group "group_1"/,
    token: "d",
  });
});

Deno.test("flow rejects an interpolated group whose member is already in a group", () => {
  // Written first as text, then as a parallel() group: a conflict in the template either way.
  assert.throws(
    () => flow`(dsle_a | dsle_c) >> ${parallel([a, b])}`,
    (error: unknown) => {
      assert.ok(error instanceof FlowSyntaxError, `got ${error}`);
      assert.match(error.message, /"dsle_a" is already a member of group "group_1"/);
      assert.equal(error.column, 22);
      return true;
    },
  );
});

Deno.test("flow rejects an inlined sub-flow that puts a grouped task in another group", () => {
  // Before the fix, dsle_a silently moved to the second group and the run "completed"
  // without ever settling the first one.
  const sub = flow`dsle_a | dsle_b`;
  assert.throws(() => flow`(dsle_a | dsle_c) >> ${sub}`, (error: unknown) => {
    assert.ok(error instanceof FlowSyntaxError, `got ${error}`);
    assert.match(error.message, /"dsle_a" is already a member of group "group_1"/);
    return true;
  });
});

Deno.test("flow rejects a group id that clashes with a task", () => {
  assert.throws(
    () => flow`${parallel([a, b], { name: "dsle_c" })} >> dsle_c`,
    (error: unknown) => {
      assert.ok(error instanceof FlowSyntaxError, `got ${error}`);
      assert.match(error.message, /"dsle_c"/);
      return true;
    },
  );
  assert.throws(
    () => flow`dsle_c >> ${parallel([a, b], { name: "dsle_c" })}`,
    (error: unknown) => {
      assert.ok(error instanceof FlowSyntaxError, `got ${error}`);
      assert.match(error.message, /group "dsle_c": the id is already used in this flow/);
      return true;
    },
  );
});

Deno.test("flow rejects absurdly deep nesting with a FlowSyntaxError, not a stack overflow", () => {
  const depth = 20_000;
  const text = "(".repeat(depth) + "dsle_a" + ")".repeat(depth);
  assert.throws(() => fromText(text), (error: unknown) => {
    assert.ok(error instanceof FlowSyntaxError, `got ${error}`);
    assert.match(error.message, /nested too deeply/);
    return true;
  });
  // Reasonable nesting still works.
  const ok = "(".repeat(100) + "dsle_a >> dsle_b" + ")".repeat(100);
  assert.deepEqual(fromText(ok).tasks, ["dsle_a", "dsle_b"]);
});

Deno.test("flow accepts a very long chain without deep recursion", () => {
  const names = Array.from({ length: 2_000 }, (_, i) => `dsle_chain_${i}`);
  const tasks: Task[] = names.map((n) => task(n, () => n));
  const text = names.join(" >> ");
  const f = fromText(text);
  assert.equal(f.graph.edgeCount, names.length - 1);
  assert.equal(tasks.length, f.tasks.length);
});

Deno.test("flow rejects the same task twice in one group", () => {
  // Before the fix, `(a | a) >> b` built a group that never settled and the run "completed"
  // without running b.
  assertSyntaxError(() => flow`(dsle_a | dsle_a) >> dsle_b`, {
    line: 1,
    column: 2,
    reason: /group "group_1": "dsle_a" ends two of its members/,
    token: "d",
  });
  assertSyntaxError(() => flow`(dsle_a >> dsle_b | dsle_b) >> dsle_c`, {
    line: 1,
    column: 2,
    reason: /"dsle_b" ends two of its members/,
    token: "d",
  });
  assert.throws(() => flow`${parallel([a, a])} >> dsle_b`, (error: unknown) => {
    assert.ok(error instanceof FlowSyntaxError, `got ${error}`);
    assert.match(error.message, /"dsle_a" ends two of its members/);
    return true;
  });
  assertSyntaxError(() => flow`(dsle_a >> dsle_b | dsle_a >> dsle_c)`, {
    line: 1,
    column: 2,
    reason: /"dsle_a" is already a member of another member of this group/,
    token: "d",
  });
});
