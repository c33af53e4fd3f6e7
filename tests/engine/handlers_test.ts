import assert from "assert";
import {
  directHandler,
  flow,
  parallel,
  type Task,
  task,
  type TaskContext,
  TaskFailedError,
  type TaskHandler,
  WorkflowError,
  type WorkflowEvent,
} from "../../mod.ts";

// Task names are process-global: everything in this file starts with "engh_".

/** A handler that records what it ran and delegates to the direct handler. */
function recording(tag: string) {
  const calls: { task: string; input: unknown; ctxTask: string }[] = [];
  const handler: TaskHandler = {
    async execute(t: Task, input: unknown, ctx: TaskContext) {
      calls.push({ task: t.name, input, ctxTask: ctx.taskId });
      return { [tag]: await t.invoke(input, ctx) };
    },
  };
  return { calls, handler };
}

Deno.test("a task with { handler } runs through the handler given to run({ handlers })", async () => {
  const { calls, handler } = recording("remote");
  task("engh_local", (x: number) => x + 1);
  task("engh_remote", (x: number) => x * 10, { handler: "remote" });
  const result = await flow`engh_local >> engh_remote`.run({
    input: 1,
    handlers: { remote: handler },
  });
  assert.deepEqual(calls, [{ task: "engh_remote", input: 2, ctxTask: "engh_remote" }]);
  assert.deepEqual(result.output, { remote: 20 });
});

Deno.test('"direct" is built in and calls the task function in-process', async () => {
  const t = task("engh_direct", (x: number, ctx: TaskContext) => `${ctx.taskId}:${x}`);
  assert.equal(
    await directHandler.execute(t, 3, { taskId: "engh_direct" } as TaskContext),
    "engh_direct:3",
  );
  task("engh_explicit_direct", (x: number) => x, { handler: "direct" });
  assert.equal((await flow`engh_explicit_direct`.run({ input: 5 })).output, 5);
});

Deno.test("run({ handlers: { direct } }) replaces the built-in direct handler", async () => {
  const { calls, handler } = recording("wrapped");
  task("engh_wrapped", () => "inner");
  const result = await flow`engh_wrapped`.run({ handlers: { direct: handler } });
  assert.deepEqual(result.output, { wrapped: "inner" });
  assert.equal(calls.length, 1);
});

Deno.test("an unknown handler fails the run before any task starts (HANDLER_NOT_FOUND)", async () => {
  let ran = false;
  task("engh_first", () => (ran = true));
  task("engh_gpu", () => "gpu", { handler: "gpu" });
  const events: WorkflowEvent[] = [];
  await assert.rejects(
    flow`engh_first >> engh_gpu`.run({ onEvent: (e) => events.push(e) }),
    (error: unknown) => {
      assert.ok(error instanceof WorkflowError);
      assert.equal(error.code, "HANDLER_NOT_FOUND");
      assert.match(
        error.message,
        /^Cannot run task "engh_gpu": handler "gpu" is not registered \(known: "direct"/,
      );
      return true;
    },
  );
  assert.equal(ran, false);
  assert.ok(!events.some((e) => e.type === "task.started"));
});

Deno.test("an unknown handler inside a group fails the run before any task starts", async () => {
  let ran = false;
  task("engh_g_ok", () => (ran = true));
  task("engh_g_bad", () => 0, { handler: "nowhere" });
  await assert.rejects(
    flow`engh_g_ok >> (engh_g_ok2 | engh_g_bad)`.run(),
    { code: "HANDLER_NOT_FOUND", message: /handler "nowhere" is not registered/ },
  );
  assert.equal(ran, false);
});
task("engh_g_ok2", () => 0);

Deno.test('a group executor "redis" without a backend fails before any task starts', async () => {
  let ran = false;
  const t = task("engh_redis_member", () => (ran = true));
  await assert.rejects(
    flow`${parallel([t], { executor: "redis" })}`.run(),
    {
      code: "HANDLER_NOT_FOUND",
      message: /handler "redis" is not registered .*pass run\(\{ backend: redisBackend/,
    },
  );
  assert.equal(ran, false);
});

Deno.test("a dynamic task with an unknown handler fails the run when it is added", async () => {
  const missing = task("engh_dyn_missing", () => 0, { handler: "absent" });
  let after = false;
  task("engh_dyn_after", () => (after = true));
  task("engh_dyn_adder", (_: unknown, ctx: TaskContext) => ctx.next(missing));
  await assert.rejects(flow`engh_dyn_adder >> engh_dyn_after`.run(), {
    code: "HANDLER_NOT_FOUND",
    message: /Cannot run task "engh_dyn_missing": handler "absent" is not registered/,
  });
  assert.equal(after, false);
});

Deno.test("a handler without execute() is a TypeError", async () => {
  task("engh_any", () => 0);
  await assert.rejects(
    flow`engh_any`.run({ handlers: { broken: {} as TaskHandler } }),
    { name: "TypeError", message: /handler "broken" has no execute\(\) method/ },
  );
});

Deno.test("a handler that throws synchronously fails the task like the task would", async () => {
  task("engh_sync_throw", () => 0, { handler: "sync" });
  const sync: TaskHandler = {
    execute() {
      throw new RangeError("handler exploded");
    },
  };
  await assert.rejects(flow`engh_sync_throw`.run({ handlers: { sync } }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof RangeError);
    assert.equal(error.taskId, "engh_sync_throw");
    return true;
  });
});

Deno.test("a handler's rejection is retried like a task failure", async () => {
  let calls = 0;
  const flaky: TaskHandler = {
    async execute(t, input, ctx) {
      if (++calls < 3) throw new Error("transport down");
      return await t.invoke(input, ctx);
    },
  };
  task("engh_retry", () => "delivered", {
    handler: "flaky",
    retries: { maxRetries: 2, initialDelayMs: 0 },
  });
  const result = await flow`engh_retry`.run({ handlers: { flaky } });
  assert.equal(result.output, "delivered");
  assert.equal(calls, 3);
});

Deno.test("a handler sees ctx directives: next and terminate through the handler apply", async () => {
  const passthrough: TaskHandler = {
    execute: (t, input, ctx) => Promise.resolve(t.invoke(input, ctx)),
  };
  const extra = task("engh_extra", (x: unknown) => x);
  task("engh_directive", (_: unknown, ctx: TaskContext) => {
    ctx.next(extra, "from handler");
    ctx.terminate();
    return "done";
  }, { handler: "pass" });
  const result = await flow`engh_directive`.run({ handlers: { pass: passthrough } });
  assert.equal(result.status, "terminated");
  assert.ok(!("engh_extra" in result.results), "terminate wins over next");
});
