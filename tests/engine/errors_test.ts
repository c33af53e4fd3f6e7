import assert from "assert";
import {
  CheckpointError,
  CycleLimitExceededError,
  NonErrorThrownError,
  ParallelGroupError,
  registerErrorClass,
  RetryLimitExceededError,
  TaskFailedError,
  TaskTimeoutError,
  WorkflowCanceledError,
  WorkflowError,
} from "../../mod.ts";
import { type ErrorRecord, fromErrorRecord, toErrorRecord } from "../../src/errors.ts";

/** Through JSON, as across a Web Worker, Redis or a container. */
function roundTrip(error: unknown): Error {
  const record: ErrorRecord = JSON.parse(JSON.stringify(toErrorRecord(error)));
  return fromErrorRecord(record);
}

function assertSameError(back: Error, original: Error): void {
  assert.equal(Object.getPrototypeOf(back), Object.getPrototypeOf(original), "same class");
  assert.equal(back.name, original.name);
  assert.equal(back.message, original.message);
  assert.equal(back.stack, original.stack);
  assert.equal((back as { code?: string }).code, (original as { code?: string }).code);
}

Deno.test("toErrorRecord is plain JSON with name, message, stack, code and cause", () => {
  const cause = new TypeError("bad row");
  const error = new TaskFailedError("load", cause);
  const record = toErrorRecord(error);
  assert.equal(record.name, "TaskFailedError");
  assert.equal(record.message, 'Task "load" failed: bad row');
  assert.equal(record.stack, error.stack);
  assert.equal(record.code, "TASK_FAILED");
  assert.equal(record.cause?.name, "TypeError");
  assert.equal(record.cause?.message, "bad row");
  assert.deepEqual(record.props, { taskId: "load" });
  assert.deepEqual(JSON.parse(JSON.stringify(record)), record);
});

Deno.test("TaskFailedError round-trips with its class, taskId and cause class", () => {
  const original = new TaskFailedError("load", new RangeError("too big"));
  const back = roundTrip(original);
  assertSameError(back, original);
  assert.ok(back instanceof TaskFailedError && back instanceof WorkflowError);
  assert.equal(back.taskId, "load");
  assert.ok(back.cause instanceof RangeError);
  assertSameError(back.cause, original.cause as Error);
});

Deno.test("every engine error class round-trips with its fields", () => {
  const cases: [Error, Record<string, unknown>][] = [
    [new WorkflowError("plain", { code: "CUSTOM" }), {}],
    [new RetryLimitExceededError("t", 4, new Error("last")), { taskId: "t", attempts: 4 }],
    [new TaskTimeoutError("t", 250), { taskId: "t", timeoutMs: 250 }],
    [new CycleLimitExceededError("loop", 7), { taskId: "loop", limit: 7 }],
    [new WorkflowCanceledError("stopper", "because"), { taskId: "stopper", reason: "because" }],
    [new CheckpointError("/tmp/x.state.json", "checksum mismatch"), { path: "/tmp/x.state.json" }],
    [new NonErrorThrownError({ a: 1 }), { value: { a: 1 } }],
  ];
  for (const [original, fields] of cases) {
    const back = roundTrip(original);
    assertSameError(back, original);
    assert.ok(back instanceof WorkflowError, original.name);
    for (const [key, value] of Object.entries(fields)) {
      assert.deepEqual(
        (back as unknown as Record<string, unknown>)[key],
        value,
        `${original.name}.${key}`,
      );
    }
  }
});

Deno.test("ParallelGroupError round-trips with groupId, succeeded and its failed list", () => {
  const original = new ParallelGroupError(
    "fan",
    [
      { taskId: "a", error: new TypeError("a broke") },
      { taskId: "b", error: new TaskTimeoutError("b", 10) },
    ],
    ["c"],
    "2 member(s) failed",
  );
  const back = roundTrip(original);
  assertSameError(back, original);
  assert.ok(back instanceof ParallelGroupError);
  assert.equal(back.groupId, "fan");
  assert.deepEqual(back.succeeded, ["c"]);
  assert.equal(back.failed.length, 2);
  assert.equal(back.failed[0].taskId, "a");
  assert.ok(back.failed[0].error instanceof TypeError);
  assert.equal((back.failed[0].error as Error).message, "a broke");
  assert.ok(back.failed[1].error instanceof TaskTimeoutError);
  assert.equal((back.failed[1].error as TaskTimeoutError).timeoutMs, 10);
  assert.ok(back.cause instanceof TypeError, "the first failure is the cause");
});

