import assert from "assert";
import {
  bestEffort,
  flow,
  MemoryChannel,
  parallel,
  type RunResult,
  WorkerPool,
} from "../../mod.ts";
import { crashesLater, mark, markTimed, quick, sleep } from "./fixtures/worker_tasks.ts";
import { waitFor } from "./wait_for.ts";

const quickGroup = parallel(quick, { executor: "workers" });

/** Runs every task once so that the pool knows them as short. */
async function teach(pool: WorkerPool): Promise<void> {
  await flow`${parallel([sleep, mark, ...quick], { executor: "workers" })}`.run({
    input: 0,
    handlers: { worker: pool },
  });
  // Alone, on a warm worker (its 150 ms timeout counts while it waits in the pool).
  await flow`${parallel([markTimed], { executor: "workers" })}`.run({
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
  // w_sleep is known as short but this time takes 300 ms: the quick tasks of the same run wait
  // behind it.
  const run = flow`${parallel([sleep, ...quick], { executor: "workers" })}`.run({
    input: 300,
    handlers: { worker: pool },
  });
  await waitFor(() => pool.stats().prefetched === 5, "the quick tasks to be sent ahead");
  assert.equal(pool.stats().queued, 0);
  const result = await run;
  assert.deepEqual(quick.map((t) => result.results[t.name]), quick.map(() => "pf-1"));
  assert.equal(result.results.w_sleep, 300);
});

Deno.test("Tasks of another run are never sent ahead to a busy worker", async () => {
  await using pool = new WorkerPool({ size: 1, name: "pfx", prefetchBudgetMs: 1000 });
  await teach(pool);
  const { run: long } = await occupy(pool, 300);
  const run = flow`${quickGroup}`.run({ handlers: { worker: pool } });
  await waitFor(() => pool.stats().queued === 5, "the quick tasks to wait in the pool");
  assert.equal(pool.stats().prefetched, 0);
  await Promise.all([long, run]);
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
  const channel = new MemoryChannel();
  // w_mark_timed (timeoutMs: 150) is sent ahead behind w_sleep (400 ms) of the same run, and
  // times out while it waits there.
  const group = parallel([sleep, markTimed], { executor: "workers", policy: bestEffort() });
  const t0 = performance.now();
  const events: { type: string; taskId?: string; at: number }[] = [];
  const run = flow`${group}`.run({
    input: 400,
    handlers: { worker: pool },
    channel,
    onEvent: (e) => events.push({ ...e, at: performance.now() - t0 } as never),
  });
  await waitFor(() => pool.stats().prefetched === 1, "the short task to be sent ahead");
  const result = await run;
  const failed = events.find((e) => e.type === "task.failed" && e.taskId === "w_mark_timed");
  assert.ok(failed, "the waiting task failed");
  assert.ok(failed.at < 350, `the waiting task settled only after the long one (${failed.at} ms)`);
  assert.equal(result.results.w_sleep, 400);
  assert.equal("w_mark_timed" in result.results, false);
  await waitFor(() => pool.stats().busy === 0, "the worker to be idle");
  assert.equal(await channel.has("ran"), false);
  assert.equal(pool.stats().killed, 0);
});
