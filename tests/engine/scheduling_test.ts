import assert from "assert";
import {
  CycleLimitExceededError,
  ExecutedGraph,
  flow,
  MemoryChannel,
  parallel,
  task,
  type TaskContext,
  WorkflowError,
} from "../../mod.ts";

// Task names are process-global: everything in this file starts with "engs_".
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A log of "start:x" / "end:x" entries shared by the tasks of one test. */
let log: string[] = [];

/** A task that logs its start and end, waits `ms`, and returns `name(input)`. */
function logged(name: string, ms = 0) {
  return task(`engs_${name}`, async (input: unknown) => {
    log.push(`start:${name}`);
    if (ms) await delay(ms);
    log.push(`end:${name}`);
    return { [name]: input };
  });
}

function before(first: string, second: string): void {
  const i = log.indexOf(first);
  const j = log.indexOf(second);
  assert.ok(i >= 0 && j >= 0 && i < j, `${first} before ${second} in ${log.join(", ")}`);
}

const A = logged("a");
const B = logged("b", 30);
const C = logged("c", 5);
const D = logged("d");
const E = logged("e");

Deno.test("the first task gets run({ input }); a task with one predecessor gets its result", async () => {
  log = [];
  const result = await flow`${A} >> ${D}`.run({ input: 7 });
  assert.deepEqual(result.results["engs_a"], { a: 7 });
  assert.deepEqual(result.output, { d: { a: 7 } });
});

Deno.test("every start node gets the run input", async () => {
  log = [];
  const result = await flow`${A} >> ${D}\n${C}`.run({ input: "in" });
  assert.deepEqual(result.results["engs_a"], { a: "in" });
  assert.deepEqual(result.results["engs_c"], { c: "in" });
});

Deno.test("a join waits for all forward predecessors and gets inputs keyed by name", async () => {
  log = [];
  const result = await flow`
    ${A} >> ${B} >> ${D}
    ${A} >> ${C} >> ${D}
  `.run({ input: 1 });
  assert.deepEqual(result.results["engs_d"], {
    d: { engs_b: { b: { a: 1 } }, engs_c: { c: { a: 1 } } },
  });
  assert.equal(log.filter((x) => x === "start:d").length, 1, "the join runs once");
  before("end:b", "start:d");
  before("end:c", "start:d");
  assert.deepEqual(result.completed, ["engs_a", "engs_c", "engs_b", "engs_d"]);
});

Deno.test("a join of two roots waits for both", async () => {
  log = [];
  const result = await flow`${B} >> ${D}; ${C} >> ${D}`.run({ input: 0 });
  assert.deepEqual(Object.keys((result.output as { d: object }).d).sort(), ["engs_b", "engs_c"]);
  assert.equal(result.steps, 3);
});

Deno.test("a task after a group runs once after every member settled and gets { member: result }", async () => {
  log = [];
  const result = await flow`${A} >> (${B} | ${C} >> ${D}) >> ${E}`.run({ input: 0 });
  assert.deepEqual(result.results["engs_e"], {
    e: { engs_b: { b: { a: 0 } }, engs_d: { d: { c: { a: 0 } } } },
  });
  assert.equal(log.filter((x) => x === "start:e").length, 1);
  before("end:b", "start:e");
  before("end:d", "start:e");
  assert.deepEqual(result.results["group_1"], {
    engs_b: { b: { a: 0 } },
    engs_d: { d: { c: { a: 0 } } },
  }, "the group's result is kept under its id");
});

Deno.test("members of a group all get the input of the group", async () => {
  log = [];
  const result = await flow`${A} >> (${C} | ${D})`.run({ input: "x" });
  assert.deepEqual(result.results["engs_c"], { c: { a: "x" } });
  assert.deepEqual(result.results["engs_d"], { d: { a: "x" } });
});

Deno.test("a nested group's result is keyed by its group id", async () => {
  log = [];
  const result = await flow`(${A} | (${C} | ${D})) >> ${E}`.run({ input: 1 });
  assert.deepEqual(result.output, {
    e: { engs_a: { a: 1 }, group_1: { engs_c: { c: 1 }, engs_d: { d: 1 } } },
  });
});

Deno.test("a sub-flow member with two exits gives an object of both exits", async () => {
  log = [];
  const sub = flow`${C} >> ${D}; ${C} >> ${E}`;
  const g = parallel([sub, A], { name: "engs_twoexits" });
  const result = await flow`${g} >> ${logged("after")}`.run({ input: 2 });
  const input = (result.output as { after: Record<string, unknown> }).after;
  assert.deepEqual(Object.keys(input).sort(), ["engs_a", "engs_d+engs_e"]);
  assert.deepEqual(input["engs_d+engs_e"], { engs_d: { d: { c: 2 } }, engs_e: { e: { c: 2 } } });
});

