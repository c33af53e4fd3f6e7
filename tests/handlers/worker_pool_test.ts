import assert from "assert";
import {
  flow,
  MemoryChannel,
  parallel,
  registerErrorClass,
  TaskFailedError,
  WorkerPool,
  WorkflowError,
} from "../../mod.ts";
import {
  added,
  addsNext,
  afterIterate,
  cancels,
  double,
  echo,
  first,
  iterate,
  never,
  QuotaError,
  sleep,
  terminates,
  throwsCoded,
  throwsCustom,
  throwsRange,
  useChannel,
  where,
} from "./fixtures/worker_tasks.ts";
import { waitFor } from "./wait_for.ts";

const FIXTURES = new URL("./fixtures/worker_tasks.ts", import.meta.url).href;

Deno.test("WorkerPool runs a task on a Web Worker and returns its result", async () => {
  await using pool = new WorkerPool({ size: 1, name: "rt" });
  const result = await flow`${parallel([double], { executor: "workers" })}`.run({
    input: 21,
    handlers: { worker: pool },
  });
  assert.deepEqual(result.results.w_double, { value: 42, thread: "rt-1" });
  assert.equal(pool.stats().started, 1);
});

Deno.test("WorkerPool carries structured data both ways", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const input = { n: 1, when: new Date(5), tags: new Set(["x"]), bytes: new Uint8Array([1, 2]) };
  const result = await flow`${parallel([echo], { executor: "workers" })}`.run({
    input,
    handlers: { worker: pool },
  });
  assert.deepEqual(result.results.w_echo, {
    got: input,
    at: new Date(0),
    big: 10n ** 20n,
    map: new Map([["k", new Set([1, 2])]]),
  });
});

Deno.test("WorkerPool refuses an input that cannot cross to a worker", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const error = await flow`${parallel([echo], { executor: "workers" })}`
    .run({ input: { f: () => 1 }, handlers: { worker: pool } })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof WorkflowError, String(error));
  const cause = (error as WorkflowError).cause as Error;
  assert.ok(cause instanceof TypeError);
  assert.match(cause.message, /input of task "w_echo": value\.f is a function/);
  assert.equal(pool.stats().started, 0);
});

Deno.test("WorkerPool rebuilds task errors with class, message, code and stack", async () => {
  registerErrorClass(QuotaError);
  await using pool = new WorkerPool({ size: 2 });
  const inGroup = (t: typeof throwsRange) =>
    flow`${parallel([t], { executor: "workers" })}`.run({ handlers: { worker: pool } }).then(
      () => assert.fail("the run should fail"),
      (e) => e.failed[0].error as Error & { code?: string },
    );

  const range = await inGroup(throwsRange);
  assert.ok(range instanceof RangeError);
  assert.equal(range.message, "out of range: 42");
  assert.ok(String(range.stack).includes(FIXTURES), range.stack);
  assert.ok(String(range.stack).includes("web_worker.ts"), range.stack);

  const coded = await inGroup(throwsCoded);
  assert.ok(coded instanceof WorkflowError);
  assert.equal(coded.code, "QUOTA");
  assert.equal(coded.message, "quota exhausted");

  const custom = await inGroup(throwsCustom);
  assert.ok(custom instanceof QuotaError);
  assert.equal(custom.name, "QuotaError");
  assert.equal(custom.message, "over quota by 3");
  assert.ok(String(custom.stack).includes(FIXTURES), custom.stack);
});

Deno.test("A worker task's failure outside a group is a TaskFailedError with the cause", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const error = await flow`${first} >> ${throwsRange}`
    .run({ handlers: { direct: pool } })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.taskId, "w_throws_range");
  assert.ok(error.cause instanceof RangeError);
  assert.equal((error.cause as Error).message, "out of range: 42");
});

Deno.test("ctx.channel and ctx.result work from inside a worker", async () => {
  await using pool = new WorkerPool({ size: 1, name: "ctx" });
  const channel = new MemoryChannel();
  await channel.set("seed", new Map([["s", 1n]]));
  await channel.set("count", 10);
  const result = await flow`${first} >> ${parallel([useChannel], { executor: "workers" })}`.run({
    handlers: { worker: pool },
    channel,
  });
  const out = result.results.w_use_channel as Record<string, unknown>;
  assert.equal(out.thread, "ctx-1");
  assert.equal(out.count, 15);
  assert.equal(out.length, 1);
  assert.deepEqual(out.seeded, new Map([["s", 1n]]));
  assert.equal(out.previous, "first-result");
  assert.match(out.refused as string, /^TypeError: Cannot store channel set argument 2/);
  assert.deepEqual(await channel.get("from_worker"), {
    input: "first-result",
    tags: new Set(["a", "b"]),
  });
  assert.deepEqual(await channel.get("log"), ["w_use_channel"]);
  assert.equal(await channel.has("bad"), false);
});

