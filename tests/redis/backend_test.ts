import assert from "node:assert/strict";
import {
  atLeast,
  bestEffort,
  critical,
  flow,
  loadCheckpoint,
  parallel,
  ParallelGroupError,
  resume,
  RetryLimitExceededError,
  type Task,
  TaskFailedError,
} from "../../mod.ts";
import { Redis } from "ioredis";
import { redisBackend } from "../../src/redis/mod.ts";
import { RedisKeys } from "../../src/redis/keys.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { killAll, startWorkers, type WorkerProcess } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

let server: RedisServer | undefined;
let workers: WorkerProcess[] = [];
const prefix = randomPrefix();

async function setup(): Promise<string> {
  if (!server) {
    server = await RedisServer.start();
    workers = await startWorkers(2, server.url(), prefix, ["--concurrency", "8"]);
  }
  return server.url();
}

function pids(values: unknown[]): Set<number> {
  return new Set(values.map((v) => (v as { pid: number }).pid));
}

Deno.test({
  name: "Redis backend runs a join through two worker processes",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const r = await flow`${T.fetch} >> (${T.a} | ${T.b}) >> ${T.merge}`.run({ backend, input: 4 });
    assert.equal(r.status, "completed");
    assert.equal(r.output, 5 + 40);
    assert.notEqual((r.results.r_fetch as { pid: number }).pid, Deno.pid);
    assert.deepEqual(await r.channel.get("seen"), ["r_b"]);
  },
});

Deno.test({
  name: "Redis backend spreads tasks over both workers",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => flow`${T.sleeper}`.run({ backend, input: 30 + i })),
    );
    const seen = pids(runs.map((r) => r.output));
    assert.equal(seen.size, 2, `ran on ${[...seen]}`);
  },
});

Deno.test({
  name: "Redis backend: errors keep their class, strict groups fail, retries retry",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const e1 = await flow`${T.boom}`.run({ backend }).catch((e) => e);
    assert.ok(e1 instanceof TaskFailedError, String(e1));
    assert.ok(e1.cause instanceof RangeError);
    assert.equal(e1.cause.message, "boom on purpose");
    const e2 = await flow`${T.fetch} >> (${T.a} | ${T.boom}) >> ${T.merge}`.run({
      backend,
      input: 1,
    }).catch((e) => e);
    assert.ok(e2 instanceof ParallelGroupError, String(e2));
    assert.deepEqual(e2.failed.map((f: { taskId: string }) => f.taskId), ["r_boom"]);
    const r = await flow`${T.flaky}`.run({ backend });
    assert.deepEqual(r.output, { attempt: 3 });
    const e3 = await flow`${T.boom}`.run({ backend, maxSteps: 5 }).catch((e) => e);
    assert.ok(!(e3 instanceof RetryLimitExceededError));
  },
});

Deno.test({
  name: "Redis backend: loops, next, goto and terminate from workers",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const loop = await flow`${T.counter} >> ${T.after}`.run({ backend, input: 1 });
    assert.deepEqual(loop.output, { n: 4, total: 4 });
    assert.deepEqual(loop.completed, [
      "r_counter",
      "r_counter",
      "r_counter",
      "r_counter",
      "r_after",
    ]);
    const next = await flow`${T.spawner} >> ${T.after}`.run({ backend });
    assert.deepEqual(next.results.r_extra, "extra:7");
    assert.equal(next.results.r_after, "spawned");
    const jump = await flow`${T.jumper} >> ${T.skipped}`.run({ backend });
    assert.equal(jump.results.r_extra, "extra:9");
    assert.ok(!("r_skipped" in jump.results));
    const stop = await flow`${T.stopper} >> ${T.skipped}`.run({ backend });
    assert.equal(stop.status, "terminated");
    assert.ok(!("r_skipped" in stop.results));
  },
});

Deno.test({
  name: "Redis backend: ctx.result from a worker and structured values both ways",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const r = await flow`${T.fetch} >> ${T.reader}`.run({ backend, input: 3 });
    const out = r.output as { fetched: { n: number } };
    assert.equal(out.fetched.n, 3);
    // The run's queue bookkeeping (outcomes, calls, replies) is gone once it finished.
    const redis = new Redis(await setup());
    try {
      const k = new RedisKeys(prefix);
      assert.equal(
        await redis.exists(k.outcomes(r.runId), k.calls(r.runId), k.replies(r.runId)),
        0,
      );
    } finally {
      redis.disconnect();
    }
    const when = new Date("2024-01-01T00:00:00Z");
    const t = await flow`${T.types}`.run({
      backend,
      input: { when, big: 21n, m: new Map([["k", new Set([1, 2])]]) },
    });
    assert.deepEqual(t.output, {
      when: new Date(when.getTime() + 1000),
      big: 42n,
      m: new Map([["k", new Set([1, 2])]]),
      bytes: new Uint8Array([1, 2, 3]),
    });
  },
});

Deno.test({
  name: "Redis backend: aborting a run aborts the task on its worker",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const controller = new AbortController();
    const p = flow`${T.waitSignal}`.run({ backend, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort(new Error("stop now"));
    await assert.rejects(p, /stop now/);
  },
});

Deno.test({
  name: "Redis backend: group policies decide on outcomes from workers",
  ignore: NO_REDIS,
  async fn() {
    await using backend = await setup().then((url) => redisBackend({ url, prefix }));
    const members = [T.a, T.boom] as unknown as Task[];
    const best = await flow`${T.fetch} >> ${
      parallel(members, { policy: bestEffort() })
    } >> ${T.after}`.run({ backend, input: 1 });
    assert.deepEqual(best.output, { r_a: 2 });
    const crit = await flow`${T.fetch} >> ${
      parallel(members, { policy: critical(["r_a"]) })
    } >> ${T.after}`.run({ backend, input: 1 });
    assert.deepEqual(crit.output, { r_a: 2 });
    const least = await flow`${T.fetch} >> ${
      parallel(members, { policy: atLeast(2) })
    } >> ${T.after}`.run({ backend, input: 1 }).catch((e) => e);
    assert.ok(least instanceof ParallelGroupError, String(least));
    // atLeast(2) of two fails at the first failure: r_a, if still running then, is cancelled.
    assert.deepEqual(least.failed.map((f) => f.taskId), ["r_boom"]);
    assert.ok(least.succeeded.every((id) => id === "r_a"), String(least.succeeded));
  },
});

Deno.test({
  name: "Redis backend: a worker's deferred checkpoint, resumed with the backend",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: await setup(), prefix });
    const dir = await Deno.makeTempDir();
    try {
      const f = flow`${T.fetch} >> ${T.saver} >> ${T.b} >> ${T.after}`;
      const first = await f.run({ backend, input: 2, checkpointDir: dir });
      assert.equal(first.checkpoints.length, 1);
      const { metadata } = await loadCheckpoint(first.checkpoints[0]);
      assert.deepEqual(metadata.user, { from: "worker" });
      // Resume: the pending task (r_b) runs again on a worker, with the run's Redis channel.
      const again = await resume(first.checkpoints[0], { backend, flow: f });
      assert.equal(again.output, 60);
      assert.deepEqual(await again.channel.get("seen"), ["r_b", "r_b"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Redis backend tests: stop the workers and the server",
  ignore: NO_REDIS,
  async fn() {
    await killAll(workers);
    await server?.stop();
  },
});
