import assert from "assert";
import {
  bestEffort,
  flow,
  MemoryChannel,
  parallel,
  type RunResult,
  WorkerPool,
} from "../../mod.ts";
import { crashesLater, mark, quick, sleep } from "./fixtures/worker_tasks.ts";
import { waitFor } from "./wait_for.ts";

const quickGroup = parallel(quick, { executor: "workers" });

/** Runs every task once so that the pool knows them as short. */
async function teach(pool: WorkerPool): Promise<void> {
  await flow`${parallel([sleep, mark, ...quick], { executor: "workers" })}`.run({
    input: 0,
    handlers: { worker: pool },
  });
}

/** Starts a run of w_sleep(ms); resolves once the pool's only worker is busy with it. */
async function occupy(pool: WorkerPool, ms: number): Promise<{ run: Promise<RunResult> }> {
  const run = flow`${parallel([sleep], { executor: "workers" })}`.run({
    input: ms,
    handlers: { worker: pool },
  });
  await waitFor(() => pool.stats().busy === 1, "the long task to start");
  return { run };
}

Deno.test("Short tasks are sent ahead to a busy worker in one batch", async () => {
  await using pool = new WorkerPool({ size: 1, name: "pf", prefetchBudgetMs: 1000 });
  await teach(pool);
  // w_sleep is known as short but this time takes 300 ms: the quick tasks wait behind it.
  const { run: long } = await occupy(pool, 300);
  const run = flow`${quickGroup}`.run({ handlers: { worker: pool } });
  await waitFor(() => pool.stats().prefetched === 5, "the quick tasks to be sent ahead");
  assert.equal(pool.stats().queued, 0);
  const result = await run;
  assert.deepEqual(quick.map((t) => result.results[t.name]), quick.map(() => "pf-1"));
  await long;
});

for (
  const [label, options, learnLong] of [
    ["a task known to be long", { size: 1 }, true],
    ["prefetch: 0", { size: 1, prefetch: 0, prefetchBudgetMs: 1000 }, false],
  ] as const
) {
  Deno.test(`Short tasks wait in the pool, not in a worker busy with ${label}`, async () => {
    await using pool = new WorkerPool(options);
    await teach(pool);
    if (learnLong) await (await occupy(pool, 200)).run;
    const { run: long } = await occupy(pool, 200);
    const run = flow`${quickGroup}`.run({ handlers: { worker: pool } });
    await waitFor(() => pool.stats().queued === 5, "the quick tasks to wait in the pool");
    assert.equal(pool.stats().prefetched, 0);
    await Promise.all([long, run]);
  });
}

Deno.test("Tasks waiting behind a task that crashes its worker run again on a new worker", async () => {
  await using pool = new WorkerPool({ size: 1, name: "cr", prefetchBudgetMs: 1000 });
  await teach(pool);
  const group = parallel([crashesLater, ...quick], {
    executor: "workers",
    policy: bestEffort(),
  });
  const run = flow`${group}`.run({ handlers: { worker: pool } });
  await waitFor(() => pool.stats().prefetched === 5, "the quick tasks to be sent ahead");
  const result = await run;
  assert.equal("w_crashes_later" in result.results, false);
  assert.deepEqual(quick.map((t) => result.results[t.name]), quick.map(() => "cr-2"));
  assert.equal(pool.stats().crashed, 1);
  assert.equal(pool.stats().started, 2);
});

Deno.test("A task aborted while waiting in a worker settles at once and never runs", async () => {
  await using pool = new WorkerPool({ size: 1, prefetchBudgetMs: 1000 });
  await teach(pool);
  const { run: long } = await occupy(pool, 400);
  const channel = new MemoryChannel();
  const controller = new AbortController();
  const marked = flow`${parallel([mark], { executor: "workers" })}`
    .run({ handlers: { worker: pool }, channel, signal: controller.signal })
    .then(() => undefined, (e) => e);
  await waitFor(() => pool.stats().prefetched === 1, "the short task to be sent ahead");
  const t0 = performance.now();
  controller.abort(new Error("not needed any more"));
  const error = await marked;
  assert.equal(error?.message, "not needed any more");
  assert.ok(performance.now() - t0 < 200, "the waiting task settled only after the long one");
  assert.equal((await long).results.w_sleep, 400);
  await waitFor(() => pool.stats().busy === 0, "the worker to be idle");
  assert.equal(await channel.has("ran"), false);
  assert.equal(pool.stats().killed, 0);
});
