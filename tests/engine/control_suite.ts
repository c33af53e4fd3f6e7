/**
 * The control suite, independent of where tasks run: map nodes and `ctx.map` (sizes, order,
 * policies, concurrency), groups and maps that settle early (time to settle, cancelled
 * members saw their signal, no late result lands), and errors that must not be retried
 * (`NonRetryableError`, `retryIf`) keeping their class. Every executor runs it: in-process,
 * Web Workers, Redis worker processes, containers. Tasks come from
 * `fixtures/control_tasks.ts`.
 *
 * @module
 */
import assert from "assert";
import {
  atLeast,
  bestEffort,
  type Channel,
  critical,
  firstSuccess,
  flow,
  map,
  MemoryChannel,
  NonRetryableError,
  parallel,
  ParallelGroupError,
  type RunOptions,
  TaskFailedError,
  type WorkflowEvent,
} from "../../mod.ts";
import * as T from "./fixtures/control_tasks.ts";

/** What an executor gives one test. */
export interface ControlFixture {
  /** Options that make a run's tasks use the executor. */
  options: RunOptions;
  /**
   * The channel the tasks of runs with this id use (a backend's own channel); the runs of
   * one test then share that run id. @default {a new MemoryChannel per test}
   */
  channel?(runId: string): Channel;
  /** Releases what `options` holds. */
  close?(): Promise<void>;
}

/** Options of {@linkcode controlSuite}. */
export interface ControlSuiteOptions {
  /** Skip every test (e.g. redis-server or podman is missing). */
  ignore?: boolean;
  /** Items of the big map. @default {10000} */
  many?: number;
  /** Items of the small maps (order, concurrency). @default {7} */
  few?: number;
  /** How long members that wait to be cancelled wait at most. @default {10000} */
  slowMs?: number;
  /** Skip the checks that read the channel after a cancellation (containers are stopped). */
  noAbortNotes?: boolean;
  /** Skip the "ignores its signal" test (a stopped container cannot ignore it). */
  noIgnoring?: boolean;
}

/**
 * Registers the suite.
 *
 * @param name Prefix of every test name.
 * @param make Creates the fixture of one test.
 * @param suite Sizes, skipping.
 */
