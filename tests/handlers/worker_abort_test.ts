import assert from "assert";
import { bestEffort, flow, MemoryChannel, parallel, WorkerPool } from "../../mod.ts";
import {
  closesWorker,
  crashesRejection,
  crashesUncaught,
  double,
  exitsWorker,
  ignoresAbort,
  sleep,
  spinsLong,
  timesOut,
  waitsForAbort,
} from "./fixtures/worker_tasks.ts";
import { waitFor } from "./wait_for.ts";

Deno.test("Canceling a run aborts ctx.signal of its task in a worker", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const channel = new MemoryChannel();
  const controller = new AbortController();
  const run = flow`${parallel([waitsForAbort], { executor: "workers" })}`
    .run({ handlers: { worker: pool }, channel, signal: controller.signal })
    .then(() => undefined, (e) => e);
  await waitFor(() => channel.has("started"), "the task to start");
  controller.abort(new RangeError("user pressed stop"));
  const error = await run;
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, "user pressed stop");
  // The run rejects at once; the task in the worker sees its signal abort.
  await waitFor(() => channel.has("saw_abort"), "the worker to see the abort");
  assert.deepEqual(await channel.get("saw_abort"), {
    name: "RangeError",
    message: "user pressed stop",
  });
  assert.equal(pool.stats().killed, 0);
  assert.equal(pool.stats().workers, 1);
});

Deno.test("A timeout aborts ctx.signal of a task in a worker", async () => {
  await using pool = new WorkerPool({ size: 1 });
  // The worker is up first: on a busy machine, starting it can take longer than the 100 ms
  // timeout, and a task timed out before it started never sees its signal.
  await flow`${parallel([double], { executor: "workers" })}`
    .run({ input: 1, handlers: { worker: pool } });
  const channel = new MemoryChannel();
  const error = await flow`${parallel([timesOut], { executor: "workers" })}`
    .run({ handlers: { worker: pool }, channel })
    .then(() => undefined, (e) => e);
  assert.equal(error?.failed?.[0]?.error?.name, "TaskTimeoutError");
  await waitFor(() => channel.has("saw_timeout"), "the worker to see the timeout");
  assert.deepEqual(await channel.get("saw_timeout"), {
    name: "TaskTimeoutError",
    message: 'Task "w_times_out" timed out: no result after 100 ms',
  });
  await waitFor(() => pool.stats().busy === 0, "the worker to be free");
  assert.equal(pool.stats().killed, 0);
});

Deno.test("A task that ignores its signal past the grace period loses its worker, and only that task fails", async () => {
  await using pool = new WorkerPool({ size: 2, terminateGraceMs: 200, name: "grace" });
  const t0 = performance.now();
  const result = await flow`${
    parallel([ignoresAbort, sleep], { executor: "workers", policy: bestEffort() })
  }`.run({ input: 800, handlers: { worker: pool } });
  const elapsed = performance.now() - t0;
  assert.deepEqual(result.results.w_sleep, 800);
  assert.ok(elapsed < 3000, `the run took ${elapsed} ms; the spinning task was not stopped`);
  await waitFor(() => pool.stats().killed === 1, "the grace-period kill");
  assert.equal(pool.stats().workers, 1);
  // The pool replaces the killed worker on demand.
  const again = await flow`${parallel([double, sleep], { executor: "workers" })}`
    .run({ input: 50, handlers: { worker: pool } });
  assert.equal((again.results.w_double as { value: number }).value, 100);
  assert.equal(pool.stats().started, 3);
  assert.equal(pool.stats().workers, 2);
});

Deno.test("A canceled task that keeps spinning loses its worker after the grace period", async () => {
  await using pool = new WorkerPool({ size: 1, terminateGraceMs: 100 });
  const controller = new AbortController();
  const spinning = parallel([spinsLong], { executor: "workers" });
  const run = flow`${spinning}`.run({ handlers: { worker: pool }, signal: controller.signal })
    .then(() => undefined, (e) => e);
  await waitFor(() => pool.stats().busy === 1, "the task to start");
  const t0 = performance.now();
  controller.abort(new Error("stop"));
  const error = await run;
  assert.equal(error?.message, "stop");
  await waitFor(() => pool.stats().killed === 1, "the grace-period kill");
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 90 && elapsed < 2000, `killed after ${elapsed} ms`);
  assert.equal(pool.stats().workers, 0);
});

for (
  const [label, crasher, reason] of [
    [
      "an uncaught error",
      crashesUncaught,
      /crashed its Web Worker: uncaught error in the worker: TypeError: stray timer error/,
    ],
    [
      "an unhandled rejection",
      crashesRejection,
      /crashed its Web Worker: unhandled rejection in the worker: Error: nobody handles this/,
    ],
    [
      "self.close()",
      closesWorker,
      /crashed its Web Worker: the worker ended itself \(self\.close\(\)\)/,
    ],
    [
      "Deno.exit()",
      exitsWorker,
      /crashed its Web Worker: the worker ended itself \(Deno\.exit\(3\)\)/,
    ],
  ] as const
) {
  Deno.test(`A worker crash by ${label} fails only its task and the pool replaces the worker`, async () => {
    await using pool = new WorkerPool({ size: 2 });
    const result = await flow`${
      parallel([crasher, sleep], { executor: "workers", policy: bestEffort() })
    }`.run({ input: 300, handlers: { worker: pool }, onEvent: undefined });
    assert.equal(result.results.w_sleep, 300);
    assert.equal(crasher.name in result.results, false);
    assert.equal(pool.stats().crashed, 1);
    const failure = await flow`${parallel([crasher], { executor: "workers" })}`
      .run({ handlers: { worker: pool } })
      .then(() => undefined, (e) => e.failed[0].error);
    assert.equal(failure?.name, "WorkflowError");
    assert.equal(failure.code, "WORKER_CRASHED");
    assert.match(failure.message, new RegExp(`^Task "${crasher.name}" ` + reason.source.slice(0)));
    if (!label.endsWith("()")) assert.ok(failure.cause instanceof Error);
    const again = await flow`${parallel([double], { executor: "workers" })}`
      .run({ input: 4, handlers: { worker: pool } });
    assert.equal((again.results.w_double as { value: number }).value, 8);
    assert.equal(pool.stats().crashed, 2);
  });
}
