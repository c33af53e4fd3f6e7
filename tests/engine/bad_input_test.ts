import assert from "assert";
import {
  CycleLimitExceededError,
  flow,
  FlowSyntaxError,
  NonErrorThrownError,
  task,
  type TaskContext,
  TaskFailedError,
  WorkflowError,
} from "../../mod.ts";

// Task names are process-global: everything in this file starts with "engb_".

Deno.test("a task name with spaces is a TypeError naming the name", () => {
  assert.throws(() => task("engb has space", () => 0), {
    name: "TypeError",
    message: 'Cannot define task "engb has space": a task name must match [A-Za-z_][A-Za-z0-9_.-]*',
  });
});

Deno.test("other malformed task names are TypeErrors too", () => {
  for (const name of ["", "1st", "a/b", "a:b", "naïve", "tab\tname", "a>>b", "(a)"]) {
    assert.throws(() => task(name, () => 0), (error: unknown) => {
      assert.ok(error instanceof TypeError, JSON.stringify(name));
      assert.ok(error.message.startsWith(`Cannot define task ${JSON.stringify(name)}: `));
      return true;
    });
  }
  for (const name of [undefined, 42, null]) {
    assert.throws(() => task(name as unknown as string, () => 0), TypeError, String(name));
  }
});

Deno.test("a task without a function is a TypeError", () => {
  assert.throws(() => task("engb_nofn", "not a function" as never), {
    name: "TypeError",
    message: 'Cannot define task "engb_nofn": fn must be a function, got string',
  });
});

Deno.test("two different tasks with the same name are a TypeError", () => {
  task("engb_dup", () => 1);
  assert.throws(() => task("engb_dup", () => 2), (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /^Cannot define task "engb_dup": a different task with this name already exists \(defined in file:.*bad_input_test\.ts\)$/,
    );
    return true;
  });
});

Deno.test("out-of-range task options are RangeError/TypeError naming the option", () => {
  assert.throws(() => task("engb_opt1", () => 0, { timeoutMs: 0 }), {
    name: "RangeError",
    message: 'Cannot define task "engb_opt1": timeoutMs must be a positive number, got 0',
  });
  assert.throws(() => task("engb_opt2", () => 0, { maxCycles: 0 }), {
    name: "RangeError",
    message: 'Cannot define task "engb_opt2": maxCycles must be at least 1, got 0',
  });
  assert.throws(() => task("engb_opt3", () => 0, { handler: "" }), {
    name: "TypeError",
    message: /handler must be a non-empty string/,
  });
  assert.throws(() => task("engb_opt4", () => 0, { module: "not a url" }), {
    name: "TypeError",
    message: 'Cannot define task "engb_opt4": module must be a URL, got "not a url"',
  });
  assert.throws(() => task("engb_opt5", () => 0, { retries: -2 }), {
    name: "RangeError",
    message: 'Cannot define task "engb_opt5": retries must be a whole number >= 0, got -2',
  });
});

Deno.test("a flow naming a task that was never defined is a FlowSyntaxError", () => {
  task("engb_defined", () => 0);
  assert.throws(() => flow`engb_defined >> engb_defind`, (error: unknown) => {
    assert.ok(error instanceof FlowSyntaxError);
    assert.equal(error.line, 1);
    assert.equal(error.column, 17);
    assert.match(
      error.message,
      /^Cannot parse flow: unknown task "engb_defind" \(did you mean "engb_defined"\?\) \(line 1, column 17\)\n {2}engb_defined >> engb_defind\n {18}\^{11}$/,
    );
    return true;
  });
});

Deno.test("a cycle with no way out hits maxCycles", async () => {
  task("engb_ping", (x: number) => x + 1, { maxCycles: 3 });
  task("engb_pong", (x: number) => x + 1, { maxCycles: 3 });
  await assert.rejects(flow`engb_ping >> engb_pong >> engb_ping`.run({ input: 0 }), {
    name: "CycleLimitExceededError",
    code: "CYCLE_LIMIT_EXCEEDED",
    message: 'Cannot run task "engb_ping" again: it reached its cycle limit of 3 (maxCycles)',
  });
});

