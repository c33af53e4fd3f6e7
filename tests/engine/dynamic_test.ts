import assert from "assert";
import {
  CycleLimitExceededError,
  flow,
  task,
  type TaskContext,
  TaskFailedError,
  WorkflowCanceledError,
  WorkflowError,
} from "../../mod.ts";

// Task names are process-global: everything in this file starts with "engd_".
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const echo = (name: string) => task(name, (input: unknown) => ({ [name]: input }));
echo("engd_after");
const added = echo("engd_added");
const target = echo("engd_target");

Deno.test("ctx.next(newTask) runs it after the caller with the caller's result; successors still run", async () => {
  task("engd_n1", (x: number, ctx: TaskContext) => {
    ctx.next(added);
    return x + 1;
  });
  const result = await flow`engd_n1 >> engd_after`.run({ input: 1 });
  assert.deepEqual(result.results["engd_added"], { engd_added: 2 });
  assert.deepEqual(result.results["engd_after"], { engd_after: 2 });
  assert.deepEqual([...result.completed].sort(), ["engd_added", "engd_after", "engd_n1"]);
  assert.equal(result.completed[0], "engd_n1");
  assert.equal(result.steps, 3);
});

Deno.test("ctx.next(task, input) passes that input, even an explicit undefined", async () => {
  const inputs: unknown[] = [];
  const probe = task("engd_probe", (input: unknown) => {
    inputs.push(input);
  });
  task("engd_n2", (_: unknown, ctx: TaskContext) => {
    ctx.next(probe, { given: true });
    return "result";
  });
  task("engd_n3", (_: unknown, ctx: TaskContext) => {
    ctx.next(probe, undefined);
    return "result";
  });
  await flow`engd_n2`.run();
  await flow`engd_n3`.run();
  assert.deepEqual(inputs, [{ given: true }, undefined]);
});

Deno.test("ctx.next(existing node) jumps there and skips the caller's successors", async () => {
  let skipped = false;
  task("engd_skipped", () => (skipped = true));
  task("engd_jump", (x: number, ctx: TaskContext) => {
    ctx.next(target, x * 10);
    return x;
  });
  const result = await flow`engd_jump >> engd_skipped\nengd_target`.run({
    input: 2,
    start: "engd_jump",
  });
  assert.equal(skipped, false);
  assert.deepEqual(result.results["engd_target"], { engd_target: 20 });
  assert.deepEqual(result.completed, ["engd_jump", "engd_target"]);
});

Deno.test("a goto to an earlier node of the flow re-runs from there", async () => {
  const visits: string[] = [];
  const a = task("engd_g_a", (x: number) => {
    visits.push("a");
    return x + 1;
  });
  task("engd_g_b", (x: number, ctx: TaskContext) => {
    visits.push("b");
    if (x < 3) ctx.next(a, x);
    return x;
  });
  task("engd_g_c", (x: number) => `c${x}`);
  const result = await flow`engd_g_a >> engd_g_b >> engd_g_c`.run({ input: 0 });
  assert.deepEqual(visits, ["a", "b", "a", "b", "a", "b"]);
  assert.equal(result.output, "c3");
  assert.equal(result.completed.filter((x) => x === "engd_g_c").length, 1);
  const edges = result.graph.edges();
  assert.ok(
    edges.some((e) =>
      e.from === "engd_g_b" && e.to === "engd_g_a" && e.kind === "goto" && e.count === 2
    ),
  );
});

Deno.test("ctx.next with a different task under an existing name fails the task", async () => {
  task("engd_dup_b", (_: unknown, ctx: TaskContext) => {
    ctx.next(task("engd_dup_b", () => "impostor"));
  });
  await assert.rejects(flow`engd_dup_b`.run(), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof TypeError);
    assert.match(error.cause.message, /a different task with this name already exists/);
    return true;
  });
});

Deno.test("ctx.next(task, input, { goto: true }) adds the task and skips successors", async () => {
  let skipped = false;
  task("engd_skipped2", () => (skipped = true));
  task("engd_goto", (_: unknown, ctx: TaskContext) => {
    ctx.next(added, "jumped", { goto: true });
    return "x";
  });
  const result = await flow`engd_goto >> engd_skipped2`.run();
  assert.equal(skipped, false);
  assert.deepEqual(result.output, { engd_added: "jumped" });
  assert.deepEqual(result.completed, ["engd_goto", "engd_added"]);
});

Deno.test("dynamic tasks may add tasks and iterate themselves", async () => {
  const second = task("engd_dyn2", (x: number, ctx: TaskContext) => {
    if (x < 3) ctx.nextIteration(x + 1);
    return x;
  });
  const first = task("engd_dyn1", (x: number, ctx: TaskContext) => {
    ctx.next(second, x + 1);
    return x;
  });
  task("engd_dyn0", (_: unknown, ctx: TaskContext) => {
    ctx.next(first, 0);
  });
  const result = await flow`engd_dyn0`.run();
  assert.deepEqual(result.completed, [
    "engd_dyn0",
    "engd_dyn1",
    "engd_dyn2",
    "engd_dyn2",
    "engd_dyn2",
  ]);
  assert.equal(result.output, 3);
  assert.deepEqual(result.graph.counts()["engd_dyn2"], 3);
});

