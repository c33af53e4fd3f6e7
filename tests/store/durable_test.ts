/**
 * Durable runs across processes and in one: two orchestrators racing for the same runs, one
 * idempotency key from two processes, cancel and retry from elsewhere, a long run rebuilt from
 * its journal in bounded time, and a changed flow refused by name.
 *
 * @module
 */
import assert from "assert";
import { flow, localRunStore, registerFlow, task, type TaskContext } from "../../mod.ts";
import { rebuildState } from "../../src/run/recorded_run.ts";
import { taskAttempts } from "../../src/store/run_history.ts";
import { continueRun } from "../../src/run/continue_run.ts";
import { runOrchestrator } from "../../src/worker/mod.ts";
import { tempDir } from "../checkpoint/helpers.ts";
import { durable } from "./fixtures/durable_flow.ts";

const ORCHESTRATE = new URL("./fixtures/orchestrate.ts", import.meta.url);
const KEYED = new URL("./fixtures/keyed_run.ts", import.meta.url);

function child(script: URL, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script.href, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
}

async function until(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name: "two orchestrator processes racing for 10 expired runs: each run is driven by exactly one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir();
    await using store = localRunStore({ dir: dir.path, pollMs: 20 });
    // Ten runs whose owner "died": recorded as running, with a lease that has already expired.
    for (let i = 0; i < 10; i++) {
      await store.create({
        runId: `race-${i}`,
        flow: "durable_demo",
        version: durable.version,
        graph: (await import("../../src/graph/graph_version.ts")).graphShape(durable.graph),
        input: 5,
        status: "running",
        owner: "dead-owner",
        leaseMs: 1,
      });
    }
    const procs = [0, 1].map(() => child(ORCHESTRATE, [dir.path]).spawn());
    try {
      await until(
        "every run completed",
        async () => (await store.list({ status: "completed" })).runs.length === 10,
      );
    } finally {
      for (const p of procs) p.kill("SIGTERM");
    }
    const outs = await Promise.all(procs.map((p) => p.output()));
    const continued = outs.flatMap((o) =>
      new TextDecoder().decode(o.stdout).split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l)).filter((e) => e.type === "continued")
    );
    const byRun = new Map<string, number>();
    for (const e of continued) byRun.set(e.runId, (byRun.get(e.runId) ?? 0) + 1);
    assert.equal(byRun.size, 10, JSON.stringify(continued));
    for (const [runId, count] of byRun) assert.equal(count, 1, `${runId} driven ${count} times`);
    for (let i = 0; i < 10; i++) {
      const r = (await store.get(`race-${i}`))!;
      assert.equal(r.fence, 2, "taken exactly once after its creator");
      const oks = (await store.entries(r.runId)).filter((e) => (e.tr as { t: string }).t === "ok");
      assert.equal(oks.length, 9, "each task's result recorded once");
    }
  },
});

Deno.test({
  name: "one idempotency key from two processes at once: one run, the same result for both",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir();
    const outs = await Promise.all(
      [0, 1].map(() => child(KEYED, [dir.path, "nightly-2026-12-01"]).output()),
    );
    const results = outs.map((o) => {
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      const line = new TextDecoder().decode(o.stdout).split("\n").find((l) =>
        l.startsWith("result ")
      )!;
      return JSON.parse(line.slice(7));
    });
    assert.equal(results[0].runId, results[1].runId);
    assert.deepEqual(results[0].output, results[1].output);
    await using store = localRunStore({ dir: dir.path });
    const { runs } = await store.list();
    assert.equal(runs.length, 1);
    assert.equal(runs[0].idempotencyKey, "nightly-2026-12-01");
    const starts = (await store.entries(runs[0].runId)).filter((e) =>
      (e.tr as { t: string }).t === "begin"
    );
    assert.equal(starts.length, 1, "the flow ran once");
  },
});

/** A flow that waits until told to go on, to cancel or retry it from outside. */
let gate: PromiseWithResolvers<void> = Promise.withResolvers();
let failOnce = true;
const waitForGate = task("dur_gate", async (x: number, ctx: TaskContext) => {
  await Promise.race([
    gate.promise,
    new Promise((_, reject) =>
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
    ),
  ]);
  return x + 1;
});
const flaky = task("dur_flaky", (x: number) => {
  if (failOnce) throw new RangeError("down for maintenance");
  return x * 10;
});
const after = task("dur_after", (x: number) => ({ done: x }));
const gated = registerFlow("dur_gated", flow`${waitForGate} >> ${flaky} >> ${after}`);

