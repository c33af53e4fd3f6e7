import assert from "assert";
import {
  atLeast,
  bestEffort,
  critical,
  flow,
  FlowSyntaxError,
  type GroupOutcome,
  parallel,
  ParallelGroupError,
  strict,
  type Task,
  task,
  type TaskContext,
  WorkflowError,
} from "../../mod.ts";

// Task names are process-global: everything in this file starts with "engg_".
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ok = (name: string, ms = 0, value: unknown = name) =>
  task(`engg_${name}`, async () => {
    if (ms) await delay(ms);
    return value;
  });
const failing = (name: string, ms = 0) =>
  task(`engg_${name}`, async () => {
    if (ms) await delay(ms);
    throw new Error(`${name} broke`);
  });

const A = ok("a");
const B = ok("b", 10);
const C = ok("c", 5);
const X = failing("x");
const Y = failing("y", 5);
let afterInputs: unknown[] = [];
const AFTER = task("engg_after", (input: unknown) => {
  afterInputs.push(input);
  return input;
});

Deno.test("group members run concurrently in-process (overlapping waits)", async () => {
  const spans: Record<string, [number, number]> = {};
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  const member = (name: string) =>
    task(`engg_conc_${name}`, async () => {
      const start = performance.now();
      // Rendezvous: every member must be running at the same time to get past this.
      if (++arrived === 3) release();
      const met = await Promise.race([all.then(() => true), delay(1_000).then(() => false)]);
      await delay(40);
      spans[name] = [start, performance.now()];
      return met;
    });
  const members = ["p", "q", "r"].map(member);
  const started = performance.now();
  const result = await flow`${parallel(members)} >> ${AFTER}`.run();
  const elapsed = performance.now() - started;
  assert.deepEqual(result.output, { engg_conc_p: true, engg_conc_q: true, engg_conc_r: true });
  const lastStart = Math.max(...Object.values(spans).map((s) => s[0]));
  const firstEnd = Math.min(...Object.values(spans).map((s) => s[1]));
  assert.ok(lastStart < firstEnd, "every member started before any finished");
  // Run one after another, each member would wait out the 1 s rendezvous timeout.
  assert.ok(elapsed < 1_000, `three members took ${elapsed} ms`);
});

Deno.test("the task after a group runs once, after every member settled", async () => {
  afterInputs = [];
  const ends: Record<string, number> = {};
  const timed = (name: string, ms: number) =>
    task(`engg_timed_${name}`, async () => {
      await delay(ms);
      ends[name] = performance.now();
      return ms;
    });
  let afterStart = 0;
  task("engg_timed_after", (input: unknown) => {
    afterStart = performance.now();
    afterInputs.push(input);
  });
  await flow`(${timed("s", 30)} | ${timed("t", 1)} | ${timed("u", 15)}) >> engg_timed_after`.run();
  assert.equal(afterInputs.length, 1);
  assert.ok(Object.values(ends).every((end) => end <= afterStart));
  assert.deepEqual(afterInputs[0], { engg_timed_s: 30, engg_timed_t: 1, engg_timed_u: 15 });
});

function assertGroupError(
  error: unknown,
  expected: { groupId: string; failed: [string, string][]; succeeded: string[] },
): ParallelGroupError {
  assert.ok(error instanceof ParallelGroupError, `got ${error}`);
  assert.ok(error instanceof WorkflowError);
  assert.equal(error.code, "PARALLEL_GROUP_FAILED");
  assert.equal(error.groupId, expected.groupId);
  assert.deepEqual(
    error.failed.map((f) => [f.taskId, (f.error as Error).message]),
    expected.failed,
  );
  assert.deepEqual(error.succeeded, expected.succeeded);
  for (const f of error.failed) assert.ok(f.error instanceof Error);
  return error;
}

