/**
 * Map nodes and `ctx.map` in-process: concurrency counted exactly, limits, placement in groups
 * and joins, argument checks, what items may ask for, drawings, and resuming halfway.
 *
 * @module
 */
import assert from "assert";
import {
  atLeast,
  bestEffort,
  critical,
  firstSuccess,
  flow,
  type GroupOutcome,
  map,
  parallel,
  ParallelGroupError,
  SimulatedCrash,
  strict,
  task,
  type TaskContext,
  WorkflowError,
} from "../../mod.ts";
import { crashAfter, resumeAfterCrash, RunRecorder } from "../../src/testing/mod.ts";

// Task names are process-global: everything in this file starts with "mp_".
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
const list = task("mp_list", (n: number) => Array.from({ length: n }, (_, i) => i));
const square = task("mp_square", (x: number) => x * x);
const collect = task("mp_collect", (x: unknown) => x);

Deno.test("concurrency: exactly that many items in flight at the peak, never more", async () => {
  for (const c of [1, 3, 8]) {
    let now = 0;
    let peak = 0;
    const counted = task(`mp_counted_${c}`, async (x: number) => {
      peak = Math.max(peak, ++now);
      await tick();
      now--;
      return x;
    });
    const r = await flow`${list} >> ${map(counted, { concurrency: c })}`.run({ input: 40 });
    assert.deepEqual(r.output, Array.from({ length: 40 }, (_, i) => i));
    assert.equal(peak, c, `concurrency ${c}`);
  }
});

Deno.test("without a bound every item starts at once", async () => {
  let now = 0;
  let peak = 0;
  const counted = task("mp_unbounded", async (x: number) => {
    peak = Math.max(peak, ++now);
    await tick();
    now--;
    return x;
  });
  await flow`${list} >> ${map(counted)}`.run({ input: 300 });
  assert.equal(peak, 300);
});

Deno.test("items count in steps but not against maxCycles or maxSteps", async () => {
  const once = task("mp_once", (x: number) => x + 1, { maxCycles: 1 });
  const r = await flow`${list} >> ${map(once)}`.run({ input: 50, maxSteps: 2 });
  assert.equal((r.output as number[]).length, 50);
  assert.equal(r.steps, 51);
  assert.deepEqual(r.completed, ["mp_list", "mp_once"]);
  // The map node itself counts one cycle per activation: a second activation exceeds 1.
  const again = task("mp_again", (xs: number[], ctx: TaskContext) => {
    if (ctx.cycle < 2) ctx.next(again, [1]);
    return xs;
  }, { maxCycles: 5 });
  const looping = flow`${list} >> ${map(once, { name: "mp_loop_map" })} >> ${again}`;
  // ctx.next(again) runs "again" a second time; the map node ran once: fine.
  await looping.run({ input: 2 });
});

Deno.test("a map node that is a join's predecessor is keyed by its id; a named map too", async () => {
  const other = task("mp_other", () => "o");
  const join = task("mp_join", (x: unknown) => x);
  const r = await flow`
    ${list} >> ${map(square, { name: "mp_squares" })} >> ${join}
    ${list} >> ${other} >> ${join}
  `.run({ input: 3 });
  assert.deepEqual(r.output, { mp_squares: [0, 1, 4], mp_other: "o" });
  assert.deepEqual(r.results.mp_squares, [0, 1, 4]);
  assert.ok(!("mp_square" in r.results), "items leave no result under the task's name");
});

Deno.test("a map node as a group member; the group's successor gets its array", async () => {
  const side = task("mp_side", () => "side");
  const g = parallel([flow`${map(square)}`, side], { name: "mp_group" });
  const r = await flow`${g} >> ${collect}`.run({ input: [1, 2, 3] });
  assert.deepEqual(r.output, { mp_square: [1, 4, 9], mp_side: "side" });
});

Deno.test("a map that ends the flow is the run's output", async () => {
  const r = await flow`${list} >> ${map(square)}`.run({ input: 4 });
  assert.deepEqual(r.output, [0, 1, 4, 9]);
});

