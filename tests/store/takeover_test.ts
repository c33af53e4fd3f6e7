// deno-lint-ignore-file no-console
/**
 * Runs outlive the process that started them: owners SIGKILLed at random points of a flow with
 * a group, a loop, a task added at run time and the channel — in-process, and with the Redis
 * backend on 2 worker processes — are continued by an orchestrator process within 1 s of their
 * lease expiring, to the same output, results and completed tasks as an uninterrupted run, each
 * task execution's result recorded once.
 *
 * @module
 */
import assert from "assert";
import type { RunRecord, RunStore } from "../../mod.ts";
import { openStore } from "./fixtures/open_store.ts";
import { rebuildState } from "../../src/run/recorded_run.ts";
import { durable } from "./fixtures/durable_flow.ts";
import { Prng } from "../dsl/prng.ts";
import { tempDir } from "../checkpoint/helpers.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";
import { killAll, WorkerProcess } from "../redis/workers.ts";

const FLOW = new URL("./fixtures/durable_flow.ts", import.meta.url);
const ORCHESTRATE = new URL("./fixtures/orchestrate.ts", import.meta.url);
const KILLS = 20;

/** An uninterrupted run, and how many task results it records. */
async function uninterrupted(dir: string, extra: string[]) {
  // The store: `dir`, or the Redis store when the runs use Redis.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", FLOW.href, dir, "plain", ...extra],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(text.split("\n").find((l) => l.startsWith("result "))!.slice(7));
  await using store = openStore(dir);
  return { tasks: await okCount(store, "plain"), result };
}

/** Task results recorded in a run's journal so far. */
async function okCount(store: RunStore, runId: string): Promise<number> {
  return (await store.entries(runId)).filter((e) => (e.tr as { t: string }).t === "ok").length;
}

/** Starts an owner process and SIGKILLs it once `k` task results are in its journal. */
async function startAndKill(
  store: RunStore,
  dir: string,
  runId: string,
  k: number,
  extra: string[],
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", FLOW.href, dir, runId, ...extra],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  let done = false;
  child.status.then(() => (done = true));
  const ready = async () =>
    (await store.get(runId)) !== undefined && (await okCount(store, runId)) >= k;
  while (!done && !(await ready().catch(() => false))) {
    await new Promise((r) => setTimeout(r, 10));
  }
  try {
    child.kill("SIGKILL");
  } catch { /* it finished first: the caller sees it in the status */ }
  const status = await child.status;
  // The dead owner's last lease (nobody may take the run before it expires).
  return { status, record: (await store.get(runId))! };
}

/** An orchestrator child that reports its events. */
function orchestrator(dir: string, extra: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ORCHESTRATE.href, dir, ...extra],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const events: { type: string; runId?: string; at: number; fence?: number }[] = [];
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line.startsWith("{")) events.push(JSON.parse(line));
    }
  })();
  return {
    events,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}

async function takeover(extra: string[]) {
  await using tmp = await tempDir();
  // With Redis, the runs are recorded in redisRunStore on the same server.
  const dir = { path: extra.length ? `${extra[0]}#${extra[1]}-store` : tmp.path };
  const plain = await uninterrupted(dir.path, extra);
  assert.equal(plain.tasks, 9, "fetch, left, right, refine ×4, publish, audit");
  await using store = openStore(dir.path);
  // The orchestrator runs before the owners die, as it would in a deployment.
  const orch = orchestrator(dir.path, extra);
  const startBy = Date.now() + 30_000;
  while (!orch.events.some((e) => e.type === "started")) {
    assert.ok(Date.now() < startBy, "the orchestrator did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  const rng = new Prng(extra.length ? 7 : 3);
  const points = Array.from({ length: KILLS }, () => rng.int(plain.tasks - 1));
  // 20 owners at once, each SIGKILLed once a random number of task results (0-7) is recorded.
  // Five owners at a time; an owner that finished before its kill landed is started again under
  // another id (the point stays the same), so that 20 runs really lose their owner.
  const atDeath = new Map<string, RunRecord>();
  const ids: string[] = [];
  for (let batch = 0; batch < KILLS; batch += 5) {
    await Promise.all(
      points.slice(batch, batch + 5).map(async (k, j) => {
        for (let attempt = 0;; attempt++) {
          const runId = `kill-${batch + j}-${attempt}`;
          const { status, record } = await startAndKill(store, dir.path, runId, k, extra);
          if (status.signal !== "SIGKILL") {
            assert.ok(attempt < 3, `${runId} (kill after ${k} results) finished before each kill`);
            continue;
          }
          assert.equal(record.status, "running", `${runId} left running by its dead owner`);
          atDeath.set(runId, record);
          ids.push(runId);
          return;
        }
      }),
    );
  }
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { runs } = await store.list({ limit: 100 });
      const open = runs.filter((r) => ids.includes(r.runId) && r.status !== "completed");
      if (!open.length) break;
      assert.ok(Date.now() < deadline, `still open: ${open.map((r) => `${r.runId} ${r.status}`)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await orch.stop();
  }
  const lateness: number[] = [];
  for (const runId of ids) {
    const record = (await store.get(runId))!;
    assert.deepEqual(record.output, plain.result.output, `${runId}: output`);
    // Continued once, within 1 s of the dead owner's lease expiring.
    const continued = orch.events.filter((e) => e.type === "continued" && e.runId === runId);
    assert.equal(continued.length, 1, `${runId} continued once`);
    const late = continued[0].at - atDeath.get(runId)!.leaseUntil!;
    lateness.push(late);
    assert.ok(late <= 1000, `${runId} continued ${late} ms after its lease expired`);
    // The journal rebuilds the uninterrupted run's state.
    const state = await rebuildState(store, runId, durable.graph, durable.plan());
    assert.deepEqual([...state.completed].sort(), [...plain.result.completed].sort(), runId);
    assert.deepEqual(state.output, plain.result.output);
    const oks = (await store.entries(runId)).map((e) => e.tr as { t: string; step?: number })
      .filter((t) => t.t === "ok").map((t) => t.step);
    assert.equal(new Set(oks).size, oks.length, `${runId}: a result recorded twice`);
    assert.equal(oks.length, plain.result.completed.length, `${runId}: every result recorded`);
  }
  return lateness;
}

Deno.test({
  name:
    "owners SIGKILLed at 20 random points are continued by an orchestrator process (in-process tasks)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const lateness = await takeover([]);
    console.log(`takeover after lease expiry, in-process: max ${Math.max(...lateness)} ms`);
  },
});

Deno.test({
  name:
    "owners SIGKILLed at 20 random points are continued by an orchestrator process (Redis backend, 2 workers, redisRunStore)",
  ignore: NO_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const workers = [0, 1].map(() =>
      new WorkerProcess([
        "--redis",
        server.url(),
        "--prefix",
        prefix,
        "--module",
        FLOW.href,
        "--concurrency",
        "50",
      ])
    );
    try {
      await Promise.all(workers.map((w) => w.started()));
      const lateness = await takeover([server.url(), prefix]);
      console.log(`takeover after lease expiry, Redis: max ${Math.max(...lateness)} ms`);
    } finally {
      await killAll(workers);
    }
  },
});