Deno.test("a static loop runs until a task terminates it", async () => {
  const seen: number[] = [];
  task("engs_agent", (input: number, ctx: TaskContext) => {
    seen.push(ctx.cycle);
    if (ctx.cycle === 3) ctx.terminate("done");
    return (input ?? 0) + 1;
  });
  task("engs_tool", (input: number) => input * 10);
  const result = await flow`engs_agent >> engs_tool >> engs_agent`.run({ input: 0 });
  assert.equal(result.status, "terminated");
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(result.completed, [
    "engs_agent",
    "engs_tool",
    "engs_agent",
    "engs_tool",
    "engs_agent",
  ]);
  assert.equal(result.output, 111); // 0+1 → 10 → 11 → 110 → 111
  assert.equal(result.steps, 5);
});

Deno.test("a loop entered from outside re-runs its body through the back edge", async () => {
  let n = 0;
  task("engs_enter", () => 0);
  task("engs_body", (x: number, ctx: TaskContext) => {
    n++;
    if (ctx.cycle === 4) ctx.next(task("engs_exit", (v: number) => `exit ${v}`), x, { goto: true });
    return x + 1;
  });
  task("engs_check", (x: number) => x);
  const result = await flow`engs_enter >> engs_body >> engs_check >> engs_body`.run();
  assert.equal(n, 4);
  assert.equal(result.output, "exit 3");
  assert.equal(result.results["engs_check"], 3);
});

Deno.test("each loop activation counts against maxCycles (CycleLimitExceededError)", async () => {
  let runs = 0;
  task("engs_spin", (x: number) => {
    runs++;
    return x;
  }, { maxCycles: 5 });
  task("engs_spin_back", (x: number) => x);
  await assert.rejects(
    flow`engs_spin >> engs_spin_back >> engs_spin`.run({ input: 1 }),
    (error: unknown) => {
      assert.ok(error instanceof CycleLimitExceededError);
      assert.ok(error instanceof WorkflowError);
      assert.equal(error.code, "CYCLE_LIMIT_EXCEEDED");
      assert.equal(error.taskId, "engs_spin");
      assert.equal(error.limit, 5);
      assert.equal(
        error.message,
        'Cannot run task "engs_spin" again: it reached its cycle limit of 5 (maxCycles)',
      );
      return true;
    },
  );
  assert.equal(runs, 5, "the task ran exactly maxCycles times");
});

Deno.test("the default maxCycles is 100", async () => {
  let runs = 0;
  task("engs_spin100", () => runs++);
  task("engs_spin100_back", () => 0);
  await assert.rejects(
    flow`engs_spin100 >> engs_spin100_back >> engs_spin100`.run(),
    (error: unknown) => error instanceof CycleLimitExceededError && error.limit === 100,
  );
  assert.equal(runs, 100);
});

Deno.test("maxSteps is a hard error (WorkflowError MAX_STEPS), never a silent return", async () => {
  let runs = 0;
  task("engs_steps", () => runs++, { maxCycles: 10_000 });
  task("engs_steps_back", () => 0, { maxCycles: 10_000 });
  await assert.rejects(
    flow`engs_steps >> engs_steps_back >> engs_steps`.run({ maxSteps: 7 }),
    (error: unknown) => {
      assert.ok(error instanceof WorkflowError);
      assert.equal(error.code, "MAX_STEPS");
      assert.match(error.message, /the run reached maxSteps \(7 task executions\)/);
      return true;
    },
  );
  assert.equal(runs, 4, "7 executions: spin ×4, back ×3");
});

Deno.test("maxSteps counts executions exactly: n tasks fit in maxSteps n", async () => {
  log = [];
  const f = flow`${A} >> ${C} >> ${D}`;
  assert.equal((await f.run({ maxSteps: 3 })).steps, 3);
  await assert.rejects(f.run({ maxSteps: 2 }), { code: "MAX_STEPS" });
});

Deno.test("the default maxSteps is 10,000", async () => {
  task("engs_forever", () => 0, { maxCycles: 1e9 });
  task("engs_forever_back", () => 0, { maxCycles: 1e9 });
  await assert.rejects(
    flow`engs_forever >> engs_forever_back >> engs_forever`.run(),
    { code: "MAX_STEPS", message: /maxSteps \(10000 task executions\)/ },
  );
});