Deno.test("a map whose input is no array fails like a task, naming the map", async () => {
  const notList = task("mp_not_list", () => ({ a: 1 }));
  const error = await flow`${notList} >> ${map(square)}`.run().then(() => undefined, (e) => e);
  assert.ok(error instanceof TypeError, String(error));
  assert.equal(
    error.message,
    'Cannot start map "mp_square": its input must be an array, got Object',
  );
  // In a tolerant group it is a failed member.
  const side = task("mp_side2", () => 1);
  const g = parallel([flow`${notList} >> ${map(square)}`, side], { policy: bestEffort() });
  const r = await flow`${g}`.run();
  assert.deepEqual(r.output, { mp_side2: 1 });
});

Deno.test("atLeast(n) over fewer items is a RangeError when the map starts", async () => {
  const error = await flow`${list} >> ${map(square, { policy: atLeast(5) })}`.run({ input: 3 })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof RangeError, String(error));
  assert.equal(
    error.message,
    'Cannot apply atLeast(5) to map "mp_square": it has only 3 item(s)',
  );
});

Deno.test("empty maps: strict gives [], firstSuccess fails (nothing succeeded)", async () => {
  assert.deepEqual((await flow`${list} >> ${map(square)}`.run({ input: 0 })).output, []);
  const error = await flow`${list} >> ${map(square, { policy: firstSuccess(), name: "mp_none" })}`
    .run({ input: 0 }).then(() => undefined, (e) => e);
  assert.ok(error instanceof ParallelGroupError);
  assert.match(error.message, /none of 0 member\(s\) succeeded/);
});

Deno.test("atLeast(n) fails as soon as n can no longer be reached", async () => {
  const item = task("mp_least_item", async (x: number, ctx: TaskContext) => {
    if (x < 2) throw new Error(`item ${x}`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      ctx.signal.addEventListener("abort", () => resolve(clearTimeout(timer)));
    });
    return x;
  });
  const started = performance.now();
  const error = await flow`${list} >> ${map(item, { policy: atLeast(3) })}`.run({ input: 4 })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof ParallelGroupError, String(error));
  assert.deepEqual(error.failed.map((f) => f.taskId), ["mp_least_item[0]", "mp_least_item[1]"]);
  assert.ok(performance.now() - started < 2_000);
});

Deno.test("a custom policy sees every item settled (nothing cancelled)", async () => {
  const outcomes: GroupOutcome[] = [];
  const item = task("mp_custom_item", (x: number) => {
    if (x === 1) throw new Error("one");
    return x;
  });
  const policy = (o: GroupOutcome) => void outcomes.push(o);
  const r = await flow`${list} >> ${map(item, { policy })}`.run({ input: 3 });
  assert.deepEqual(r.output, [0, 2]);
  assert.deepEqual(outcomes[0].succeeded, ["mp_custom_item[0]", "mp_custom_item[2]"]);
  assert.deepEqual(outcomes[0].failed.map((f) => f.taskId), ["mp_custom_item[1]"]);
  assert.deepEqual(outcomes[0].cancelled, []);
});

Deno.test("map() checks its arguments", () => {
  assert.throws(() => map("mp_square" as never), {
    name: "TypeError",
    message: "Cannot create map: task must be a Task, got string",
  });
  assert.throws(() => map(square, { name: "1bad" }), /name must match/);
  assert.throws(() => map(square, { policy: critical(["x"]) }), {
    name: "TypeError",
    message: /critical\(\) names group members, and map items have no names/,
  });
  assert.throws(() => map(square, { policy: "strict" as never }), /policy must be a function/);
  for (const concurrency of [0, -1, 1.5, NaN, "2"]) {
    assert.throws(() => map(square, { concurrency: concurrency as number }), {
      name: "RangeError",
      message: new RegExp(`concurrency must be a whole number >= 1, got ${concurrency}`),
    });
  }
  map(square, { concurrency: Infinity });
});