Deno.test("strict (default): one failure fails the group and its successors do not run", async () => {
  afterInputs = [];
  const run = flow`(${A} | ${X} | ${B}) >> ${AFTER}`.run();
  await assert.rejects(run, (error: unknown) => {
    const e = assertGroupError(error, {
      groupId: "group_1",
      failed: [["engg_x", "x broke"]],
      succeeded: ["engg_a"], // engg_b (10 ms) was still running: cancelled
    });
    assert.equal(
      e.message,
      'Parallel group "group_1" failed: 1 member(s) failed under strict policy (failed: "engg_x")',
    );
    assert.equal((e.cause as Error).message, "x broke");
    return true;
  });
  assert.deepEqual(afterInputs, []);
});

Deno.test("strict fails the group at the first failure and cancels the members still running", async () => {
  const events: string[] = [];
  const group = parallel([X, B], { name: "engg_waits" });
  await assert.rejects(
    flow`${group}`.run({
      onEvent: (e) => {
        if (e.type === "task.succeeded") events.push(`ok:${e.taskId}`);
        if (e.type === "task.cancelled") events.push(`cancelled:${e.taskId}`);
        if (e.type === "group.settled") {
          events.push(`settled:${e.groupId}:${e.ok}:${e.cancelled.join(",")}`);
        }
      },
    }),
    ParallelGroupError,
  );
  assert.deepEqual(events, ["settled:engg_waits:false:engg_b", "cancelled:engg_b"]);
});

Deno.test("strict() lists the failures that came before its answer, in member order", async () => {
  const group = parallel([Y, A, X], { name: "engg_two_fail", policy: strict() });
  await assert.rejects(flow`${group} >> ${AFTER}`.run(), (error: unknown) => {
    assertGroupError(error, {
      groupId: "engg_two_fail",
      failed: [["engg_x", "x broke"]], // engg_y (5 ms) was cancelled
      succeeded: ["engg_a"],
    });
    return true;
  });
});

Deno.test("a group member that exhausts its retries fails with RetryLimitExceededError", async () => {
  const retried = task("engg_retried", () => {
    throw new Error("still broken");
  }, { retries: { maxRetries: 1, initialDelayMs: 0 } });
  await assert.rejects(flow`${A} | ${retried}`.run(), (error: unknown) => {
    assert.ok(error instanceof ParallelGroupError);
    assert.equal(error.failed[0].taskId, "engg_retried");
    assert.equal((error.failed[0].error as Error).name, "RetryLimitExceededError");
    return true;
  });
});

Deno.test("bestEffort: failures are ignored and successors get the members that succeeded", async () => {
  afterInputs = [];
  const group = parallel([A, X, C, Y], { name: "engg_best", policy: bestEffort() });
  const result = await flow`${group} >> ${AFTER}`.run();
  assert.deepEqual(afterInputs, [{ engg_a: "a", engg_c: "c" }]);
  assert.equal(result.status, "completed");
  assert.ok(!("engg_x" in result.results));
});

Deno.test("bestEffort with every member failing still runs the successors with {}", async () => {
  afterInputs = [];
  await flow`${parallel([X, Y], { policy: bestEffort() })} >> ${AFTER}`.run();
  assert.deepEqual(afterInputs, [{}]);
});

Deno.test("atLeast(n): enough successes pass, too few fail with the failures listed", async () => {
  afterInputs = [];
  await flow`${parallel([A, X, B], { policy: atLeast(2) })} >> ${AFTER}`.run();
  assert.deepEqual(afterInputs, [{ engg_a: "a", engg_b: "b" }]);
  await assert.rejects(
    flow`${parallel([A, X, Y], { name: "engg_least", policy: atLeast(2) })} >> ${AFTER}`.run(),
    (error: unknown) => {
      const e = assertGroupError(error, {
        groupId: "engg_least",
        failed: [["engg_x", "x broke"], ["engg_y", "y broke"]],
        succeeded: ["engg_a"],
      });
      assert.match(e.message, /1 of 3 member\(s\) succeeded, at least 2 required/);
      return true;
    },
  );
  assert.equal(afterInputs.length, 1);
});