Deno.test("ctx.next from a worker adds a task that runs after it", async () => {
  await using pool = new WorkerPool({ size: 1, name: "nx" });
  const result = await flow`${parallel([addsNext], { executor: "workers" })}`.run({
    handlers: { worker: pool },
  });
  assert.deepEqual(result.results.w_added, { added: { from: "worker" }, thread: "main" });
  assert.deepEqual(result.completed, ["w_adds_next", "w_added"]);
  void added;
});

Deno.test("ctx.nextIteration from a worker repeats the task, then its successor runs once", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const result = await flow`${parallel([iterate], { executor: "workers" })} >> ${afterIterate}`
    .run({ input: 1, handlers: { worker: pool } });
  assert.deepEqual(result.completed, ["w_iterate", "w_iterate", "w_iterate", "w_after_iterate"]);
  assert.equal(result.output, "done at 3");
});

Deno.test("ctx.terminate and ctx.cancel from a worker end the run", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const terminated = await flow`${parallel([terminates], { executor: "workers" })} >> ${never}`
    .run({ handlers: { worker: pool } });
  assert.equal(terminated.status, "terminated");
  assert.deepEqual(terminated.completed, ["w_terminates"]);

  const error = await flow`${parallel([cancels], { executor: "workers" })} >> ${never}`
    .run({ handlers: { worker: pool } })
    .then(() => undefined, (e) => e);
  assert.equal(error?.name, "WorkflowCanceledError");
  assert.equal(error.code, "CANCELED");
  assert.equal(error.taskId, "w_cancels");
  assert.equal(error.reason, "stop here");
});

Deno.test("WorkerPool reuses its workers across groups and runs", async () => {
  await using pool = new WorkerPool({ size: 2, name: "reuse" });
  const threads = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const result = await flow`${parallel([where, sleep], { executor: "workers" })} >> ${
      parallel([double], { executor: "workers" })
    }`.run({ input: 20, handlers: { worker: pool } });
    threads.add(result.results.w_where as string);
    threads.add((result.results.w_double as { thread: string }).thread);
  }
  assert.equal(pool.stats().started, 2);
  assert.deepEqual([...threads].sort(), ["reuse-1", "reuse-2"]);
});

Deno.test("WorkerPool runs at most size tasks at once", async () => {
  await using pool = new WorkerPool({ size: 2 });
  const group = parallel([sleep, where, double], { executor: "workers" });
  const running = flow`${group}`.run({ input: 150, handlers: { worker: pool } });
  await waitFor(() => pool.stats().busy === 2, "two tasks to start");
  assert.equal(pool.stats().queued, 1);
  await running;
  assert.equal(pool.stats().started, 2);
});

Deno.test("WorkerPool.close fails running and later tasks with POOL_CLOSED and is idempotent", async () => {
  const pool = new WorkerPool({ size: 1 });
  const running = flow`${parallel([sleep], { executor: "workers" })}`
    .run({ input: 5000, handlers: { worker: pool } })
    .then(() => undefined, (e) => e);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pool.stats().busy, 1);
  await pool.close();
  await pool.close();
  const error = await running;
  assert.equal(error?.failed?.[0]?.error?.code, "POOL_CLOSED");
  assert.equal(pool.stats().workers, 0);
  const later = await flow`${parallel([double], { executor: "workers" })}`
    .run({ input: 1, handlers: { worker: pool } })
    .then(() => undefined, (e) => e);
  assert.equal(later.failed[0].error.code, "POOL_CLOSED");
  assert.match(
    later.failed[0].error.message,
    /Cannot run task "w_double" in a Web Worker: the worker pool is closed/,
  );
});

Deno.test("WorkerPool terminates its workers after idleTimeoutMs and starts again on demand", async () => {
  await using pool = new WorkerPool({ size: 1, idleTimeoutMs: 30 });
  const group = parallel([double], { executor: "workers" });
  await flow`${group}`.run({ input: 1, handlers: { worker: pool } });
  assert.equal(pool.stats().workers, 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(pool.stats().workers, 0);
  const again = await flow`${group}`.run({ input: 2, handlers: { worker: pool } });
  assert.equal((again.results.w_double as { value: number }).value, 4);
  assert.equal(pool.stats().started, 2);
});

Deno.test("WorkerPool refuses bad options with the value in the message", () => {
  assert.throws(() => new WorkerPool({ size: 0 }), {
    name: "RangeError",
    message: "Cannot create worker pool: size must be a whole number >= 1, got 0",
  });
  assert.throws(() => new WorkerPool({ size: 1.5 }), RangeError);
  assert.throws(() => new WorkerPool({ terminateGraceMs: -1 }), {
    name: "RangeError",
    message: "Cannot create worker pool: terminateGraceMs must be a finite number >= 0, got -1",
  });
  assert.throws(() => new WorkerPool({ idleTimeoutMs: Number.NaN }), RangeError);
  assert.throws(() => new WorkerPool({ prefetch: -1 }), {
    name: "RangeError",
    message: "Cannot create worker pool: prefetch must be a whole number >= 0, got -1",
  });
  assert.throws(() => new WorkerPool({ name: 7 as unknown as string }), {
    name: "TypeError",
    message: "Cannot create worker pool: name must be a string, got number",
  });
});
