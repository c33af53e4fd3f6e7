import assert from "assert";
import { flow, parallel, Task, task, type TaskContext } from "../../mod.ts";
import { getTask, retryDelay } from "../../src/graph/task.ts";

// Task names are process-global: everything in this file starts with "grt_".

Deno.test("task() returns a registered Task with name, options, module and invoke", async () => {
  const double = task("grt_double", (n: number) => n * 2, { retries: 2, timeoutMs: 500 });
  assert.ok(double instanceof Task);
  assert.equal(double.name, "grt_double");
  assert.equal(double.handler, "direct");
  assert.equal(double.maxCycles, 100);
  assert.deepEqual(double.options, { retries: 2, timeoutMs: 500 });
  assert.ok(Object.isFrozen(double.options));
  assert.equal(double.module, import.meta.url, "the defining module is found from the stack");
  assert.equal(await double.invoke(21, {} as TaskContext), 42);
  assert.equal(getTask("grt_double"), double);
});

Deno.test("task({ module }) overrides the recorded module URL", () => {
  const t = task("grt_moduled", () => 1, { module: "file:///elsewhere/tasks.ts" });
  assert.equal(t.module, "file:///elsewhere/tasks.ts");
});

Deno.test("retries normalise to a RetryPolicy with the documented defaults", () => {
  assert.deepEqual(task("grt_r0", () => 0).retry, {
    maxRetries: 0,
    initialDelayMs: 1000,
    factor: 2,
    maxDelayMs: 60000,
    jitter: false,
  });
  assert.equal(task("grt_r3", () => 0, { retries: 3 }).retry.maxRetries, 3);
  assert.deepEqual(
    task("grt_rp", () => 0, { retries: { maxRetries: 1, factor: 3, jitter: true } }).retry,
    { maxRetries: 1, initialDelayMs: 1000, factor: 3, maxDelayMs: 60000, jitter: true },
  );
});

Deno.test("retryDelay is min(initial * factor ** k, max), times 0.5–1.5 with jitter", () => {
  const policy = {
    maxRetries: 9,
    initialDelayMs: 1000,
    factor: 2,
    maxDelayMs: 5000,
    jitter: false,
  };
  assert.deepEqual([0, 1, 2, 3, 4].map((k) => retryDelay(policy, k)), [
    1000,
    2000,
    4000,
    5000,
    5000,
  ]);
  const jittered = { ...policy, jitter: true };
  assert.equal(retryDelay(jittered, 0, () => 0), 500);
  assert.equal(retryDelay(jittered, 0, () => 0.999), 1499);
  assert.equal(retryDelay(jittered, 3, () => 0.5), 5000);
});

Deno.test("the same function registered again under its name is the same task", () => {
  const fn = (x: number) => x;
  const first = task("grt_same", fn);
  assert.equal(task("grt_same", fn), first);
});

Deno.test("typed tasks are Tasks: parallel() and ctx.next() accept them", async () => {
  // This test is mostly checked by the compiler: a Task<number, number> must be assignable to
  // Task, or parallel([...]) and ctx.next(...) cannot take a user's typed task.
  const inc = task("grt_inc", (x: number) => x + 1);
  const len = task("grt_len", (s: string) => s.length);
  const asTask: Task = inc;
  const group = parallel([inc, task("grt_inc2", (x: number) => x + 2)]);
  task("grt_router", (x: number, ctx: TaskContext) => {
    ctx.next(inc, x);
    return x;
  });
  const result = await flow`grt_router`.run({ input: 1 });
  assert.equal(result.results["grt_inc"], 2);
  assert.ok(asTask === inc && group.members.length === 2 && len.name === "grt_len");
});