Deno.test("a cycle with no way out hits maxSteps when cycles allow more", async () => {
  task("engb_tick", (x: number) => x + 1, { maxCycles: 1_000 });
  task("engb_tock", (x: number) => x + 1, { maxCycles: 1_000 });
  await assert.rejects(
    flow`engb_tick >> engb_tock >> engb_tick`.run({ input: 0, maxSteps: 50 }),
    (error: unknown) => {
      assert.ok(error instanceof WorkflowError);
      assert.ok(!(error instanceof CycleLimitExceededError));
      assert.equal(error.code, "MAX_STEPS");
      assert.equal(
        error.message,
        'Cannot run task "engb_tick": the run reached maxSteps (50 task executions)',
      );
      return true;
    },
  );
});

Deno.test("a self-iterating task with no way out hits maxSteps or maxCycles, whichever first", async () => {
  task("engb_spin", (_: unknown, ctx: TaskContext) => ctx.nextIteration(), { maxCycles: 20 });
  await assert.rejects(flow`engb_spin`.run({ maxSteps: 10 }), { code: "MAX_STEPS" });
  await assert.rejects(flow`engb_spin`.run({ maxSteps: 100 }), { code: "CYCLE_LIMIT_EXCEEDED" });
});

Deno.test("a task throwing a non-Error value fails with NonErrorThrownError as cause", async () => {
  const cases: [string, unknown, string][] = [
    ["engb_throw_string", "boom", '"boom"'],
    ["engb_throw_number", 42, "42"],
    ["engb_throw_object", { status: 500 }, '{"status":500}'],
    ["engb_throw_null", null, "null"],
    ["engb_throw_undefined", undefined, "undefined"],
  ];
  for (const [name, value, shown] of cases) {
    task(name, () => {
      throw value;
    });
    await assert.rejects(
      flow([name] as unknown as TemplateStringsArray).run(),
      (error: unknown) => {
        assert.ok(error instanceof TaskFailedError, name);
        assert.equal(error.code, "TASK_FAILED");
        assert.equal(error.taskId, name);
        assert.equal(error.message, `Task "${name}" failed: threw a non-Error value: ${shown}`);
        const cause = error.cause;
        assert.ok(cause instanceof NonErrorThrownError, name);
        assert.equal(cause.code, "NON_ERROR_THROWN");
        assert.equal(cause.value, value);
        assert.equal(cause.message, `threw a non-Error value: ${shown}`);
        return true;
      },
    );
  }
});

Deno.test("an async task rejecting with a non-Error value fails the same way", async () => {
  const thrown = { reason: "nope" };
  task("engb_reject_obj", async () => {
    await Promise.resolve();
    throw thrown;
  });
  await assert.rejects(flow`engb_reject_obj`.run(), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof NonErrorThrownError);
    assert.equal(error.cause.value, thrown);
    return true;
  });
});

Deno.test("a channel value that cannot be stored fails the task with a TypeError naming it", async () => {
  class Connection {
    query(): void {}
  }
  task("engb_store_conn", async (_: unknown, ctx: TaskContext) => {
    await ctx.channel.set("db", { pool: [new Connection()] });
  });
  await assert.rejects(flow`engb_store_conn`.run(), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.code, "TASK_FAILED");
    assert.ok(error.cause instanceof TypeError);
    assert.equal(
      error.cause.message,
      'Cannot store channel key "db": value.pool[0] is an instance of Connection, which cannot be stored faithfully (allowed: JSON types, undefined, BigInt, Date, Map, Set, Uint8Array)',
    );
    return true;
  });
});

Deno.test("a flow started at a name that is not in it is a TypeError with suggestions", async () => {
  task("engb_startable", () => 0);
  await assert.rejects(flow`engb_startable`.run({ start: "engb_startabel" }), {
    name: "TypeError",
    message:
      'Cannot start flow at "engb_startabel": no such task or group (did you mean "engb_startable"?)',
  });
});
