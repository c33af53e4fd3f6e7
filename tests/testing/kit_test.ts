/**
 * The test kit (`@graflow/graflow/testing`): task mocks by name, the fake clock driving every
 * timer of a run, crash injection and resume in one process, and path assertions.
 *
 * @module
 */
import assert from "assert";
import {
  flow,
  NonRetryableError,
  resume,
  SimulatedCrash,
  task,
  type TaskContext,
  TaskFailedError,
  TaskTimeoutError,
} from "../../mod.ts";
import {
  crashAfter,
  FakeClock,
  PathAssertionError,
  resumeAfterCrash,
  RunRecorder,
  TaskMocks,
} from "../../src/testing/mod.ts";
import { pipeline } from "../checkpoint/fixtures/pipeline.ts";

// Task names are process-global: everything in this file starts with "kit_".
const fetchIt = task("kit_fetch", () => {
  throw new Error("the real fetch must not run in tests");
}, { handler: "nowhere" });
const double = task("kit_double", (xs: number[]) => xs.map((x) => x * 2));
const sum = task("kit_sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
const etl = flow`${fetchIt} >> ${double} >> ${sum}`;

Deno.test("TaskMocks replaces tasks by name for one run, whatever their handler", async () => {
  const mocks = new TaskMocks({ kit_fetch: [1, 2, 3] });
  const r = await etl.run({ taskHandlers: mocks.handlers, input: "in" });
  assert.equal(r.output, 12);
  assert.deepEqual(mocks.calls("kit_fetch"), [{ input: "in", attempt: 1, cycle: 1 }]);
  // Without the mock, the task's handler "nowhere" is missing: the run fails before starting.
  const error = await etl.run().then(() => undefined, (e) => e);
  assert.equal(error.code, "HANDLER_NOT_FOUND");
});

Deno.test("a mock function gets input and ctx, may throw, and is retried like the task", async () => {
  const flaky = task("kit_flaky", () => 0, { retries: { maxRetries: 2, initialDelayMs: 30_000 } });
  const mocks = new TaskMocks({
    kit_flaky: (input: unknown, ctx: TaskContext) => {
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt}`);
      return `${input} on attempt ${ctx.attempt}`;
    },
  });
  const clock = new FakeClock({ autoAdvance: true });
  const r = await flow`${flaky}`.run({ input: "x", taskHandlers: mocks.handlers, clock });
  assert.equal(r.output, "x on attempt 3");
  assert.deepEqual(mocks.calls("kit_flaky").map((c) => c.attempt), [1, 2, 3]);
  assert.deepEqual(clock.delays, [30_000, 60_000], "both retry delays went through the clock");
});

Deno.test("TaskMocks refuses names that are no task (a typo would mock nothing)", () => {
  assert.throws(() => new TaskMocks({ kit_fetc: 1 }), {
    name: "TypeError",
    message:
      'Cannot mock task "kit_fetc": no task of this name is registered (did you mean "kit_fetch"?)',
  });
  assert.throws(() => new TaskMocks({ kit_double: 1 }).calls("kit_sum"), /it is not mocked here/);
});

Deno.test("the fake clock drives task timeouts", async () => {
  const hanging = task("kit_hang", async (_: unknown, ctx: TaskContext) => {
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
  }, { timeoutMs: 3_600_000 });
  const clock = new FakeClock();
  const run = flow`${hanging}`.run({ clock }).then(() => undefined, (e) => e);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(clock.delays, [3_600_000]);
  await clock.advance(3_599_999);
  await clock.advance(1);
  const error = await run;
  assert.ok(error instanceof TaskFailedError && error.cause instanceof TaskTimeoutError);
});

Deno.test("the fake clock drives feedback timeouts (a day passes at once)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ask = task("kit_ask", async (_: unknown, ctx: TaskContext) => {
      const answer = await ctx.requestFeedback({
        type: "approval",
        prompt: "Ship it?",
        timeoutMs: 86_400_000,
      });
      return answer.approved;
    });
    const clock = new FakeClock({ autoAdvance: true });
    const r = await flow`${ask}`.run({ clock, checkpointDir: dir });
    assert.equal(r.status, "waiting");
    assert.ok(clock.delays.includes(86_400_000));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crashAfter stops the run right after the outcome; resumeAfterCrash continues it", async () => {
  const mocks = new TaskMocks({ kit_fetch: [1, 2, 3] });
  const crash = await etl.run({
    taskHandlers: mocks.handlers,
    crashAfter: crashAfter("kit_double"),
  }).then(() => undefined, (e) => e);
  assert.ok(crash instanceof SimulatedCrash, String(crash));
  assert.equal(crash.code, "SIMULATED_CRASH");
  assert.deepEqual(crash.point, { taskId: "kit_double", ok: true });
  assert.deepEqual(crash.state.completed, ["kit_fetch", "kit_double"]);
  assert.deepEqual(crash.state.pending.map((p) => p.node), ["kit_sum"]);
  const rec = new RunRecorder();
  const r = await resumeAfterCrash(etl, crash, {
    taskHandlers: mocks.handlers,
    onEvent: rec.onEvent,
  });
  assert.equal(r.output, 12);
  rec.assertPath(["kit_sum"]);
  assert.equal(mocks.calls("kit_fetch").length, 1, "fetch did not run again");
});

Deno.test("crashAfter a failure, or the n-th outcome; bad arguments are refused", async () => {
  let calls = 0;
  const flaky = task("kit_crash_flaky", () => {
    if (++calls < 3) throw new Error("down");
    return calls;
  }, { retries: { maxRetries: 5, initialDelayMs: 1 } });
  const crash = await flow`${flaky}`.run({
    crashAfter: crashAfter("kit_crash_flaky", { outcome: "any" }),
  }).then(() => undefined, (e) => e);
  assert.ok(crash instanceof SimulatedCrash);
  assert.deepEqual(crash.point, { taskId: "kit_crash_flaky", ok: true }, "retries are no outcome");
  const failing = task("kit_crash_failing", () => {
    throw new NonRetryableError("no");
  });
  const c2 = await flow`${failing}`.run({
    crashAfter: crashAfter("kit_crash_failing", { outcome: "failed" }),
  }).then(() => undefined, (e) => e);
  assert.ok(c2 instanceof SimulatedCrash);
  assert.equal(
    c2.message,
    'Run "' + c2.state.runId + '" crashed (simulated) right after task "kit_crash_failing" failed',
  );
  assert.throws(() => crashAfter("x", { times: 0 }), RangeError);
  assert.throws(() => crashAfter("", {}), TypeError);
  assert.throws(() => crashAfter("x", { outcome: "maybe" as never }), TypeError);
  await assert.rejects(
    flow`${flaky}`.run({ crashAfter: "soon" as never }),
    { name: "TypeError", message: "Cannot run flow: crashAfter must be a function, got string" },
  );
});

Deno.test("crashing after every outcome of a pipeline resumes to the same result each time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = (effects: string) => ({
      effects,
      delayMs: 0,
      items: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    });
    const whole = await pipeline.run({ input: input(`${dir}/whole`), checkpointDir: dir });
    let k = 0;
    for (;; k++) {
      let seen = 0;
      const crash = await pipeline.run({
        input: input(`${dir}/e${k}`),
        checkpointDir: dir,
        crashAfter: () => ++seen === k + 1,
      }).then(() => undefined, (e) => e);
      if (!(crash instanceof SimulatedCrash)) break; // fewer outcomes than k + 1
      const r = await resumeAfterCrash(pipeline, crash, { checkpointDir: dir });
      assert.deepEqual(r.results, whole.results, `crash after outcome ${k + 1}`);
    }
    assert.ok(k > 10, `only ${k} crash points`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a crash leaves the checkpoints written before it; resume() continues from them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = { effects: `${dir}/effects`, delayMs: 0, items: [1, 2, 3] };
    const crash = await pipeline.run({
      input,
      checkpointDir: dir,
      crashAfter: crashAfter("cpf_train", { times: 3 }),
    }).then(() => undefined, (e) => e);
    assert.ok(crash instanceof SimulatedCrash);
    const last = crash.checkpoints.at(-1)!;
    assert.match(last, /step_\d+$/);
    const r = await resume(last);
    assert.equal((r.results.cpf_publish as { epochs: number }).epochs, 5);
    assert.equal(r.results.cpf_audit, "audited epoch 5");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RunRecorder: path, attempts, executions; failures say what differed", async () => {
  const loop = task("kit_loop", (n: number, ctx: TaskContext) => {
    if (ctx.cycle < n) ctx.nextIteration(n);
    return ctx.cycle;
  });
  const rec = new RunRecorder();
  await flow`${loop} >> ${sum}`.run({ input: 3, onEvent: rec.onEvent }).catch(() => {});
  assert.deepEqual(rec.path, ["kit_loop", "kit_loop", "kit_loop"]);
  rec.assertExecutions({ kit_loop: 3, kit_sum: 1 });
  assert.throws(() => rec.assertPath(["kit_loop", "kit_sum"]), {
    name: "PathAssertionError",
    message:
      'Expected the run to take path [kit_loop, kit_sum], it took [kit_loop, kit_loop, kit_loop]: they differ at step 2 (expected "kit_sum", got "kit_loop")',
  });
  assert.throws(
    () => rec.assertAttempts({ kit_loop: 1, kit_never: 0, kit_sum: 2 }),
    (e: unknown) =>
      e instanceof PathAssertionError &&
      e.message ===
        'Expected other attempts: "kit_loop": expected 1, got 3; "kit_sum": expected 2, got 1',
  );
});
