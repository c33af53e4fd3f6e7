/**
 * Timers that mean what they say: every duration a task, a feedback request or a handler is
 * given is honoured up to any finite value (timers past 2^31−1 ms are chained) or refused with a
 * `RangeError` when it is defined. (Long timeouts of the process pool and of containers:
 * `sandbox_process_test.ts` and `tests/docker`.)
 *
 * @module
 */
import assert from "assert";
import { flow, task, WorkerPool } from "../../mod.ts";
import { checkRequest } from "../../src/checkpoint/feedback_errors.ts";
import { dockerHandler } from "../../src/handlers/docker/mod.ts";
import { MAX_TIMER_MS, setLongTimer } from "../../src/time/clock.ts";

const BAD = [Infinity, -Infinity, NaN, -1, "5" as unknown as number];

Deno.test("task() refuses non-finite, negative or non-number timeoutMs and retry delays", () => {
  for (const value of [...BAD, 0]) {
    assert.throws(
      () => task("sec_timer_bad", () => 0, { timeoutMs: value }),
      (e: unknown) =>
        e instanceof RangeError && e.message.includes("timeoutMs must be a positive number"),
      `timeoutMs ${String(value)}`,
    );
  }
  for (const key of ["initialDelayMs", "maxDelayMs"] as const) {
    for (const value of BAD) {
      assert.throws(
        () => task("sec_timer_bad", () => 0, { retries: { maxRetries: 1, [key]: value } }),
        (e: unknown) => e instanceof RangeError && e.message.includes(`retries.${key} must be`),
        `${key} ${String(value)}`,
      );
    }
  }
  // Any finite value is accepted, however long.
  const long = task("sec_timer_long", () => 0, {
    timeoutMs: 3e9,
    retries: { maxRetries: 1, initialDelayMs: 1e12, maxDelayMs: 1e15 },
  });
  assert.equal(long.options.timeoutMs, 3e9);
});

Deno.test("feedback requests refuse non-finite or non-positive timeoutMs", () => {
  for (const value of [...BAD, 0]) {
    assert.throws(
      () => checkRequest({ type: "approval", prompt: "ok?", timeoutMs: value }, "t"),
      RangeError,
      String(value),
    );
  }
  checkRequest({ type: "approval", prompt: "ok?", timeoutMs: 3e9 }, "t");
});

Deno.test("dockerHandler refuses non-finite or non-positive timeoutMs and accepts 3e9", () => {
  for (const value of [...BAD, 0]) {
    assert.throws(
      () => dockerHandler({ image: "x", timeoutMs: value }),
      (e: unknown) => e instanceof RangeError && e.message.includes("timeoutMs must be"),
      String(value),
    );
  }
  dockerHandler({ image: "x", timeoutMs: 3e9 });
});

Deno.test("WorkerPool refuses non-finite grace periods and NaN idle timeouts", () => {
  for (const value of [Infinity, NaN, -1]) {
    assert.throws(() => new WorkerPool({ terminateGraceMs: value }), RangeError, String(value));
  }
  assert.throws(() => new WorkerPool({ idleTimeoutMs: NaN }), RangeError);
  new WorkerPool({ terminateGraceMs: 3e9, idleTimeoutMs: Infinity }).close();
});

Deno.test("a retry delay past 2^31−1 ms does not fire at once", async () => {
  let attempts = 0;
  const flaky = task("sec_timer_retry", () => {
    attempts++;
    throw new Error("first attempt fails");
  }, { retries: { maxRetries: 1, initialDelayMs: 3e9 } });
  const controller = new AbortController();
  const run = flow`${flaky}`.run({ signal: controller.signal }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(attempts, 1, "the retry ran at once");
  controller.abort(new Error("enough"));
  await run;
});

Deno.test("setLongTimer chains past 2^31−1 ms: it re-arms instead of firing", () => {
  // Drive the real function with a fake setTimeout and Date.now.
  const realSetTimeout = globalThis.setTimeout;
  const realNow = Date.now;
  let now = 1_000;
  const armed: { fn: () => void; ms: number }[] = [];
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    armed.push({ fn, ms });
    return armed.length;
  }) as unknown as typeof setTimeout;
  Date.now = () => now;
  try {
    let fired = 0;
    setLongTimer(() => fired++, 3e9);
    assert.equal(armed.length, 1);
    assert.equal(armed[0].ms, MAX_TIMER_MS);
    now += MAX_TIMER_MS;
    armed[0].fn();
    assert.equal(fired, 0, "fired after 2^31−1 of 3e9 ms");
    assert.equal(armed.length, 2);
    assert.equal(armed[1].ms, 3e9 - MAX_TIMER_MS);
    now += armed[1].ms;
    armed[1].fn();
    assert.equal(fired, 1);
    assert.throws(() => setLongTimer(() => {}, Infinity), RangeError);
  } finally {
    globalThis.setTimeout = realSetTimeout;
    Date.now = realNow;
  }
});

// The engine arms a task's timeout and a feedback timeout through the run's Clock, whose timers
// are chained past 2^31−1 ms.

Deno.test({
  name: "an in-process timeoutMs of 3e9 does not fire at once",
  async fn() {
    const slow = task("sec_timer_slow", async () => {
      await new Promise((r) => setTimeout(r, 300));
      return "finished";
    }, { timeoutMs: 3e9 });
    assert.equal((await flow`${slow}`.run()).output, "finished");
  },
});

Deno.test({
  name: "a feedback timeoutMs of 3e9 does not fire at once",
  // The unanswered request keeps waiting after the task returned.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const ask = task("sec_timer_ask", async (_: unknown, ctx) => {
        const answer = ctx.requestFeedback({ type: "approval", prompt: "ok?", timeoutMs: 3e9 });
        answer.catch(() => {});
        return await Promise.race([
          answer.then(() => "answered", () => "gave up"),
          new Promise((r) => setTimeout(() => r("still waiting"), 300)),
        ]);
      });
      const result = await flow`${ask}`.run({ checkpointDir: dir });
      assert.equal(result.status, "completed");
      assert.equal(result.output, "still waiting");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