Deno.test("RunResult has runId, status, output, results, completed, steps, channel, graph", async () => {
  log = [];
  const channel = new MemoryChannel();
  const result = await flow`${A} >> (${B} | ${C}) >> ${D}`.run({
    input: 1,
    runId: "engs-run-1",
    channel,
  });
  assert.equal(result.runId, "engs-run-1");
  assert.equal(result.status, "completed");
  assert.deepEqual(result.completed, ["engs_a", "engs_c", "engs_b", "engs_d"]);
  assert.equal(result.steps, 4);
  assert.deepEqual(result.output, result.results["engs_d"]);
  assert.deepEqual(
    Object.keys(result.results).sort(),
    ["engs_a", "engs_b", "engs_c", "engs_d", "group_1"],
  );
  assert.equal(result.channel, channel);
  assert.ok(result.graph instanceof ExecutedGraph);
  assert.deepEqual(result.checkpoints, []);
  assert.equal(result.feedback, undefined);
});

Deno.test("a random run id is a UUID", async () => {
  log = [];
  const r1 = await flow`${A}`.run();
  const r2 = await flow`${A}`.run();
  assert.match(r1.runId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.notEqual(r1.runId, r2.runId);
});

Deno.test("output of a flow that ends with a group is the group's object, whatever finished last", async () => {
  log = [];
  const result = await flow`${A} >> (${B} | ${C})`.run({ input: 0 });
  assert.deepEqual(result.output, { engs_b: { b: { a: 0 } }, engs_c: { c: { a: 0 } } });
  assert.equal(result.completed.at(-1), "engs_b", "b is slower than c");
});

Deno.test("output is the result of the sink that finished last", async () => {
  log = [];
  const result = await flow`${A} >> ${B}
${A} >> ${C}`.run({ input: 0 });
  assert.deepEqual(result.output, { b: { a: 0 } }, "b is slower than c");
});

Deno.test("results keep undefined results and completed lists repeated tasks", async () => {
  task("engs_void", () => undefined);
  task("engs_twice", (_: unknown, ctx: TaskContext) => {
    if (ctx.cycle < 2) ctx.nextIteration();
    return ctx.cycle;
  });
  const result = await flow`engs_void >> engs_twice`.run();
  assert.ok("engs_void" in result.results);
  assert.equal(result.results["engs_void"], undefined);
  assert.equal(result.results["engs_twice"], 2, "the latest result");
  assert.deepEqual(result.completed, ["engs_void", "engs_twice", "engs_twice"]);
});

Deno.test("run({ start }) starts at the named task with the run input", async () => {
  log = [];
  const f = flow`${A} >> ${C} >> ${D}`;
  const result = await f.run({ start: "engs_c", input: "s" });
  assert.deepEqual(result.completed, ["engs_c", "engs_d"]);
  assert.deepEqual(result.results["engs_c"], { c: "s" });
  await assert.rejects(f.run({ start: "engs_cc" }), {
    name: "TypeError",
    message: /Cannot start flow at "engs_cc": no such task or group \(did you mean "engs_c"/,
  });
});

Deno.test("run({ start }) at a group member is a TypeError; at the group it runs the group", async () => {
  log = [];
  const f = flow`${A} >> (${B} | ${C}) >> ${D}`;
  await assert.rejects(f.run({ start: "engs_b" }), {
    name: "TypeError",
    message: /Cannot start flow at "engs_b": it is a member of group "group_1"; start at the group/,
  });
  const result = await f.run({ start: "group_1", input: "s" });
  assert.deepEqual(result.completed, ["engs_c", "engs_b", "engs_d"]);
  assert.deepEqual(result.output, { d: { engs_b: { b: "s" }, engs_c: { c: "s" } } });
});

Deno.test("runs of one flow are independent", async () => {
  let count = 0;
  task("engs_counter", async (x: number, ctx: TaskContext) => {
    await ctx.channel.increment("n");
    count++;
    return x * 2;
  });
  const f = flow`engs_counter`;
  const [r1, r2] = await Promise.all([f.run({ input: 1 }), f.run({ input: 2 })]);
  assert.equal(r1.output, 2);
  assert.equal(r2.output, 4);
  assert.equal(await r1.channel.get("n"), 1);
  assert.equal(await r2.channel.get("n"), 1);
  assert.notEqual(r1.channel, r2.channel);
  assert.equal(count, 2);
});

Deno.test("ctx has taskId, runId, attempt and cycle", async () => {
  const seen: unknown[] = [];
  task("engs_ctx", (_: unknown, ctx: TaskContext) => {
    seen.push([ctx.taskId, ctx.runId, ctx.attempt, ctx.cycle, ctx.signal.aborted]);
    if (ctx.cycle < 2) ctx.nextIteration();
  });
  await flow`engs_ctx`.run({ runId: "engs-ctx" });
  assert.deepEqual(seen, [
    ["engs_ctx", "engs-ctx", 1, 1, false],
    ["engs_ctx", "engs-ctx", 1, 2, false],
  ]);
});

Deno.test("ctx.result(id) reads any completed task's result, undefined otherwise", async () => {
  const reads: unknown[] = [];
  task("engs_r_first", () => ({ rows: 3 }));
  task("engs_r_side", () => "side");
  task("engs_r_reader", async (_: unknown, ctx: TaskContext) => {
    reads.push(await ctx.result("engs_r_first"));
    reads.push(await ctx.result("engs_r_side"));
    reads.push(await ctx.result("engs_r_later"));
    reads.push(await ctx.result("engs_never_defined"));
    return "read";
  });
  task("engs_r_later", () => "later");
  await flow`engs_r_first >> engs_r_side >> engs_r_reader >> engs_r_later`.run();
  assert.deepEqual(reads, [{ rows: 3 }, "side", undefined, undefined]);
});

Deno.test("ctx.result returns the latest result of a task that ran several times", async () => {
  const reads: unknown[] = [];
  task("engs_r_iter", (x: number, ctx: TaskContext) => {
    if (x < 3) ctx.nextIteration(x + 1);
    return x;
  });
  task("engs_r_after", async (_: unknown, ctx: TaskContext) => {
    reads.push(await ctx.result<number>("engs_r_iter"));
  });
  await flow`engs_r_iter >> engs_r_after`.run({ input: 0 });
  assert.deepEqual(reads, [3]);
});

Deno.test("a branch that is not taken leaves no result", async () => {
  task("engs_route", (_: unknown, ctx: TaskContext) => {
    ctx.next(task("engs_route_b", () => "b"));
    return "a";
  });
  const result = await flow`engs_route`.run();
  assert.deepEqual(Object.keys(result.results).sort(), ["engs_route", "engs_route_b"]);
});

Deno.test("invalid run options are refused before any task runs", async () => {
  let ran = false;
  task("engs_never", () => (ran = true));
  const f = flow`engs_never`;
  await assert.rejects(f.run({ maxSteps: 0 }), {
    name: "RangeError",
    message: /maxSteps must be a whole number >= 1, got 0/,
  });
  await assert.rejects(f.run({ maxSteps: 1.5 }), RangeError);
  await assert.rejects(f.run({ runId: "has space" }), {
    name: "TypeError",
    message: /runId must be .*"has space"/,
  });
  await assert.rejects(f.run({ executor: "" }), {
    name: "TypeError",
    message: /executor must be a handler name, got ""/,
  });
  assert.equal(ran, false);
});

Deno.test("a loop through a group re-runs the whole group each pass", async () => {
  task("engs_lg_head", (_: unknown, ctx: TaskContext) => {
    if (ctx.cycle === 3) ctx.terminate();
    return ctx.cycle;
  });
  task("engs_lg_b", (x: number) => `b${x}`);
  task("engs_lg_c", (x: number) => `c${x}`);
  task("engs_lg_tail", (x: unknown) => x);
  const result = await flow`engs_lg_head >> (engs_lg_b | engs_lg_c) >> engs_lg_tail >> engs_lg_head`
    .run();
  assert.equal(result.status, "terminated");
  assert.equal(result.completed.filter((x) => x === "engs_lg_tail").length, 2);
  assert.deepEqual(result.results["engs_lg_tail"], { engs_lg_b: "b2", engs_lg_c: "c2" });
  assert.equal(result.graph.counts()["group_1"], 2);
});

Deno.test("a join inside a loop waits for both predecessors on every pass", async () => {
  const joins: unknown[] = [];
  task("engs_lj_head", (_: unknown, ctx: TaskContext) => {
    if (ctx.cycle === 3) ctx.terminate();
    return ctx.cycle;
  });
  task("engs_lj_b", async (x: number) => {
    await delay(5);
    return `b${x}`;
  });
  task("engs_lj_c", (x: number) => `c${x}`);
  task("engs_lj_join", (x: unknown) => joins.push(x));
  await flow`
    engs_lj_head >> engs_lj_b >> engs_lj_join
    engs_lj_head >> engs_lj_c >> engs_lj_join >> engs_lj_head
  `.run();
  assert.deepEqual(joins, [
    { engs_lj_b: "b1", engs_lj_c: "c1" },
    { engs_lj_b: "b2", engs_lj_c: "c2" },
  ]);
});
