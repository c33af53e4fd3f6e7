import assert from "assert";
import {
  flow,
  RetryLimitExceededError,
  task,
  type TaskContext,
  TaskFailedError,
  TaskTimeoutError,
  type WorkflowEvent,
} from "../../mod.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";

// Task names are process-global: everything in this file starts with "engr_".

/** A fake clock that jumps over every delay and records it. */
function recordingClock() {
  const clock = new FakeClock({ autoAdvance: true });
  return { delays: clock.delays, clock };
}

/** A task body that fails until attempt `okAt`. */
function flaky(okAt: number, attempts: number[]) {
  return (_: unknown, ctx: TaskContext) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt < okAt) throw new Error(`attempt ${ctx.attempt} failed`);
    return `ok at ${ctx.attempt}`;
  };
}

/** Resolves when `signal` aborts (with its reason), or after `ms`. */
function waitForAbort(signal: AbortSignal, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("not aborted"), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(signal.reason);
    }, { once: true });
  });
}

Deno.test("retries: 3 waits 1000, 2000, 4000 ms and succeeds on the 4th attempt", async () => {
  const attempts: number[] = [];
  task("engr_three", flaky(4, attempts), { retries: 3 });
  const { delays, clock } = recordingClock();
  const events: WorkflowEvent[] = [];
  const result = await flow`engr_three`.run({ clock, onEvent: (e) => events.push(e) });
  assert.equal(result.output, "ok at 4");
  assert.deepEqual(attempts, [1, 2, 3, 4]);
  assert.deepEqual(delays, [1000, 2000, 4000]);
  assert.equal(result.steps, 1, "retries are attempts of one execution");
  const retried = events.filter((e) => e.type === "task.retried");
  assert.deepEqual(retried.map((e) => e.type === "task.retried" && [e.attempt, e.delayMs]), [
    [1, 1000],
    [2, 2000],
    [3, 4000],
  ]);
});

Deno.test("RetryPolicy: factor and maxDelayMs shape the delays", async () => {
  const attempts: number[] = [];
  task("engr_policy", flaky(6, attempts), {
    retries: { maxRetries: 5, initialDelayMs: 100, factor: 3, maxDelayMs: 1000 },
  });
  const { delays, clock } = recordingClock();
  await flow`engr_policy`.run({ clock });
  assert.deepEqual(delays, [100, 300, 900, 1000, 1000]);
});

Deno.test("RetryPolicy with factor 1 waits the same delay every time", async () => {
  task("engr_flat", flaky(4, []), { retries: { maxRetries: 3, initialDelayMs: 7, factor: 1 } });
  const { delays, clock } = recordingClock();
  await flow`engr_flat`.run({ clock });
  assert.deepEqual(delays, [7, 7, 7]);
});

Deno.test("RetryPolicy jitter keeps every delay within 0.5–1.5× of the base", async () => {
  task("engr_jitter", flaky(41, []), {
    retries: { maxRetries: 40, initialDelayMs: 100, factor: 2, maxDelayMs: 800, jitter: true },
  });
  const { delays, clock } = recordingClock();
  await flow`engr_jitter`.run({ clock });
  assert.equal(delays.length, 40);
  delays.forEach((d, k) => {
    const base = Math.min(100 * 2 ** k, 800);
    assert.ok(d >= 0.5 * base && d < 1.5 * base, `delay ${k} = ${d}, base ${base}`);
  });
  assert.ok(new Set(delays.slice(3)).size > 1, "jitter varies the delays");
});

Deno.test("RetryLimitExceededError after maxRetries + 1 attempts, with the last error as cause", async () => {
  const attempts: number[] = [];
  task("engr_always", flaky(Infinity, attempts), { retries: 2 });
  const { clock } = recordingClock();
  await assert.rejects(flow`engr_always`.run({ clock }), (error: unknown) => {
    assert.ok(error instanceof RetryLimitExceededError);
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.code, "RETRY_LIMIT_EXCEEDED");
    assert.equal(error.taskId, "engr_always");
    assert.equal(error.attempts, 3);
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.message, "attempt 3 failed");
    assert.equal(error.message, 'Task "engr_always" failed after 3 attempts: attempt 3 failed');
    return true;
  });
  assert.deepEqual(attempts, [1, 2, 3]);
});

