/**
 * Errors that stop retries, in-process: `NonRetryableError` (also subclassed, and across the
 * wire format), `retryable: false`, and `RetryPolicy.retryIf` (allowing, refusing, throwing,
 * malformed), with the events and the errors the run fails with.
 *
 * @module
 */
import assert from "assert";
import {
  bestEffort,
  flow,
  isNonRetryable,
  NonRetryableError,
  parallel,
  RetryLimitExceededError,
  task,
  TaskFailedError,
  WorkflowError,
} from "../../mod.ts";
import { fromErrorRecord, toErrorRecord } from "../../src/errors.ts";
import { FakeClock, RunRecorder } from "../../src/testing/mod.ts";

// Task names are process-global: everything in this file starts with "rc_".
const retries = { maxRetries: 3, initialDelayMs: 60_000 };

Deno.test("NonRetryableError: one attempt, TaskFailedError, task.failed says retryable: false", async () => {
  let calls = 0;
  const t = task("rc_non", () => {
    calls++;
    throw new NonRetryableError('Cannot import order: field "total" is missing');
  }, { retries });
  const rec = new RunRecorder();
  const error = await flow`${t}`.run({ onEvent: rec.onEvent, clock: new FakeClock() })
    .then(() => undefined, (e) => e);
  assert.equal(calls, 1);
  assert.ok(error instanceof TaskFailedError && !(error instanceof RetryLimitExceededError));
  assert.ok(error.cause instanceof NonRetryableError);
  assert.equal(error.cause.code, "NON_RETRYABLE");
  assert.equal(
    error.message,
    'Task "rc_non" failed: Cannot import order: field "total" is missing',
  );
  const failed = rec.events.find((e) => e.type === "task.failed") as { retryable?: boolean };
  assert.equal(failed.retryable, false);
  rec.assertAttempts({ rc_non: 1 });
});

Deno.test("a subclass of NonRetryableError, and any error with retryable: false, stop retries", async () => {
  class ValidationError extends NonRetryableError {
    constructor(field: string) {
      super(`field "${field}" is invalid`, { code: "VALIDATION" });
      this.name = "ValidationError";
    }
  }
  let a = 0;
  let b = 0;
  const sub = task("rc_sub", () => {
    a++;
    throw new ValidationError("total");
  }, { retries });
  const prop = task("rc_prop", () => {
    b++;
    throw Object.assign(new TypeError("nope"), { retryable: false });
  }, { retries });
  const clock = new FakeClock();
  await flow`${sub}`.run({ clock }).catch(() => {});
  await flow`${prop}`.run({ clock }).catch(() => {});
  assert.deepEqual([a, b], [1, 1]);
  assert.equal(clock.delays.length, 0, "no retry delay was ever set");
});

Deno.test("a NonRetryableError subclass not registered still stops retries after the wire", () => {
  class Unregistered extends NonRetryableError {
    constructor() {
      super("bad");
      this.name = "Unregistered";
    }
  }
  const back = fromErrorRecord(toErrorRecord(new Unregistered()));
  assert.equal(back.name, "Unregistered");
  assert.ok(!(back instanceof NonRetryableError), "an unknown class comes back as Error");
  assert.equal(isNonRetryable(back), true, "its retryable: false crossed as data");
  const known = fromErrorRecord(toErrorRecord(new NonRetryableError("x", { code: "C" })));
  assert.ok(known instanceof NonRetryableError);
  assert.equal((known as NonRetryableError).code, "C");
  assert.equal(isNonRetryable(new Error("x")), false);
  assert.equal(isNonRetryable("a string"), false);
  assert.equal(isNonRetryable(null), false);
});

Deno.test("retryIf: false fails at once; true retries; it sees the error; a throw means no", async () => {
  const seen: unknown[] = [];
  let calls = 0;
  const picky = task("rc_picky", () => {
    calls++;
    throw new RangeError(`attempt ${calls}`);
  }, {
    retries: {
      ...retries,
      retryIf: (e) => {
        seen.push(e);
        return (e as Error).message !== "attempt 2";
      },
    },
  });
  const clock = new FakeClock({ autoAdvance: true });
  const error = await flow`${picky}`.run({ clock }).then(() => undefined, (e) => e);
  assert.equal(calls, 2, "retried after attempt 1, not after attempt 2");
  assert.ok(error instanceof TaskFailedError && !(error instanceof RetryLimitExceededError));
  assert.ok(seen[0] instanceof RangeError);
  assert.deepEqual(clock.delays, [60_000]);

  let thrown = 0;
  const throwing = task("rc_throwing_if", () => {
    thrown++;
    throw new Error("x");
  }, {
    retries: {
      ...retries,
      retryIf: () => {
        throw new Error("retryIf broke");
      },
    },
  });
  const e2 = await flow`${throwing}`.run({ clock }).then(() => undefined, (e) => e);
  assert.equal(thrown, 1);
  assert.equal(e2.cause.message, "x", "the task's own error, not retryIf's");
});

Deno.test("retryIf cannot make a NonRetryableError retryable; exhausted retries still say so", async () => {
  let calls = 0;
  const t = task("rc_forced", () => {
    calls++;
    throw new NonRetryableError("no");
  }, { retries: { ...retries, retryIf: () => true } });
  await flow`${t}`.run({ clock: new FakeClock() }).catch(() => {});
  assert.equal(calls, 1);
  let tries = 0;
  const always = task("rc_always", () => {
    tries++;
    throw new Error("again");
  }, { retries: { maxRetries: 2, initialDelayMs: 1, retryIf: () => true } });
  const error = await flow`${always}`.run().then(() => undefined, (e) => e);
  assert.equal(tries, 3);
  assert.ok(error instanceof RetryLimitExceededError);
});

Deno.test("in a group a non-retryable member's failure keeps what it threw", async () => {
  const t = task("rc_member", () => {
    throw new NonRetryableError("member refused");
  }, { retries });
  const other = task("rc_other", () => 1);
  const r = await flow`${parallel([t, other], { policy: bestEffort() })}`.run();
  assert.deepEqual(r.output, { rc_other: 1 });
  const error = await flow`${parallel([t, other])}`.run().then(() => undefined, (e) => e);
  assert.ok(error.failed[0].error instanceof NonRetryableError);
});

Deno.test("retryIf must be a function", () => {
  assert.throws(
    () => task("rc_bad_if", () => 1, { retries: { maxRetries: 1, retryIf: true as never } }),
    {
      name: "TypeError",
      message: 'Cannot define task "rc_bad_if": retries.retryIf must be a function, got boolean',
    },
  );
});

Deno.test("NonRetryableError is a WorkflowError whose code can be chosen", () => {
  const e = new NonRetryableError("bad", { code: "BAD_INPUT", cause: new Error("root") });
  assert.ok(e instanceof WorkflowError);
  assert.equal(e.code, "BAD_INPUT");
  assert.equal(e.retryable, false);
  assert.equal((e.cause as Error).message, "root");
  assert.equal(new NonRetryableError("x").code, "NON_RETRYABLE");
});