Deno.test("built-in error classes round-trip", () => {
  for (
    const original of [
      new TypeError("t"),
      new RangeError("r"),
      new SyntaxError("s"),
      new Error("e"),
    ]
  ) {
    const back = roundTrip(original);
    assertSameError(back, original);
  }
});

Deno.test("a plain Error with a string code keeps it", () => {
  const original = Object.assign(new Error("not found"), { code: "ENOENT" });
  const back = roundTrip(original);
  assert.equal((back as { code?: string }).code, "ENOENT");
});

Deno.test("a cause chain is kept", () => {
  const original = new Error("top", {
    cause: new Error("middle", { cause: new TypeError("root") }),
  });
  const back = roundTrip(original);
  const middle = back.cause as Error;
  assert.equal(middle.message, "middle");
  assert.ok(middle.cause instanceof TypeError);
  assert.equal((middle.cause as Error).message, "root");
});

Deno.test("a non-Error cause becomes a NonErrorThrownError holding the value", () => {
  const back = roundTrip(new Error("wrapped", { cause: { status: 503 } }));
  assert.ok(back.cause instanceof NonErrorThrownError);
  assert.deepEqual(back.cause.value, { status: 503 });
});

Deno.test("a thrown non-Error becomes a NonErrorThrownError record", () => {
  for (const value of ["boom", 42, null, { reason: "x" }, [1, 2]]) {
    const back = roundTrip(value);
    assert.ok(back instanceof NonErrorThrownError, JSON.stringify(value));
    assert.equal(back.code, "NON_ERROR_THROWN");
    assert.deepEqual(back.value, value);
  }
  const undef = roundTrip(undefined);
  assert.ok(undef instanceof NonErrorThrownError);
  assert.match(undef.message, /threw a non-Error value: undefined/);
});

Deno.test("an unknown error class comes back as an Error with the same name", () => {
  class UnregisteredError extends Error {
    override name = "UnregisteredError";
  }
  const back = roundTrip(new UnregisteredError("who am i"));
  assert.equal(Object.getPrototypeOf(back), Error.prototype);
  assert.equal(back.name, "UnregisteredError");
  assert.equal(back.message, "who am i");
});

Deno.test("registerErrorClass makes fromErrorRecord rebuild your class", () => {
  class QuotaError extends Error {
    override name = "QuotaError";
  }
  registerErrorClass(QuotaError);
  const original = Object.assign(new QuotaError("over quota"), { limit: 10 });
  const back = roundTrip(original);
  assert.ok(back instanceof QuotaError);
  assert.equal(back.message, "over quota");
  assert.equal((back as unknown as { limit: number }).limit, 10);
  assert.equal(back.stack, original.stack);
});

Deno.test("props that are not JSON are kept as strings rather than lost or thrown", () => {
  const original = Object.assign(new Error("odd"), { big: 10n, when: new Date(0) });
  const record = toErrorRecord(original);
  assert.doesNotThrow(() => JSON.stringify(record));
  const back = fromErrorRecord(JSON.parse(JSON.stringify(record)));
  assert.equal((back as unknown as { big: string }).big, "10");
  assert.equal((back as unknown as { when: string }).when, "1970-01-01T00:00:00.000Z");
});

Deno.test("a self-referencing cause does not loop forever", () => {
  const error = new Error("loop") as Error & { cause?: unknown };
  error.cause = error;
  const record = toErrorRecord(error);
  let depth = 0;
  for (let r: ErrorRecord | undefined = record; r; r = r.cause) depth++;
  assert.ok(depth <= 10, `depth ${depth}`);
});

Deno.test("WorkflowError defaults its code to WORKFLOW_ERROR", () => {
  const e = new WorkflowError("x");
  assert.equal(e.code, "WORKFLOW_ERROR");
  assert.equal(e.name, "WorkflowError");
  assert.equal(e.cause, undefined);
});

Deno.test("an error that crosses twice keeps its class (the rebuilt error has the right name)", () => {
  const original = new TaskFailedError("hop", new CycleLimitExceededError("inner", 3));
  const twice = roundTrip(roundTrip(original));
  assert.ok(twice instanceof TaskFailedError);
  assert.equal(twice.name, "TaskFailedError");
  assert.ok(twice.cause instanceof CycleLimitExceededError);
  assert.equal(twice.cause.limit, 3);
  assert.equal(
    String(twice),
    'TaskFailedError: Task "hop" failed: Cannot run task "inner" again: it reached its cycle limit of 3 (maxCycles)',
  );
});
