/**
 * `ProcessPool`: tasks in `deno run` subprocesses with their own permissions; fresh processes per
 * task by default; abort, timeouts, crashes and close.
 *
 * @module
 */
import assert from "assert";
import {
  flow,
  MemoryChannel,
  type ProcessOutputLine,
  ProcessPool,
  TaskFailedError,
  type WorkflowError,
} from "../../mod.ts";
import {
  chatty,
  nap,
  pathPicker,
  pid,
  quitter,
  reader,
  readHere,
  stubborn,
} from "./fixtures/process_tasks.ts";
import { waitFor } from "./wait_for.ts";

const READABLE = new URL("./fixtures/readable/inside.txt", import.meta.url).pathname;

async function failure(run: Promise<unknown>): Promise<WorkflowError> {
  const error = await run.then(() => assert.fail("the run succeeded"), (e: unknown) => e);
  assert.ok(error instanceof TaskFailedError, String(error));
  return error.cause as WorkflowError;
}

Deno.test("ProcessPool runs each task in a fresh subprocess by default, and reuses with maxTasksPerProcess", async () => {
  await using fresh = new ProcessPool({ size: 1 });
  const a = await flow`${pid}`.run({ handlers: { direct: fresh } });
  const b = await flow`${pid}`.run({ handlers: { direct: fresh } });
  assert.notEqual(a.output, Deno.pid);
  assert.notEqual(a.output, b.output);
  assert.equal(fresh.stats().started, 2);
  await using reused = new ProcessPool({ size: 1, maxTasksPerProcess: Infinity });
  const c = await flow`${pid}`.run({ handlers: { direct: reused } });
  const d = await flow`${pid}`.run({ handlers: { direct: reused } });
  assert.equal(c.output, d.output);
  assert.equal(reused.stats().started, 1);
});

Deno.test("a subprocess task uses the run's channel and results, and its output reaches onOutput", async () => {
  const lines: ProcessOutputLine[] = [];
  await using pool = new ProcessPool({ size: 1, onOutput: (l) => lines.push(l) });
  const channel = new MemoryChannel();
  const result = await flow`${pid} >> ${chatty}`.run({
    handlers: { direct: pool },
    channel,
    runId: "p-chatty",
  });
  const { echoed, earlier } = result.results.p_chatty as { echoed: unknown; earlier: unknown };
  assert.equal(earlier, result.results.p_pid);
  assert.equal(echoed, result.results.p_pid);
  assert.equal(await channel.get("seen"), result.results.p_pid);
  const text = `${result.results.p_pid}`;
  assert.ok(
    lines.some((l) =>
      l.stream === "stdout" && l.line === `out: ${text}` && l.taskId === "p_chatty" &&
      l.runId === "p-chatty"
    ),
  );
  assert.ok(lines.some((l) => l.stream === "stderr" && l.line === `err: ${text}`));
});

Deno.test("a subprocess gets the task's permissions: none cannot read, a read list reads only there", async () => {
  await using pool = new ProcessPool({ size: 1 });
  const denied = await failure(
    flow`${reader}`.run({ input: READABLE, handlers: { direct: pool } }),
  );
  assert.equal(denied.name, "NotCapable");
  assert.match(denied.message, /Requires read access/);
  const ok = await flow`${readHere}`.run({ input: READABLE, handlers: { direct: pool } });
  assert.equal(ok.output, "inside the readable folder\n");
  const outside = new URL(import.meta.url).pathname;
  const refused = await failure(
    flow`${readHere}`.run({ input: outside, handlers: { direct: pool } }),
  );
  assert.equal(refused.name, "NotCapable");
});

Deno.test("a checkpoint path chosen in a subprocess is refused", async () => {
  await using pool = new ProcessPool({ size: 1 });
  const result = await flow`${pathPicker}`.run({ handlers: { direct: pool } });
  assert.match(
    result.output as string,
    /^WorkflowError: Cannot checkpoint from the subprocess of task "p_path": a checkpoint path chosen in a subprocess is not accepted/,
  );
});

