/**
 * The core behaviour suite, independent of where tasks run: joins, groups, the five policies,
 * dynamic tasks, iterations, loops, limits, retries, errors, channel and results. Every backend
 * runs it: in-process (`behaviour_inprocess_test.ts`), on Web Workers and in subprocesses
 * (`tests/handlers/`), Redis with two worker processes (`tests/redis/behaviour_test.ts`) and, a
 * subset, in containers (`tests/docker/behaviour_test.ts`). Tasks come from
 * `fixtures/behaviour_tasks.ts`, which workers import.
 *
 * @module
 */
import assert from "assert";
import {
  atLeast,
  bestEffort,
  critical,
  CycleLimitExceededError,
  flow,
  type GroupOutcome,
  parallel,
  ParallelGroupError,
  RetryLimitExceededError,
  type RunOptions,
  TaskFailedError,
  WorkflowCanceledError,
  WorkflowError,
} from "../../mod.ts";
import * as T from "./fixtures/behaviour_tasks.ts";

/** What a backend gives one test. */
export interface BehaviourFixture {
  /** Options that make a run use the backend. */
  options: RunOptions;
  /** Releases what `options` holds. */
  close?(): Promise<void>;
}

/** Options of {@linkcode behaviourSuite}. */
export interface BehaviourSuiteOptions {
  /** Skip every test (e.g. redis-server is missing). */
  ignore?: boolean;
  /** Run only the tests whose titles pass (a slow executor runs a subset). */
  only?: (title: string) => boolean;
}

/**
 * Registers the suite.
 *
 * @param name Prefix of every test name.
 * @param make Creates the fixture of one test.
 * @param suiteOptions Skipping.
 */