Deno.test("atLeast(0) accepts any outcome; atLeast(members) requires all", async () => {
  await flow`${parallel([X, Y], { policy: atLeast(0) })}`.run();
  await assert.rejects(flow`${parallel([A, X], { policy: atLeast(2) })}`.run(), ParallelGroupError);
  await flow`${parallel([A, B], { policy: atLeast(2) })}`.run();
});

Deno.test("critical([...]): only the named members' failures fail the group", async () => {
  afterInputs = [];
  await flow`${parallel([A, X, B], { policy: critical(["engg_a", "engg_b"]) })} >> ${AFTER}`
    .run();
  assert.deepEqual(afterInputs, [{ engg_a: "a", engg_b: "b" }]);
  await assert.rejects(
    flow`${parallel([A, X, Y], { name: "engg_crit", policy: critical(["engg_x"]) })}`.run(),
    (error: unknown) => {
      const e = assertGroupError(error, {
        groupId: "engg_crit",
        failed: [["engg_x", "x broke"]], // only the critical failure, not engg_y
        succeeded: ["engg_a"],
      });
      assert.match(e.message, /a critical member failed/);
      return true;
    },
  );
});

Deno.test("critical names a chain member by its last task", async () => {
  const chain = flow`${A} >> engg_x`;
  await assert.rejects(
    flow`${parallel([chain, B], { name: "engg_crit_chain", policy: critical(["engg_x"]) })}`
      .run(),
    (error: unknown) => {
      assertGroupError(error, {
        groupId: "engg_crit_chain",
        failed: [["engg_x", "x broke"]],
        succeeded: [], // engg_b (10 ms) was cancelled
      });
      return true;
    },
  );
});

Deno.test("a custom policy sees the outcome and fails the group by throwing", async () => {
  const outcomes: GroupOutcome[] = [];
  const onlyX = (o: GroupOutcome) => {
    outcomes.push(o);
    if (o.failed.some((f) => f.taskId !== "engg_x")) throw new Error("only x may fail");
  };
  afterInputs = [];
  await flow`${parallel([A, X], { name: "engg_custom", policy: onlyX })} >> ${AFTER}`.run();
  assert.deepEqual(afterInputs, [{ engg_a: "a" }]);
  assert.equal(outcomes[0].groupId, "engg_custom");
  assert.deepEqual(outcomes[0].succeeded, ["engg_a"]);
  assert.equal(outcomes[0].failed[0].taskId, "engg_x");
  assert.equal((outcomes[0].failed[0].error as Error).message, "x broke");

  await assert.rejects(
    flow`${parallel([A, Y], { name: "engg_custom2", policy: onlyX })} >> ${AFTER}`.run(),
    (error: unknown) => {
      const e = assertGroupError(error, {
        groupId: "engg_custom2",
        failed: [["engg_y", "y broke"]],
        succeeded: ["engg_a"],
      });
      assert.match(e.message, /custom policy rejected the outcome: only x may fail/);
      return true;
    },
  );
  assert.equal(afterInputs.length, 1);
});

Deno.test("a custom policy may throw its own ParallelGroupError, used as is", async () => {
  const mine = new ParallelGroupError("engg_own", [], ["engg_a"], "no failures, still no");
  await assert.rejects(
    flow`${
      parallel([A], {
        name: "engg_own",
        policy: () => {
          throw mine;
        },
      })
    }`.run(),
    (error: unknown) => error === mine,
  );
});

Deno.test("a custom policy can fail a group in which nothing failed", async () => {
  const policy = (o: GroupOutcome) => {
    if (o.succeeded.length < 5) throw new Error("need five");
  };
  await assert.rejects(flow`${parallel([A, B], { policy })}`.run(), (error: unknown) => {
    assertGroupError(error, { groupId: "group_1", failed: [], succeeded: ["engg_a", "engg_b"] });
    return true;
  });
});