Deno.test("a task that ends its process fails alone with PROCESS_CRASHED and the last output", async () => {
  await using pool = new ProcessPool({ size: 2 });
  for (const how of ["exit", "rejection", "throw later"]) {
    const other = flow`${nap}`.run({ input: 300, handlers: { direct: pool } });
    const cause = await failure(flow`${quitter}`.run({ input: how, handlers: { direct: pool } }));
    assert.equal(cause.code, "PROCESS_CRASHED", `${how}: ${cause.message}`);
    assert.match(
      cause.message,
      /^Task "p_quit" crashed its subprocess: it exited with code \d+ without sending a result/,
    );
    assert.equal((await other).output, 300, "the other task went on");
  }
  assert.equal(pool.stats().crashed, 3);
});

Deno.test("an aborted task that ignores its signal is killed after terminateGraceMs", async () => {
  await using pool = new ProcessPool({ size: 1, terminateGraceMs: 200 });
  const controller = new AbortController();
  const run = flow`${stubborn}`.run({
    input: 60_000,
    handlers: { direct: pool },
    signal: controller.signal,
  });
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = performance.now();
  controller.abort(new Error("stop"));
  await run.catch(() => {});
  await waitFor(() => pool.stats().killed === 1, "the process to be killed");
  assert.ok(performance.now() - t0 < 5_000);
  await waitFor(() => pool.stats().busy === 0, "the pool to be idle");
  // A task that honours its signal is not killed.
  const polite = new AbortController();
  const second = flow`${nap}`.run({
    input: 60_000,
    handlers: { direct: pool },
    signal: polite.signal,
  });
  await new Promise((r) => setTimeout(r, 1500));
  polite.abort(new Error("stop"));
  await second.catch(() => {});
  await waitFor(() => pool.stats().busy === 0, "the polite task to end");
  assert.equal(pool.stats().killed, 1);
});

Deno.test("timeoutMs kills the process (PROCESS_TIMEOUT); 3e9 is honoured, not fired at once", async () => {
  await using pool = new ProcessPool({ size: 1, timeoutMs: 1_500 });
  const cause = await failure(flow`${stubborn}`.run({ input: 60_000, handlers: { direct: pool } }));
  assert.equal(cause.code, "PROCESS_TIMEOUT");
  await using long = new ProcessPool({ size: 1, timeoutMs: 3e9 });
  assert.equal((await flow`${nap}`.run({ input: 200, handlers: { direct: long } })).output, 200);
});

Deno.test("close() fails running and queued tasks with POOL_CLOSED and is idempotent", async () => {
  const pool = new ProcessPool({ size: 1 });
  const running = failure(flow`${nap}`.run({ input: 60_000, handlers: { direct: pool } }));
  const queued = failure(flow`${nap}`.run({ input: 1, handlers: { direct: pool } }));
  await new Promise((r) => setTimeout(r, 300));
  await pool.close();
  await pool.close();
  assert.equal((await running).code, "POOL_CLOSED");
  assert.equal((await queued).code, "POOL_CLOSED");
  assert.equal(pool.stats().processes, 0);
  assert.equal(
    (await failure(flow`${pid}`.run({ handlers: { direct: pool } }))).code,
    "POOL_CLOSED",
  );
});

Deno.test("ProcessPool refuses bad options with the value in the message", () => {
  assert.throws(() => new ProcessPool({ size: 0 }), {
    name: "RangeError",
    message: "Cannot create process pool: size must be a whole number >= 1, got 0",
  });
  assert.throws(() => new ProcessPool({ maxHeapMb: 8 }), RangeError);
  assert.throws(() => new ProcessPool({ maxTasksPerProcess: 0 }), RangeError);
  for (const value of [Infinity, NaN, -1, 0]) {
    assert.throws(() => new ProcessPool({ timeoutMs: value }), RangeError, String(value));
  }
  assert.throws(() => new ProcessPool({ terminateGraceMs: Infinity }), RangeError);
  assert.throws(() => new ProcessPool({ onOutput: 5 as never }), TypeError);
});