Deno.test("store.cancel from elsewhere stops a running run through its owner's lease renewal", async () => {
  await using dir = await tempDir();
  await using store = localRunStore({ dir: dir.path, pollMs: 20 });
  gate = Promise.withResolvers();
  const run = gated.start({ store, input: 1, leaseMs: 300 });
  await until("the run is recorded", async () => (await store.get(run.runId)) !== undefined);
  await store.cancel(run.runId);
  await assert.rejects(run.result, { code: "RUN_CANCELLED" });
  const r = (await store.get(run.runId))!;
  assert.equal(r.status, "cancelled");
  assert.equal(r.owner, undefined);
});

Deno.test("store.retry continues a failed run from its failed task, keeping completed results", async () => {
  await using dir = await tempDir();
  await using store = localRunStore({ dir: dir.path, pollMs: 20 });
  gate = Promise.withResolvers();
  gate.resolve();
  failOnce = true;
  const first = await gated.run({ store, input: 1 }).catch((e) => e);
  assert.equal(first.code, "TASK_FAILED");
  const runId = (await store.list()).runs[0].runId;
  assert.equal((await store.get(runId))!.status, "failed");
  failOnce = false;
  await store.retry(runId);
  await using orchestrator = await runOrchestrator({ store, intervalMs: 50 });
  await until(
    "the retried run completed",
    async () => (await store.get(runId))!.status === "completed",
  );
  const r = (await store.get(runId))!;
  assert.deepEqual(r.output, { done: 20 });
  const takes = (await store.entries(runId)).map((e) => e.tr as { t: string; task?: string })
    .filter((t) => t.t === "take").map((t) => t.task);
  assert.deepEqual(takes, ["dur_gate", "dur_flaky", "dur_after"], "dur_gate did not run again");
  const entries = await store.entries(runId);
  assert.equal(entries.filter((e) => (e.tr as { t: string }).t === "retried").length, 1);
  const attempts = taskAttempts(entries).map((a) => `${a.taskId}#${a.attempt}:${a.status}`);
  assert.deepEqual(attempts, [
    "dur_gate#1:succeeded",
    "dur_flaky#1:failed",
    "dur_flaky#2:succeeded",
    "dur_after#1:succeeded",
  ]);
  // The retried journal still rebuilds (another process, the server): the failure is undone.
  const state = await rebuildState(store, runId, gated.graph, gated.plan());
  assert.equal(state.stop, undefined);
  assert.deepEqual(state.output, { done: 20 });
  await orchestrator.stop();
});

Deno.test("continuing a run whose flow changed is refused with an error naming the change", async () => {
  await using dir = await tempDir();
  await using store = localRunStore({ dir: dir.path });
  const a = task("dur_v_a", () => 1);
  const b = task("dur_v_b", () => 2);
  const c = task("dur_v_c", () => 3);
  const v1 = flow`${a} >> ${b}`;
  const { graphShape } = await import("../../src/graph/graph_version.ts");
  await store.create({
    runId: "changed",
    flow: "dur_versioned",
    version: (await import("../../src/graph/graph_version.ts")).graphVersion(v1.graph),
    graph: graphShape(v1.graph),
    input: 0,
    status: "queued",
  });
  const lease = (await store.acquire("changed", "me", 1000))!;
  const v2 = registerFlow("dur_versioned", flow`${a} >> ${c}`);
  const run = await continueRun(store, (await store.get("changed"))!, lease, v2);
  assert.equal(run, undefined);
  const r = (await store.get("changed"))!;
  assert.equal(r.status, "failed");
  assert.equal(r.error!.code, "GRAPH_VERSION_MISMATCH");
  assert.match(r.error!.message, /task "dur_v_c" was added; task "dur_v_b" was removed/);
  assert.match(r.error!.message, /edge "dur_v_a -> dur_v_c" was added/);
});

Deno.test("a run of 100,000 steps is rebuilt from its journal in bounded time", async () => {
  await using dir = await tempDir();
  await using store = localRunStore({ dir: dir.path });
  const loop = task("dur_long_loop", (n: number, ctx: TaskContext) => {
    if (ctx.cycle < n) ctx.nextIteration(n);
    return ctx.cycle;
  }, { maxCycles: 200_000 });
  const long = registerFlow("dur_long", flow`${loop}`);
  const t0 = performance.now();
  const result = await long.run({ store, input: 100_000, maxSteps: 100_000 });
  const runMs = performance.now() - t0;
  assert.equal(result.steps, 100_000);
  const journal = await store.journal(result.runId);
  assert.ok(journal.snapshot, "snapshots were taken");
  assert.ok(
    journal.entries.length <= 10_000,
    `${journal.entries.length} entries after the snapshot`,
  );
  const t1 = performance.now();
  const state = await rebuildState(store, result.runId, long.graph, long.plan());
  const rebuildMs = performance.now() - t1;
  assert.equal(state.steps, 100_000);
  assert.equal(state.output, 100_000);
  // Bounded: one snapshot plus at most 10,000 entries, whatever the run's length.
  assert.ok(rebuildMs < 5_000, `rebuilt in ${rebuildMs} ms (the run took ${runMs} ms)`);
});