Deno.test("a failing nested group is a failed member of the outer group", async () => {
  afterInputs = [];
  const inner = parallel([A, X], { name: "engg_inner" });
  const outer = parallel([flow`${inner}`, B], { name: "engg_outer", policy: bestEffort() });
  await flow`${outer} >> ${AFTER}`.run();
  assert.deepEqual(afterInputs, [{ engg_b: "b" }]);

  await assert.rejects(
    flow`(${C} | (${Y} | ${A})) >> ${AFTER}`.run(),
    (error: unknown) => {
      assert.ok(error instanceof ParallelGroupError);
      assert.equal(error.groupId, "group_2");
      assert.equal(error.failed[0].taskId, "group_1");
      const inner = error.failed[0].error;
      assert.ok(inner instanceof ParallelGroupError);
      assert.equal(inner.groupId, "group_1");
      assert.equal(inner.failed[0].taskId, "engg_y");
      return true;
    },
  );
});

Deno.test("a failure inside a chain member fails that member only", async () => {
  afterInputs = [];
  let tailRan = false;
  task("engg_chain_tail", () => (tailRan = true));
  const chain = flow`${X} >> engg_chain_tail`;
  await flow`${parallel([chain, A], { policy: bestEffort() })} >> ${AFTER}`.run();
  assert.equal(tailRan, false);
  assert.deepEqual(afterInputs, [{ engg_a: "a" }]);
});

Deno.test("invalid policy arguments are RangeError/TypeError", () => {
  assert.throws(() => atLeast(-1), {
    name: "RangeError",
    message: /n must be a whole number >= 0, got -1/,
  });
  assert.throws(() => atLeast(1.5), RangeError);
  assert.throws(() => atLeast(NaN), RangeError);
  assert.throws(() => critical([]), {
    name: "TypeError",
    message: /names must be a non-empty array of member names, got \[\]/,
  });
  assert.throws(() => critical([1 as unknown as string]), TypeError);
  assert.throws(() => critical("engg_a" as unknown as string[]), TypeError);
});

Deno.test("atLeast(n) with more than the members is a RangeError when the flow is built", () => {
  assert.throws(
    () => flow`${parallel([A, B, C], { name: "engg_small", policy: atLeast(4) })}`,
    (error: unknown) => {
      assert.ok(error instanceof RangeError, `got ${error}`);
      assert.equal(
        error.message,
        'Cannot apply atLeast(4) to group "engg_small": it has only 3 member(s)',
      );
      return true;
    },
  );
});

Deno.test("critical naming an unknown member is a TypeError when the flow is built", () => {
  assert.throws(
    () => flow`${parallel([A, B], { name: "engg_unk", policy: critical(["engg_a", "engg_zz"]) })}`,
    (error: unknown) => {
      assert.ok(error instanceof TypeError && !(error instanceof FlowSyntaxError), `${error}`);
      assert.match(
        error.message,
        /Cannot apply critical policy to group "engg_unk": "engg_zz" not among its members \("engg_a", "engg_b"\)/,
      );
      return true;
    },
  );
});

Deno.test("policy labels show in the drawings", () => {
  const groups: [Task[], ReturnType<typeof strict>, string][] = [
    [[A, B], strict(), "strict"],
    [[A, B], bestEffort(), "best effort"],
    [[A, B], atLeast(1), "at least 1"],
    [[A, B], critical(["engg_a"]), "critical engg_a"],
  ];
  for (const [members, policy, label] of groups) {
    const f = flow`${parallel(members, { name: "engg_label", policy })}`;
    assert.ok(f.toMermaid().includes(`subgraph engg_label ["engg_label (${label})"]`), label);
    assert.ok(f.toAscii().includes(`[engg_label ${label}]`), label);
  }
});

Deno.test("a failing task outside a group aborts the running group members", async () => {
  let aborted = false;
  task("engg_abort_member", async (_: unknown, ctx: TaskContext) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      ctx.signal.addEventListener("abort", () => {
        aborted = true;
        clearTimeout(timer);
        resolve();
      });
    });
  });
  task("engg_abort_fail", async () => {
    await delay(10);
    throw new Error("outside");
  });
  await assert.rejects(
    flow`engg_abort_member | engg_c\nengg_abort_fail`.run(),
    /Task "engg_abort_fail" failed: outside/,
  );
  assert.equal(aborted, true);
});
