import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { flow, parallel } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { RedisKeys } from "../../src/redis/keys.ts";
import { runWorker } from "../../src/worker/mod.ts";
import { checkHealth } from "../../src/worker/worker_health.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { WorkerProcess } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

async function waitFor(f: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "SIGTERM: in-flight tasks finish within the grace period, the rest are handed back at once",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    const redis = new Redis(server.url());
    const args = ["--redis", server.url(), "--prefix", prefix, "--module", T.TASKS_URL];
    // A long lease: nothing may wait for it.
    const lease = ["--lease-ms", "60000", "--concurrency", "3"];
    await using w1 = new WorkerProcess([...args, ...lease, "--grace-ms", "400"]);
    const first = await w1.started();
    await using backend = redisBackend({ url: server.url(), prefix });
    const run = flow`${parallel([T.quick, T.long1, T.long2])} >> ${T.after}`.run({ backend });
    await waitFor(async () => (await redis.xpending(keys.queue(), "graflow"))[0] === 3);
    const t0 = performance.now();
    w1.signal("SIGTERM");
    const status = await w1.exited;
    const stopMs = performance.now() - t0;
    assert.equal(status.code, 0, w1.stderr);
    assert.ok(stopMs < 400 + 1500, `stopped after ${stopMs} ms`);
    const stopped = w1.events.find((e) => e.type === "stopped");
    assert.equal(stopped?.handedBack, 2);
    // The quick task finished on w1 during the grace period.
    const t1 = performance.now();
    await using w2 = new WorkerProcess([...args, ...lease]);
    await w2.started();
    const result = await run;
    const tookMs = performance.now() - t1;
    const pid = (id: string) => (result.results[id] as { pid: number }).pid;
    assert.equal(pid("r_quick"), first.pid ?? w1.child.pid);
    assert.equal(pid("r_long1"), w2.child.pid);
    assert.equal(pid("r_long2"), w2.child.pid);
    assert.ok(tookMs < 10_000, `the handed-back tasks ran after ${tookMs} ms`);
    assert.equal((await redis.xpending(keys.queue(), "graflow"))[0], 0);
    const consumers = await redis.xinfo("CONSUMERS", keys.queue(), "graflow") as unknown[][];
    assert.ok(!consumers.some((c) => c.includes(first.workerId)), "w1 left the group");
    redis.disconnect();
  },
});

Deno.test({
  name: "Worker serves /metrics and /health; health fails when Redis is gone",
  ignore: NO_REDIS,
  async fn() {
    const server = await RedisServer.start();
    try {
      const prefix = randomPrefix();
      await using worker = await runWorker({
        url: server.url(),
        prefix,
        metricsPort: 0,
        metricsHostname: "127.0.0.1",
        blockMs: 100,
        graceMs: 0,
      });
      await using backend = redisBackend({ url: server.url(), prefix });
      await flow`${T.fetch} >> ${T.a}`.run({ backend, input: 1 });
      await flow`${T.boom}`.run({ backend }).catch(() => {});
      const base = `http://127.0.0.1:${worker.port}`;
      const text = await (await fetch(`${base}/metrics`)).text();
      const value = (name: string) =>
        Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m"))?.[1]);
      assert.equal(value("graflow_worker_tasks_processed_total"), 3);
      assert.equal(value("graflow_worker_tasks_succeeded_total"), 2);
      assert.equal(value("graflow_worker_tasks_failed_total"), 1);
      assert.equal(value("graflow_worker_tasks_in_flight"), 0);
      assert.equal(value("graflow_worker_task_duration_seconds_count"), 3);
      assert.match(text, /graflow_queue_depth\{worker="[^"]+",state="waiting"\} 0/);
      assert.match(text, /# TYPE graflow_worker_task_duration_seconds histogram/);
      const ok = await fetch(`${base}/health`);
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).ok, true);
      await server.kill();
      const bad = await fetch(`${base}/health`);
      assert.equal(bad.status, 503);
      const body = await bad.json();
      assert.equal(body.redis, false);
      assert.match(body.reason, /Redis does not answer/);
      assert.equal(
        await fetch(`${base}/nope`).then(async (r) => (await r.body?.cancel(), r.status)),
        404,
      );
    } finally {
      await server.stop();
    }
  },
});

Deno.test("Worker health fails when the consume loop is stuck or the worker stops", async () => {
  const base = { ping: async () => "PONG", blockMs: 1000, inFlight: 2 };
  const ok = await checkHealth({ ...base, heartbeat: Date.now(), stopping: false });
  assert.deepEqual(ok, { ok: true, redis: true, loopAgeMs: ok.loopAgeMs, inFlight: 2 });
  const stuck = await checkHealth({ ...base, heartbeat: Date.now() - 10_000, stopping: false });
  assert.equal(stuck.ok, false);
  assert.match(stuck.reason!, /the consume loop is stuck for \d+ ms/);
  const stopping = await checkHealth({ ...base, heartbeat: Date.now(), stopping: true });
  assert.equal(stopping.ok, false);
  assert.equal(stopping.reason, "the worker is stopping");
  const hung = await checkHealth({
    ...base,
    ping: () => new Promise(() => {}),
    heartbeat: Date.now(),
    stopping: false,
  });
  assert.equal(hung.redis, false);
  assert.equal(hung.reason, "Redis does not answer");
});