Deno.test("the same dynamic task added twice is one node that runs twice", async () => {
  const shared = task("engd_shared", (x: number) => x);
  task("engd_two_a", (_: unknown, ctx: TaskContext) => ctx.next(shared, 1));
  task("engd_two_b", (_: unknown, ctx: TaskContext) => ctx.next(shared, 2));
  const result = await flow`engd_two_a | engd_two_b`.run();
  assert.equal(result.completed.filter((x) => x === "engd_shared").length, 2);
  assert.equal(result.graph.counts()["engd_shared"], 2);
});

Deno.test("ctx.next with something that is not a Task fails the task with a TypeError", async () => {
  task("engd_bad_next", (_: unknown, ctx: TaskContext) => {
    ctx.next("engd_after" as never);
  });
  await assert.rejects(flow`engd_bad_next`.run(), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof TypeError);
    assert.match(
      error.cause.message,
      /Cannot call next\(\) from task "engd_bad_next": expected a Task/,
    );
    return true;
  });
});

Deno.test("ctx.nextIteration: successors run once, after the last iteration, with its result", async () => {
  const cycles: number[] = [];
  const afterInputs: unknown[] = [];
  task("engd_machine", (state: string, ctx: TaskContext) => {
    cycles.push(ctx.cycle);
    const next = { NEW: "VALIDATED", VALIDATED: "PAID", PAID: "SHIPPED" }[state];
    if (next) ctx.nextIteration(next);
    return state;
  });
  task("engd_machine_after", (input: unknown) => afterInputs.push(input));
  const result = await flow`engd_machine >> engd_machine_after`.run({ input: "NEW" });
  assert.deepEqual(cycles, [1, 2, 3, 4]);
  assert.deepEqual(afterInputs, ["SHIPPED"]);
  assert.equal(result.results["engd_machine"], "SHIPPED");
  assert.equal(result.steps, 5);
  assert.deepEqual(result.graph.counts()["engd_machine"], 4);
});

Deno.test("ctx.nextIteration() without input passes this execution's result", async () => {
  const inputs: unknown[] = [];
  task("engd_iter_self", (x: number, ctx: TaskContext) => {
    inputs.push(x);
    if (x < 8) ctx.nextIteration();
    return x * 2;
  });
  const result = await flow`engd_iter_self`.run({ input: 1 });
  assert.deepEqual(inputs, [1, 2, 4, 8]);
  assert.equal(result.output, 16);
});

Deno.test("iterations count against maxCycles", async () => {
  let runs = 0;
  task("engd_iter_forever", (_: unknown, ctx: TaskContext) => {
    runs++;
    ctx.nextIteration();
  }, { maxCycles: 7 });
  await assert.rejects(flow`engd_iter_forever`.run(), (error: unknown) => {
    assert.ok(error instanceof CycleLimitExceededError);
    assert.equal(error.taskId, "engd_iter_forever");
    assert.equal(error.limit, 7);
    return true;
  });
  assert.equal(runs, 7);
});

Deno.test("a join waits for the last iteration of an iterating predecessor", async () => {
  const joins: unknown[] = [];
  task("engd_ji_loop", (x: number, ctx: TaskContext) => {
    if (x < 3) ctx.nextIteration(x + 1);
    return x;
  });
  task("engd_ji_other", async () => {
    await delay(5);
    return "other";
  });
  task("engd_ji_join", (input: unknown) => joins.push(input));
  await flow`engd_ji_loop >> engd_ji_join\nengd_ji_other >> engd_ji_join`.run({ input: 0 });
  assert.deepEqual(joins, [{ engd_ji_loop: 3, engd_ji_other: "other" }]);
});

Deno.test("a group waits for the last iteration of an iterating member", async () => {
  task("engd_gi_loop", async (x: number, ctx: TaskContext) => {
    await delay(2);
    if (x < 4) ctx.nextIteration(x + 1);
    return x;
  });
  task("engd_gi_fast", () => "fast");
  task("engd_gi_after", (input: unknown) => input);
  const result = await flow`(engd_gi_loop | engd_gi_fast) >> engd_gi_after`.run({ input: 0 });
  assert.deepEqual(result.output, { engd_gi_loop: 4, engd_gi_fast: "fast" });
  assert.equal(result.completed.filter((x) => x === "engd_gi_after").length, 1);
});