Deno.test("a map id that clashes with another node asks for a name", () => {
  assert.throws(() => flow`${square} >> ${map(square)}`, {
    name: "FlowSyntaxError",
    message: /give the map its own name: map\(mp_square, \{ name: "…" \}\)/,
  });
  assert.throws(() => flow`${list} >> ${map(square)} >> ${map(square)}`, /different map/);
  const m = map(square);
  // The same map node twice is one node.
  assert.deepEqual(flow`${list} >> ${m}\n${m} >> ${collect}`.tasks, [
    "mp_list",
    "mp_square",
    "mp_collect",
  ]);
});

Deno.test("items may terminate or cancel the run; next, nextIteration and map fail the item", async () => {
  const nexter = task("mp_nexter", (x: number, ctx: TaskContext) => {
    if (x === 1) ctx.next(collect);
    return x;
  });
  const error = await flow`${list} >> ${map(nexter)}`.run({ input: 3 })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof ParallelGroupError, String(error));
  assert.match(
    (error.failed[0].error as Error).message,
    /^Cannot apply ctx\.next\(\) from item 1 of map "mp_nexter": a map item returns a result/,
  );
  const stopper = task("mp_stopper", (x: number, ctx: TaskContext) => {
    if (x === 0) ctx.terminate("enough");
    return x;
  });
  const r = await flow`${list} >> ${map(stopper, { concurrency: 1 })} >> ${collect}`
    .run({ input: 3 });
  assert.equal(r.status, "terminated");
  assert.deepEqual(r.completed, ["mp_list"]);
});

Deno.test("drawings show a map as one node; the executed graph with its item count", async () => {
  const f = flow`${list} >> ${map(square, { concurrency: 8, policy: bestEffort() })} >> ${collect}`;
  assert.match(f.toMermaid(), /mp_square\[\["map\(mp_square\) ≤8 \(best effort\)"\]\]/);
  assert.match(
    f.toDot(),
    /"mp_square" \[label="map\(mp_square\) ≤8 \(best effort\)", shape=box3d\];/,
  );
  assert.match(f.toAscii(), /^map\(mp_square\) ≤8 \(best effort\) ──> mp_collect$/m);
  const r = await f.run({ input: 1000 });
  assert.match(
    r.graph.toAscii(),
    /^map\(mp_square\) ≤8 \(best effort\) \[1000 items\] ──> mp_collect$/m,
  );
  assert.deepEqual(r.graph.items(), { mp_square: 1000 });
  assert.deepEqual(r.graph.counts(), { mp_list: 1, mp_square: 1, mp_collect: 1 });
  const named = flow`${list} >> ${map(square, { name: "mp_ranker" })}`;
  assert.match(named.toAscii(), /^mp_ranker: map\(mp_square\)$/m);
});

Deno.test("ctx.map: successors get the results; the caller's result becomes them", async () => {
  const caller = task("mp_caller", (n: number, ctx: TaskContext) => {
    ctx.map(square, Array.from({ length: n }, (_, i) => i), { policy: bestEffort() });
    return "replaced";
  });
  const r = await flow`${caller} >> ${collect}`.run({ input: 4 });
  assert.deepEqual(r.output, [0, 1, 4, 9]);
  assert.deepEqual(r.results.mp_caller, [0, 1, 4, 9]);
  assert.deepEqual(r.completed, ["mp_caller", "mp_collect"]);
  assert.match(r.graph.toAscii(), /mp_caller ──> mp_collect, mp_square \(map\)/);
  assert.match(r.graph.toAscii(), /mp_square \[4 items\] \(dynamic\)/);
});

