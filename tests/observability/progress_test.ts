/**
 * `run({ onProgress })` (counts and elapsed time on the run's clock) and `progressReporter()`
 * (a redrawn line on a terminal, plain periodic lines elsewhere).
 *
 * @module
 */
import assert from "assert";
import {
  flow,
  formatProgress,
  MemoryFeedbackStore,
  parallel,
  progressReporter,
  type RunProgress,
  task,
  type TaskContext,
} from "../../mod.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";

// Task names are process-global: everything in this file starts with "obspr_".

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

Deno.test("onProgress reports done, running, failed and waiting counts on the run's clock", async () => {
  const clock = new FakeClock();
  const gate = deferred();
  const store = new MemoryFeedbackStore();
  let flakyCalls = 0;
  const first = task("obspr_first", () => 1);
  const slow = task("obspr_slow", async () => {
    await gate.promise;
    return 2;
  });
  const flaky = task("obspr_flaky", () => {
    if (++flakyCalls === 1) throw new Error("once");
    return 3;
  }, { retries: { maxRetries: 1, initialDelayMs: 5000 } });
  const ask = task("obspr_ask", async (_: unknown, ctx: TaskContext) => {
    await ctx.requestFeedback({ type: "approval", prompt: "ok?", timeoutMs: 60_000 });
    return 4;
  });
  const broken = task("obspr_broken", () => {
    throw new Error("no");
  });
  const reports: RunProgress[] = [];
  const run = flow`${first} >> ${
    parallel([slow, flaky, ask, broken], {
      name: "obspr_g",
      policy: () => {},
    })
  }`.start({
    clock,
    feedbackStore: store,
    onProgress: (p) => reports.push(p),
    progressIntervalMs: 1000,
  });
  // Let the members start and the flaky one fail once, the asking one ask.
  while ((await store.list({ pending: true })).length === 0 || flakyCalls === 0) {
    await new Promise((r) => setTimeout(r, 2));
  }
  await clock.advance(1000);
  const mid = reports.at(-1)!;
  assert.deepEqual(
    { ...mid, runId: "" },
    {
      runId: "",
      flow: "",
      done: 1,
      running: 1, // obspr_slow (obspr_ask waits for a person, obspr_flaky for its retry)
      failed: 1,
      waiting: 2,
      elapsedMs: 1000,
      status: "running",
    },
  );
  gate.resolve();
  const [pending] = await store.list({ pending: true });
  await store.respond(pending.id, { approved: true, respondedAt: new Date().toISOString() });
  await clock.advance(5000); // the retry delay
  await run.result;
  const last = reports.at(-1)!;
  assert.equal(last.status, "completed");
  assert.deepEqual(
    [last.done, last.running, last.failed, last.waiting],
    [4, 0, 1, 0],
  );
});

Deno.test("onProgress and progressIntervalMs are checked", async () => {
  const t = task("obspr_checked", () => 1);
  await assert.rejects(flow`${t}`.run({ onProgress: 5 as never }), TypeError);
  await assert.rejects(flow`${t}`.run({ onProgress: () => {}, progressIntervalMs: 0 }), RangeError);
  await assert.rejects(
    flow`${t}`.run({ onProgress: () => {}, progressIntervalMs: Infinity }),
    RangeError,
  );
});

const at = (elapsedMs: number, status: RunProgress["status"] = "running"): RunProgress => ({
  runId: "r1",
  flow: "etl",
  done: elapsedMs / 1000,
  running: 1,
  failed: 0,
  waiting: 0,
  elapsedMs,
  status,
});

Deno.test("progressReporter redraws one line on a terminal and ends it", () => {
  const out: string[] = [];
  const r = progressReporter({ isTerminal: true, write: (t) => out.push(t) });
  r.onProgress(at(1000));
  r.onProgress(at(2000));
  r.onProgress(at(3000, "completed"));
  assert.deepEqual(out, [
    "\r\x1b[2Ketl: 1 done, 1 running, 0 failed, 0 waiting, 1.0s",
    "\r\x1b[2Ketl: 2 done, 1 running, 0 failed, 0 waiting, 2.0s",
    "\r\x1b[2Ketl: 3 done, 1 running, 0 failed, 0 waiting, 3.0s (completed)\n",
  ]);
});

Deno.test("progressReporter writes plain lines every intervalMs off a terminal, none for short runs", () => {
  const out: string[] = [];
  const r = progressReporter({ isTerminal: false, intervalMs: 10_000, write: (t) => out.push(t) });
  r.onProgress(at(1000));
  r.onProgress(at(2000, "completed"));
  assert.deepEqual(out, [], "a short run writes nothing");
  const long = progressReporter({
    isTerminal: false,
    intervalMs: 10_000,
    write: (t) => out.push(t),
  });
  for (let s = 1; s <= 25; s++) long.onProgress(at(s * 1000));
  long.onProgress(at(26_000, "failed"));
  assert.deepEqual(out.map((l) => l.split(", ").at(-1)), [
    "10.0s\n",
    "20.0s\n",
    "26.0s (failed)\n",
  ]);
  assert.equal(formatProgress(at(185_000)), "etl: 185 done, 1 running, 0 failed, 0 waiting, 3m05s");
  assert.equal(
    formatProgress(at(3_720_000), "all"),
    "all: 3720 done, 1 running, 0 failed, 0 waiting, 1h02m",
  );
});