Deno.test("ctx.terminate finishes the run as terminated; nothing else runs", async () => {
  let ran = false;
  task("engd_term_next", () => (ran = true));
  task("engd_term", (_: unknown, ctx: TaskContext) => {
    ctx.terminate("enough");
    return "final";
  });
  const result = await flow`engd_term >> engd_term_next`.run();
  assert.equal(result.status, "terminated");
  assert.equal(result.output, "final");
  assert.deepEqual(result.completed, ["engd_term"]);
  assert.equal(ran, false);
});

Deno.test("ctx.terminate in a group member aborts the running siblings' signals", async () => {
  let siblingAborted = false;
  task("engd_tg_stop", async (_: unknown, ctx: TaskContext) => {
    await delay(5);
    ctx.terminate();
    return "stop";
  });
  task("engd_tg_slow", async (_: unknown, ctx: TaskContext) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      ctx.signal.addEventListener("abort", () => {
        siblingAborted = true;
        clearTimeout(timer);
        resolve();
      });
    });
    return "slow";
  });
  let ran = false;
  task("engd_tg_after", () => (ran = true));
  const started = performance.now();
  const result = await flow`(engd_tg_stop | engd_tg_slow) >> engd_tg_after`.run();
  assert.equal(result.status, "terminated");
  assert.ok(siblingAborted, "the sibling's signal was aborted");
  assert.equal(ran, false);
  assert.ok(performance.now() - started < 1_000, "the run did not wait for the slow sibling");
});

Deno.test("ctx.cancel fails the run with WorkflowCanceledError naming the task", async () => {
  let ran = false;
  task("engd_cancel_next", () => (ran = true));
  task("engd_cancel", (_: unknown, ctx: TaskContext) => {
    ctx.cancel("user asked");
    return "ignored";
  });
  await assert.rejects(flow`engd_cancel >> engd_cancel_next`.run(), (error: unknown) => {
    assert.ok(error instanceof WorkflowCanceledError);
    assert.ok(error instanceof WorkflowError);
    assert.equal(error.code, "CANCELED");
    assert.equal(error.taskId, "engd_cancel");
    assert.equal(error.reason, "user asked");
    assert.equal(error.message, 'Workflow canceled by task "engd_cancel": user asked');
    return true;
  });
  assert.equal(ran, false);
});

Deno.test("priority: cancel wins over terminate, goto, iteration and normal successors", async () => {
  const ran: string[] = [];
  const mark = (name: string) => task(name, () => ran.push(name));
  const other = mark("engd_p1_other");
  mark("engd_p1_succ");
  task("engd_p1", (_: unknown, ctx: TaskContext) => {
    ctx.terminate();
    ctx.next(other, undefined, { goto: true });
    ctx.nextIteration();
    ctx.cancel("last call wins nothing: cancel always wins");
  });
  await assert.rejects(flow`engd_p1 >> engd_p1_succ`.run(), WorkflowCanceledError);
  assert.deepEqual(ran, []);
});

Deno.test("priority: terminate wins over goto, iteration and normal successors", async () => {
  const ran: string[] = [];
  const other = task("engd_p2_other", () => ran.push("other"));
  task("engd_p2_succ", () => ran.push("succ"));
  let runs = 0;
  task("engd_p2", (_: unknown, ctx: TaskContext) => {
    runs++;
    ctx.next(other, undefined, { goto: true });
    ctx.nextIteration();
    ctx.terminate();
    return "t";
  });
  const result = await flow`engd_p2 >> engd_p2_succ`.run();
  assert.equal(result.status, "terminated");
  assert.equal(runs, 1);
  assert.deepEqual(ran, []);
});

Deno.test("priority: goto wins over normal successors", async () => {
  const ran: string[] = [];
  const other = task("engd_p3_other", () => ran.push("other"));
  task("engd_p3_succ", () => ran.push("succ"));
  task("engd_p3", (_: unknown, ctx: TaskContext) => {
    ctx.next(other, undefined, { goto: true });
  });
  const result = await flow`engd_p3 >> engd_p3_succ`.run();
  assert.equal(result.status, "completed");
  assert.deepEqual(ran, ["other"]);
});

Deno.test("what a failed attempt asked for is discarded", async () => {
  const ran: string[] = [];
  const side = task("engd_disc_side", () => ran.push("side"));
  task("engd_disc", (_: unknown, ctx: TaskContext) => {
    if (ctx.attempt === 1) {
      ctx.next(side);
      ctx.terminate();
      throw new Error("first attempt fails");
    }
    return "second";
  }, { retries: { maxRetries: 1, initialDelayMs: 0 } });
  task("engd_disc_succ", () => ran.push("succ"));
  const result = await flow`engd_disc >> engd_disc_succ`.run();
  assert.equal(result.status, "completed");
  assert.deepEqual(ran, ["succ"]);
});

Deno.test("a task that cancels and then throws fails with its error, not a cancel", async () => {
  task("engd_cancel_throw", (_: unknown, ctx: TaskContext) => {
    ctx.cancel();
    throw new RangeError("boom");
  });
  await assert.rejects(flow`engd_cancel_throw`.run(), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof RangeError);
    return true;
  });
});