Deno.test("without retries a failure is a TaskFailedError with the thrown error as cause", async () => {
  const thrown = new SyntaxError("bad row");
  task("engr_once", () => {
    throw thrown;
  });
  const { delays, clock } = recordingClock();
  await assert.rejects(flow`engr_once`.run({ clock }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(!(error instanceof RetryLimitExceededError));
    assert.equal(error.code, "TASK_FAILED");
    assert.equal(error.taskId, "engr_once");
    assert.equal(error.cause, thrown);
    assert.equal(error.message, 'Task "engr_once" failed: bad row');
    return true;
  });
  assert.deepEqual(delays, []);
});

Deno.test("the default sleep really waits between retries", async () => {
  task("engr_real_sleep", flaky(3, []), {
    retries: { maxRetries: 2, initialDelayMs: 20, factor: 2 },
  });
  const started = performance.now();
  await flow`engr_real_sleep`.run();
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 55, `waited 20 + 40 ms, took ${elapsed}`);
});

Deno.test("a bad retry option is a RangeError when the task is defined", () => {
  for (
    const retries of [-1, 1.5, NaN, { maxRetries: 1, factor: -1 }, {
      maxRetries: 1,
      initialDelayMs: Infinity,
    }]
  ) {
    assert.throws(
      () => task(`engr_bad_${Math.random().toString(36).slice(2)}`, () => 0, { retries }),
      RangeError,
      JSON.stringify(retries),
    );
  }
});

Deno.test("timeoutMs aborts ctx.signal and fails the attempt with TaskTimeoutError", async () => {
  let reason: unknown;
  const started = Promise.withResolvers<void>();
  task("engr_slow", async (_: unknown, ctx: TaskContext) => {
    started.resolve();
    reason = await waitForAbort(ctx.signal, 60_000);
    return "late";
  }, { timeoutMs: 30 });
  const clock = new FakeClock();
  const run = flow`engr_slow`.run({ clock });
  await started.promise;
  await clock.advance(29);
  assert.equal(reason, undefined, "a timer never fires early");
  await clock.advance(1);
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.taskId, "engr_slow");
    assert.ok(error.cause instanceof TaskTimeoutError);
    assert.equal(error.cause.code, "TASK_TIMEOUT");
    assert.equal(error.cause.timeoutMs, 30);
    assert.equal(error.cause.message, 'Task "engr_slow" timed out: no result after 30 ms');
    return true;
  });
  assert.ok(reason instanceof TaskTimeoutError, "the task saw its signal abort");
});

Deno.test("an in-process task that runs synchronous code past its timeout timed out, whatever it returns", async () => {
  task("engr_busy", () => {
    const until = Date.now() + 60;
    while (Date.now() < until) { /* cannot be pre-empted */ }
    return "a success that came too late";
  }, { timeoutMs: 20 });
  await assert.rejects(flow`engr_busy`.run(), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof TaskTimeoutError, String(error.cause));
    return true;
  });
});

Deno.test("a timed-out attempt is retried with a fresh signal", async () => {
  const signals: AbortSignal[] = [];
  task("engr_slow_then_fast", async (_: unknown, ctx: TaskContext) => {
    signals.push(ctx.signal);
    if (ctx.attempt === 1) await waitForAbort(ctx.signal, 2_000);
    return `attempt ${ctx.attempt}`;
  }, { timeoutMs: 30, retries: { maxRetries: 1, initialDelayMs: 0 } });
  const result = await flow`engr_slow_then_fast`.run();
  assert.equal(result.output, "attempt 2");
  assert.equal(signals[0].aborted, true);
  assert.equal(signals[1].aborted, false);
});