export function controlSuite(
  name: string,
  make: () => Promise<ControlFixture>,
  suite: ControlSuiteOptions = {},
): void {
  const many = suite.many ?? 10_000;
  const few = suite.few ?? 7;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const slowMs = suite.slowMs ?? 10_000;
  // A group that settles early must settle well before its slowest member would finish.
  const settleBound = slowMs / 2;
  const test = (title: string, fn: (o: RunOptions) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore: suite.ignore,
      async fn() {
        const fixture = await make();
        try {
          const runId = `ct-${crypto.randomUUID()}`;
          await fn({
            ...fixture.options,
            ...(fixture.channel
              ? { runId, channel: fixture.channel(runId) }
              : { channel: new MemoryChannel() }),
          });
        } finally {
          await fixture.close?.();
        }
      },
    });

  const settled = (events: WorkflowEvent[]) =>
    events.filter((e) => e.type === "group.settled") as Extract<
      WorkflowEvent,
      { type: "group.settled" }
    >[];

  test("map over 0, 1 and several items: results in item order", async (o) => {
    const f = flow`${T.list} >> ${map(T.square)} >> ${T.collect}`;
    assert.deepEqual((await f.run({ ...o, input: 0 })).output, []);
    assert.deepEqual((await f.run({ ...o, input: 1 })).output, [0]);
    const r = await f.run({ ...o, input: few });
    assert.deepEqual(r.output, range(few).map((x) => x * x));
    assert.deepEqual(r.completed, ["ct_list", "ct_square", "ct_collect"]);
    assert.equal(r.steps, few + 2, "the items and two tasks");
    assert.deepEqual(r.graph.items(), { ct_square: few });
  });

  test(`map over ${many} items`, async (o) => {
    const f = flow`${T.list} >> ${map(T.square)} >> ${T.sum}`;
    const r = await f.run({ ...o, input: many });
    assert.equal(r.output, ((many - 1) * many * (2 * many - 1)) / 6);
    assert.equal(r.steps, many + 2);
  });

  test("concurrency bounds the items in flight", async (o) => {
    const f = flow`${T.list} >> ${map(T.inflight, { concurrency: 2 })} >> ${T.collect}`;
    const r = await f.run({ ...o, input: few });
    assert.deepEqual(r.output, range(few));
    const peaks = (await o.channel!.get<number[]>("peaks"))!;
    assert.equal(peaks.length, few);
    assert.ok(Math.max(...peaks) <= 2, `peaks: ${peaks}`);
    assert.equal(await o.channel!.get("inflight"), 0);
  });

  test("bestEffort map: failed items are absent and the outcome names them", async (o) => {
    const events: WorkflowEvent[] = [];
    const f = flow`${T.list} >> ${map(T.evenOnly, { policy: bestEffort() })} >> ${T.collect}`;
    const r = await f.run({ ...o, input: 6, onEvent: (e) => events.push(e) });
    assert.deepEqual(r.output, [0, 2, 4]);
    const [s] = settled(events);
    assert.deepEqual(s.failed, ["ct_even_only[1]", "ct_even_only[3]", "ct_even_only[5]"]);
    assert.equal(s.map, "node");
  });

  test("strict map fails at the first failed item and cancels the items still running", async (o) => {
    const events: WorkflowEvent[] = [];
    const items = [0, 1, 2, 3].map((i) => ({ i, fail0: true, slowMs }));
    const started = performance.now();
    const error = await flow`${map(T.decider)} >> ${T.collect}`
      .run({ ...o, input: items, onEvent: (e) => events.push(e) })
      .then(() => undefined, (e) => e);
    const elapsed = performance.now() - started;
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.equal(error.groupId, "ct_decider");
    assert.deepEqual(error.failed.map((f) => f.taskId), ["ct_decider[0]"]);
    assert.equal((error.failed[0].error as Error).name, "CtFatalError");
    assert.ok(elapsed < settleBound, `settled after ${elapsed} ms`);
    const [s] = settled(events);
    // Item 1 (40 ms) may have finished first where starting an item takes longer (containers).
    assert.deepEqual(
      s.cancelled.filter((id) => id !== "ct_decider[1]").toSorted(),
      ["ct_decider[2]", "ct_decider[3]"],
    );
    if (!suite.noAbortNotes) await sawAborts(o, ["item2", "item3"]);
  });

  test("atLeast(2) map succeeds at the second success; firstSuccess at the first", async (o) => {
    const items = [0, 1, 2, 3].map((i) => ({ i, fail0: false, slowMs }));
    const started = performance.now();
    const two = await flow`${map(T.decider, { policy: atLeast(2) })}`.run({ ...o, input: items });
    assert.deepEqual(two.output, ["first", "second"]);
    const one = await flow`${map(T.decider, { policy: firstSuccess(), name: "race" })}`
      .run({ ...o, input: items });
    assert.deepEqual(one.output, ["first"]);
    assert.deepEqual(one.results.race, ["first"]);
    assert.ok(performance.now() - started < settleBound * 2);
  });

  test("strict group fails at the first failure; the others see their signal", async (o) => {
    const events: WorkflowEvent[] = [];
    const started = performance.now();
    const error = await flow`${parallel([T.slow, T.fastFail, T.slow2])} >> ${T.collect}`
      .run({ ...o, input: slowMs, onEvent: (e) => events.push(e) })
      .then(() => undefined, (e) => e);
    const elapsed = performance.now() - started;
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.deepEqual(error.failed.map((f) => f.taskId), ["ct_fast_fail"]);
    assert.deepEqual(error.succeeded, []);
    assert.ok(elapsed < settleBound, `settled after ${elapsed} ms`);
    assert.deepEqual(settled(events)[0].cancelled, ["ct_slow", "ct_slow2"]);
    const cancelled = events.filter((e) => e.type === "task.cancelled").map((e) =>
      (e as { taskId: string }).taskId
    );
    assert.deepEqual(cancelled.toSorted(), ["ct_slow", "ct_slow2"]);
    if (!suite.noAbortNotes) await sawAborts(o, ["ct_slow2", "ct_slow"]);
  });

  test("atLeast(2) group succeeds at the second success and drops the slow member", async (o) => {
    const started = performance.now();
    const g = parallel([T.fast, T.slow, T.fast2], { policy: atLeast(2) });
    const r = await flow`${g} >> ${T.collect}`.run({ ...o, input: slowMs });
    assert.deepEqual(r.output, { ct_fast: "fast", ct_fast2: "fast2" });
    assert.ok(performance.now() - started < settleBound);
    assert.ok(!("ct_slow" in r.results), "the cancelled member has no result");
  });

  test("firstSuccess group: the winner alone goes on", async (o) => {
    const g = parallel([T.slow, T.fast], { policy: firstSuccess() });
    const r = await flow`${g} >> ${T.collect}`.run({ ...o, input: slowMs });
    assert.deepEqual(r.output, { ct_fast: "fast" });
    if (!suite.noAbortNotes) await sawAborts(o, ["ct_slow"]);
  });

  test("critical group fails at its critical member's failure, cancelling chains inside", async (o) => {
    const chain = flow`${T.head} >> ${T.slow} >> ${T.tail}`;
    const nested = parallel([T.slow2, T.fast]);
    const g = parallel([chain, T.fastFail, flow`${nested}`], {
      name: "ct_crit",
      policy: critical(["ct_fast_fail"]),
    });
    const started = performance.now();
    const error = await flow`${g}`.run({ ...o, input: slowMs }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ParallelGroupError, String(error));
    assert.equal(error.groupId, "ct_crit");
    assert.ok(performance.now() - started < settleBound);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await o.channel!.has("tail_ran"), false, "nothing after a cancelled member ran");
    if (!suite.noAbortNotes) {
      // ct_slow follows ct_head: on a busy executor the group may settle before it starts.
      const started = (await o.channel!.get<string[]>("started")) ?? [];
      await sawAborts(o, ["ct_slow2", ...(started.includes("ct_slow") ? ["ct_slow"] : [])]);
    }
  });

  if (!suite.noIgnoring) {
    test("a cancelled member that ignores its signal never lands a result", async (o) => {
      const g = parallel([T.ignoresSignal, T.fast], { policy: firstSuccess() });
      // Warm up first: a cold Web Worker or process could start "fast" later than the other.
      await flow`${parallel([T.fast, T.fast2])}`.run(o);
      const r = await flow`${g}`.run(o);
      assert.deepEqual(r.output, { ct_fast: "fast" });
      await new Promise((resolve) => setTimeout(resolve, 1000)); // it has returned by now
      assert.ok(!("ct_ignores" in r.results), "no late result");
      assert.deepEqual(r.completed, ["ct_fast"]);
    });
  }

  test("NonRetryableError fails at once, keeps its class and code", async (o) => {
    const error = await flow`${T.nonRetryable}`.run(o).then(() => undefined, (e) => e);
    assert.ok(error instanceof TaskFailedError, String(error));
    assert.equal(error.name, "TaskFailedError", "not RetryLimitExceededError");
    assert.ok(error.cause instanceof NonRetryableError, `cause: ${error.cause}`);
    assert.equal((error.cause as NonRetryableError).code, "CT_INVALID");
    assert.equal(await o.channel!.get("attempts:ct_non_retryable"), 1);

    await flow`${T.notRetryableProp}`.run(o).catch(() => {});
    assert.equal(await o.channel!.get("attempts:ct_not_retryable_prop"), 1);
  });

  test("retryIf decides on the error's class: fatal fails at once, transient is retried", async (o) => {
    const error = await flow`${T.fatal}`.run(o).then(() => undefined, (e) => e);
    assert.ok(error instanceof TaskFailedError);
    assert.equal((error.cause as Error).name, "CtFatalError");
    assert.ok(error.cause instanceof T.CtFatalError, "rebuilt with its class");
    assert.equal(await o.channel!.get("attempts:ct_fatal"), 1);
    const r = await flow`${T.transient}`.run(o);
    assert.equal(r.output, 2);
    assert.equal(await o.channel!.get("attempts:ct_transient"), 2);
  });

  test("ctx.map from a task: its successors receive the results", async (o) => {
    const r = await flow`${T.list} >> ${T.mapper} >> ${T.sum}`.run({ ...o, input: 5 });
    assert.equal(r.output, 0 + 1 + 4 + 9 + 16);
    assert.deepEqual(r.results.ct_mapper, [0, 1, 4, 9, 16]);
  });
}

/**
 * Waits until the channel's `aborted` list has a note from each of these tasks (any order;
 * the reason differs by executor: `SETTLED_EARLY` in-process and on Web Workers, the backend's
 * cancellation code on Redis).
 */
async function sawAborts(o: RunOptions, expected: string[]): Promise<void> {
  const end = performance.now() + 10_000;
  for (;;) {
    const seen = (await o.channel!.get<string[]>("aborted")) ?? [];
    if (expected.every((x) => seen.some((note) => note.startsWith(`${x}:`)))) return;
    if (performance.now() > end) {
      assert.fail(`cancelled tasks did not note their signal: saw ${JSON.stringify(seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