export function behaviourSuite(
  name: string,
  make: () => Promise<BehaviourFixture>,
  suiteOptions: BehaviourSuiteOptions = {},
): void {
  const test = (title: string, fn: (options: RunOptions) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore: suiteOptions.ignore || (suiteOptions.only !== undefined && !suiteOptions.only(title)),
      async fn() {
        const fixture = await make();
        try {
          await fn(fixture.options);
        } finally {
          await fixture.close?.();
        }
      },
    });

  test("a sequence passes each result on", async (o) => {
    const r = await flow`${T.add1} >> ${T.double}`.run({ ...o, input: 3 });
    assert.equal(r.status, "completed");
    assert.equal(r.output, 8);
    assert.deepEqual(r.completed, ["bh_add1", "bh_double"]);
    assert.deepEqual(r.results, { bh_add1: 4, bh_double: 8 });
    assert.equal(r.steps, 2);
  });

  test("a join written as two statements gets its inputs keyed by predecessor", async (o) => {
    const f = flow`
      ${T.src} >> ${T.left} >> ${T.collect}
      ${T.src} >> ${T.right} >> ${T.collect}
    `;
    const r = await f.run({ ...o, input: 2 });
    assert.deepEqual(r.output, { bh_left: 3, bh_right: 20 });
    assert.equal(r.completed.filter((id) => id === "bh_collect").length, 1);
  });

  test("the task after a group runs once with the members' results by member", async (o) => {
    const r = await flow`${T.src} >> (${T.left} >> ${T.inc} | ${T.right}) >> ${T.collect}`
      .run({ ...o, input: 1 });
    assert.deepEqual(r.output, { bh_inc: 102, bh_right: 10 });
    assert.equal(r.completed.at(-1), "bh_collect");
    assert.equal(r.completed.filter((id) => id === "bh_collect").length, 1);
  });

  test("a nested group is one member of its outer group", async (o) => {
    const r = await flow`${T.src} >> (${T.left} | (${T.right} | ${T.inc})) >> ${T.collect}`
      .run({ ...o, input: 1 });
    const out = r.output as Record<string, unknown>;
    assert.equal(out.bh_left, 2);
    const inner = Object.entries(out).find(([k]) => k !== "bh_left")!;
    assert.match(inner[0], /^group_\d+$/);
    assert.deepEqual(inner[1], { bh_right: 10, bh_inc: 101 });
  });

  test("strict: one failure fails the group with exact ParallelGroupError fields", async (o) => {
    const error = await flow`(${T.ok1} | ${T.fail} | ${T.ok2}) >> ${T.collect}`.run(o)
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.equal(error.code, "PARALLEL_GROUP_FAILED");
    assert.equal(error.groupId, "group_1");
    // strict settles at the first failure: members that had not finished are cancelled.
    assert.ok(error.succeeded.every((id: string) => id === "bh_ok1" || id === "bh_ok2"));
    assert.deepEqual(error.failed.map((f) => f.taskId), ["bh_fail"]);
    assert.ok(error.failed[0].error instanceof T.BhError);
    assert.equal((error.failed[0].error as Error).message, "bh boom");
  });

  test("bestEffort: successors get the members that succeeded", async (o) => {
    const g = parallel([T.ok1, T.fail, T.ok2], { policy: bestEffort() });
    const r = await flow`${g} >> ${T.collect}`.run(o);
    assert.deepEqual(r.output, { bh_ok1: "ok1", bh_ok2: "ok2" });
  });

  test("atLeast(n): enough successes pass, too few fail", async (o) => {
    const pass = parallel([T.ok1, T.fail, T.ok2], { policy: atLeast(2) });
    assert.deepEqual((await flow`${pass} >> ${T.collect}`.run(o)).output, {
      bh_ok1: "ok1",
      bh_ok2: "ok2",
    });
    const tooFew = parallel([T.ok1, T.fail, T.fail2], { policy: atLeast(2) });
    const error = await flow`${tooFew} >> ${T.collect}`.run(o).catch((e) => e);
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.deepEqual(error.failed.map((f) => f.taskId).sort(), ["bh_fail", "bh_fail2"]);
    // atLeast(2) decides as soon as two members failed: bh_ok1 may be cancelled before it ends.
    assert.ok(error.succeeded.every((id: string) => id === "bh_ok1"), String(error.succeeded));
  });

  test("critical: only the named members' failures fail the group", async (o) => {
    const tolerant = parallel([T.ok1, T.fail, T.ok2], { policy: critical(["bh_ok1"]) });
    assert.deepEqual((await flow`${tolerant} >> ${T.collect}`.run(o)).output, {
      bh_ok1: "ok1",
      bh_ok2: "ok2",
    });
    const strictOne = parallel([T.ok1, T.fail, T.fail2], { policy: critical(["bh_fail"]) });
    const error = await flow`${strictOne} >> ${T.collect}`.run(o).catch((e) => e);
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.deepEqual(error.failed.map((f) => f.taskId), ["bh_fail"]);
  });

  test("a custom policy function decides, and its reason is in the error", async (o) => {
    const needAll = (outcome: GroupOutcome) => {
      if (outcome.failed.length) throw new Error(`need all, ${outcome.failed.length} failed`);
    };
    const g = parallel([T.ok1, T.ok2, T.fail], { policy: needAll });
    const error = await flow`${g}`.run(o).catch((e) => e);
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.match(error.message, /need all, 1 failed/);
    const fine = await flow`${parallel([T.ok1, T.ok2], { policy: needAll })}`.run(o);
    assert.equal(fine.status, "completed");
  });

  test("ctx.next with a new task: it runs after the caller, whose successors still run", async (o) => {
    const r = await flow`${T.adder} >> ${T.after}`.run({ ...o, input: 5 });
    assert.deepEqual(r.completed.slice().sort(), ["bh_adder", "bh_after", "bh_extra"]);
    assert.equal(r.completed[0], "bh_adder");
    assert.equal(r.results.bh_extra, "extra(5)");
    assert.equal(r.results.bh_after, "after(5)");
  });

  test("ctx.next with a node of the flow jumps there and skips the static successors", async (o) => {
    const f = flow`
      ${T.jumper} >> ${T.skipped}
      ${T.skipped} >> ${T.target}
    `;
    const r = await f.run({ ...o, input: 4 });
    assert.deepEqual(r.completed, ["bh_jumper", "bh_target"]);
    assert.equal(r.output, "target(8)");
  });

  test("ctx.next(task, input, { goto: true }) adds the task and skips the successors", async (o) => {
    const r = await flow`${T.gotoNew} >> ${T.skipped}`.run({ ...o, input: 1 });
    assert.deepEqual(r.completed, ["bh_goto_new", "bh_extra"]);
    assert.equal(r.output, "extra(jumped)");
  });

  test("ctx.nextIteration: successors run once, after the last iteration", async (o) => {
    const r = await flow`${T.order} >> ${T.shipped}`.run({ ...o, input: "NEW" });
    assert.deepEqual(r.completed, ["bh_order", "bh_order", "bh_order", "bh_order", "bh_shipped"]);
    assert.equal(r.output, "final:SHIPPED@4");
    assert.equal(r.graph.counts().bh_order, 4);
  });

  test("ctx.terminate ends the run normally and nothing else runs", async (o) => {
    const r = await flow`${T.stopper} >> ${T.after}`.run({ ...o, input: 7 });
    assert.equal(r.status, "terminated");
    assert.deepEqual(r.completed, ["bh_stopper"]);
    assert.equal(r.output, 7);
  });

  test("ctx.cancel fails the run with WorkflowCanceledError", async (o) => {
    const error = await flow`${T.canceler} >> ${T.after}`.run(o).catch((e) => e);
    assert.ok(error instanceof WorkflowCanceledError, String(error));
    assert.equal(error.taskId, "bh_canceler");
    assert.equal(error.reason, "no thanks");
  });

  test("priority: cancel > terminate > goto", async (o) => {
    const error = await flow`${T.everything} >> ${T.after}`.run(o).catch((e) => e);
    assert.ok(error instanceof WorkflowCanceledError, String(error));
    assert.equal(error.reason, "cancel wins");
    const r = await flow`${T.terminateAndGoto} >> ${T.after}`.run(o);
    assert.equal(r.status, "terminated");
    assert.deepEqual(r.completed, ["bh_terminate_goto"]);
  });

  test("a static loop runs until a task terminates it", async (o) => {
    const r = await flow`${T.agent} >> ${T.tool} >> ${T.agent}`.run({ ...o, input: 0 });
    assert.equal(r.status, "terminated");
    assert.deepEqual(r.completed, [
      "bh_agent",
      "bh_tool",
      "bh_agent",
      "bh_tool",
      "bh_agent",
      "bh_tool",
      "bh_agent",
    ]);
    assert.equal(r.output, 3);
  });

  test("a loop with no way out stops at maxCycles and at maxSteps", async (o) => {
    const cycles = await flow`${T.ping} >> ${T.pong} >> ${T.ping}`.run({ ...o, input: 0 })
      .catch((e) => e);
    assert.ok(cycles instanceof CycleLimitExceededError, String(cycles));
    assert.equal(cycles.taskId, "bh_ping");
    assert.equal(cycles.limit, 5);
    const steps = await flow`${T.forever} >> ${T.pong} >> ${T.forever}`
      .run({ ...o, input: 0, maxSteps: 7 }).catch((e) => e);
    assert.ok(steps instanceof WorkflowError, String(steps));
    assert.equal(steps.code, "MAX_STEPS");
  });

  test("retries: a flaky task succeeds on attempt 3; a hopeless one exhausts them", async (o) => {
    assert.equal((await flow`${T.flaky}`.run(o)).output, 3);
    const error = await flow`${T.hopeless}`.run(o).catch((e) => e);
    assert.ok(error instanceof RetryLimitExceededError, String(error));
    assert.equal(error.attempts, 3);
    assert.ok(error.cause instanceof T.BhError);
    assert.equal((error.cause as Error).message, "attempt 3");
  });

  test("a failing task rejects with TaskFailedError whose cause keeps its class", async (o) => {
    const error = await flow`${T.add1} >> ${T.fail} >> ${T.after}`.run({ ...o, input: 1 })
      .catch((e) => e);
    assert.ok(error instanceof TaskFailedError, String(error));
    assert.equal(error.taskId, "bh_fail");
    assert.ok(error.cause instanceof T.BhError, String(error.cause));
    assert.equal((error.cause as Error).message, "bh boom");
    assert.match((error.cause as Error).stack ?? "", /bh boom/);
  });

  test("tasks share the run's channel and read earlier results", async (o) => {
    const r = await flow`${T.src} >> ${T.counter} >> ${T.reader}`.run({ ...o, input: 4 });
    assert.deepEqual(r.output, { earlier: 4, count: 4 });
    assert.equal(await r.channel.get("count"), 4);
    assert.deepEqual(await r.channel.get("log"), [4]);
  });
}