Deno.test("a result that arrives after the timeout is ignored", async () => {
  let finished = false;
  task("engr_ignores_signal", async () => {
    await new Promise((resolve) => setTimeout(resolve, 80));
    finished = true;
    return "too late";
  }, { timeoutMs: 20 });
  await assert.rejects(flow`engr_ignores_signal`.run(), (error: unknown) => {
    return error instanceof TaskFailedError && error.cause instanceof TaskTimeoutError;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(finished, true, "the task body finished on its own, without effect");
});

Deno.test("run({ signal }) cancels the run and aborts every running task's signal", async () => {
  const seen: unknown[] = [];
  const body = async (_: unknown, ctx: TaskContext) => {
    seen.push(await waitForAbort(ctx.signal, 2_000));
    return "done";
  };
  task("engr_sig_a", body);
  task("engr_sig_b", body);
  task("engr_sig_c", body);
  let ran = false;
  task("engr_sig_after", () => (ran = true));
  const controller = new AbortController();
  const reason = new Error("stop now");
  const run = flow`(engr_sig_a | engr_sig_b | engr_sig_c) >> engr_sig_after`.run({
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(run, (error: unknown) => error === reason);
  assert.deepEqual(seen, [reason, reason, reason]);
  assert.equal(ran, false);
});

Deno.test("run({ signal }) rejects at once even when a task ignores its signal", async () => {
  let finishLate!: () => void;
  const late = new Promise<void>((resolve) => (finishLate = resolve));
  let afterRan = false;
  task("engr_deaf", async () => {
    await late; // ignores ctx.signal
    return "late";
  });
  task("engr_deaf_after", () => (afterRan = true));
  const controller = new AbortController();
  const reason = new Error("give up");
  const run = flow`engr_deaf >> engr_deaf_after`.run({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 10);
  const started = performance.now();
  await assert.rejects(run, (error: unknown) => error === reason);
  assert.ok(performance.now() - started < 1_000, "the run waited for the deaf task");
  finishLate();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(afterRan, false, "a successor ran after the run was aborted");
});

Deno.test("an already aborted signal rejects the run before any task starts", async () => {
  let ran = false;
  task("engr_never", () => (ran = true));
  const reason = new Error("aborted before start");
  await assert.rejects(
    flow`engr_never`.run({ signal: AbortSignal.abort(reason) }),
    (error: unknown) => error === reason,
  );
  assert.equal(ran, false);
});

Deno.test("aborting during a retry delay rejects the run promptly", async () => {
  let attempts = 0;
  task("engr_abort_in_sleep", () => {
    attempts++;
    throw new Error("fail");
  }, { retries: { maxRetries: 3, initialDelayMs: 60_000 } });
  const controller = new AbortController();
  const run = flow`engr_abort_in_sleep`.run({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error("cancelled")), 20);
  const started = performance.now();
  await assert.rejects(run, /cancelled/);
  assert.ok(performance.now() - started < 1_000);
  assert.equal(attempts, 1);
});

Deno.test("flow.start().abort() cancels the run like a signal", async () => {
  let reason: unknown;
  task("engr_handle", async (_: unknown, ctx: TaskContext) => {
    reason = await waitForAbort(ctx.signal, 2_000);
  });
  const handle = flow`engr_handle`.start({ runId: "engr-handle" });
  assert.equal(handle.runId, "engr-handle");
  setTimeout(() => handle.abort(new Error("by handle")), 20);
  await assert.rejects(handle.result, /by handle/);
  assert.match(String(reason), /by handle/);
});

Deno.test("await using a started run aborts it when the scope ends", async () => {
  let aborted = false;
  task("engr_disposed", async (_: unknown, ctx: TaskContext) => {
    await waitForAbort(ctx.signal, 2_000);
    aborted = ctx.signal.aborted;
  });
  {
    await using run = flow`engr_disposed`.start();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(run.runId);
  }
  assert.equal(aborted, true);
});