Deno.test("ctx.map checks its call", async () => {
  const calls: [string, (ctx: TaskContext) => void, RegExp][] = [
    ["twice", (ctx) => (ctx.map(square, []), ctx.map(square, [])), /it was already called/],
    [
      "iterate",
      (ctx) => (ctx.nextIteration(1), ctx.map(square, [])),
      /already called nextIteration/,
    ],
    ["after", (ctx) => (ctx.map(square, []), ctx.nextIteration(1)), /it already called map\(\)/],
    ["custom", (ctx) => ctx.map(square, [], { policy: () => {} }), /a custom policy function/],
    ["critical", (ctx) => ctx.map(square, [], { policy: critical(["a"]) }), /critical\(\)/],
    ["items", (ctx) => ctx.map(square, "abc" as never), /items must be an array, got string/],
    ["task", (ctx) => ctx.map("mp_square" as never, []), /expected a Task, got string/],
    ["bound", (ctx) => ctx.map(square, [], { concurrency: 0 }), /concurrency must be/],
  ];
  for (const [name, call, message] of calls) {
    const t = task(`mp_bad_${name}`, (_: unknown, ctx: TaskContext) => call(ctx));
    const error = await flow`${t}`.run().then(() => undefined, (e) => e);
    assert.match(String(error?.cause?.message), message, name);
  }
  // Jumping and mapping at once: nothing would receive the results.
  const jumper = task("mp_jump_map", (_: unknown, ctx: TaskContext) => {
    ctx.next(collect, 1, { goto: true });
    ctx.map(square, [1]);
  });
  const error = await flow`${jumper} >> ${square}`.run().then(() => undefined, (e) => e);
  assert.ok(error instanceof TypeError);
  assert.match(error.message, /Cannot map from task "mp_jump_map": it also jumps/);
});

Deno.test("a crash halfway through a 1,000-item map resumes with only the items not done", async () => {
  const runs = new Map<number, number>();
  const item = task("mp_resume_item", async (x: number) => {
    runs.set(x, (runs.get(x) ?? 0) + 1);
    await tick();
    return x * 2;
  });
  const f = flow`${list} >> ${map(item, { concurrency: 16 })} >> ${collect}`;
  const crash = await f.run({
    input: 1000,
    crashAfter: crashAfter("mp_resume_item", { times: 500 }),
  })
    .then(() => undefined, (e) => e);
  assert.ok(crash instanceof SimulatedCrash, String(crash));
  assert.equal(Object.keys(crash.state.maps!.mp_resume_item.results).length, 500);
  const ranBefore = runs.size;
  assert.ok(ranBefore >= 500 && ranBefore <= 516, `${ranBefore} items had started`);
  const rec = new RunRecorder();
  const r = await resumeAfterCrash(f, crash, { onEvent: rec.onEvent });
  assert.deepEqual(r.output, Array.from({ length: 1000 }, (_, i) => i * 2));
  assert.equal(rec.items().mp_resume_item, 500, "the 500 items not done ran");
  // Every item ran; only those running at the crash (at most 16) ran twice.
  assert.equal(runs.size, 1000);
  const twice = [...runs.values()].filter((n) => n === 2).length;
  assert.ok([...runs.values()].every((n) => n <= 2) && twice <= 16, `${twice} ran twice`);
  assert.equal(r.steps, crash.state.steps + 500 + 1);
});

Deno.test("a map inside a group that settles early has its items cancelled", async () => {
  const aborted: number[] = [];
  const item = task("mp_nested_item", async (x: number, ctx: TaskContext) => {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      ctx.signal.addEventListener("abort", () => {
        aborted.push(x);
        resolve(clearTimeout(timer));
      });
    });
    return x;
  });
  const boom = task("mp_boom", async () => {
    await tick();
    throw new WorkflowError("boom");
  });
  const g = parallel([flow`${list} >> ${map(item, { concurrency: 2 })}`, boom], {
    policy: strict(),
  });
  const rec = new RunRecorder();
  const error = await flow`${g}`.run({ input: 5, onEvent: rec.onEvent }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof ParallelGroupError);
  assert.deepEqual(aborted.toSorted(), [0, 1]);
  assert.deepEqual(rec.cancelled().toSorted(), ["mp_nested_item[0]", "mp_nested_item[1]"]);
});
