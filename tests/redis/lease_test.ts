import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { flow, provideFeedback } from "../../mod.ts";
import { redisBackend, RedisChannel, RedisFeedbackStore } from "../../src/redis/mod.ts";
import { RedisKeys } from "../../src/redis/keys.ts";
import { RedisTaskQueue } from "../../src/redis/task_queue.ts";
import { Signer } from "../../src/redis/signing.ts";
import { runWorker } from "../../src/worker/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { WorkerProcess } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

async function waitFor(f: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test({
  name: "A task that outlives the lease keeps it (renewed) and runs once",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const opts = { url: server.url(), prefix, leaseMs: 300, blockMs: 100, graceMs: 0 };
    await using w1 = await runWorker({ ...opts, workerId: "w1" });
    await using w2 = await runWorker({ ...opts, workerId: "w2" });
    await using backend = redisBackend({ url: server.url(), prefix });
    const r = await flow`${T.outlast}`.run({ backend });
    assert.equal(await r.channel.get("outlast_starts"), 1);
    assert.equal(w1.metrics.reclaims + w2.metrics.reclaims, 0);
    assert.equal(w1.metrics.processed + w2.metrics.processed, 1);
  },
});

Deno.test({
  name: "A dead worker's task runs elsewhere within lease + 1 s",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    const leaseMs = 1000;
    const redis = new Redis(server.url());
    try {
      await using doomed = new WorkerProcess([
        "--redis",
        server.url(),
        "--prefix",
        prefix,
        "--module",
        T.TASKS_URL,
        "--lease-ms",
        String(leaseMs),
      ]);
      await doomed.started();
      await using backend = redisBackend({ url: server.url(), prefix });
      const run = flow`${T.outlast}`.run({ backend, runId: "lease-dead-worker" });
      await waitFor(async () => (await redis.xpending(keys.queue(), "graflow"))[0] === 1);
      // Killed once its task runs (reserved is not enough: on a busy machine the task may not
      // have started yet, and then it starts only once).
      await using channel = new RedisChannel({
        url: server.url(),
        prefix,
        runId: "lease-dead-worker",
      });
      await waitFor(async () => (await channel.get("outlast_starts")) === 1, 5000);
      // The survivor is up before the kill, as in a real fleet.
      await using survivor = await runWorker({
        url: server.url(),
        prefix,
        leaseMs,
        blockMs: 100,
        graceMs: 0,
      });
      doomed.signal("SIGKILL");
      const killedAt = performance.now();
      await doomed.exited;
      await waitFor(async () => survivor.metrics.reclaims === 1, 5000);
      const delay = performance.now() - killedAt;
      assert.ok(delay <= leaseMs + 1000, `reclaimed after ${Math.round(delay)} ms`);
      const r = await run;
      assert.equal((r.output as { pid: number }).pid, Deno.pid);
      assert.equal(await r.channel.get("outlast_starts"), 2);
    } finally {
      redis.disconnect();
    }
  },
});

Deno.test({
  name: "Human in the loop through Redis: a worker's task waits for an answer given elsewhere",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    await using _worker = await runWorker({ url: server.url(), prefix, blockMs: 100, graceMs: 0 });
    await using backend = redisBackend({ url: server.url(), prefix, pollMs: 100 });
    const run = flow`${T.approve}`.run({ backend, runId: "hitl-1" });
    await using store = new RedisFeedbackStore({ url: server.url(), prefix });
    const id = "hitl-1.r_approve.c1.n1";
    await waitFor(async () => (await store.get(id)) !== undefined);
    assert.equal((await store.get(id))?.request.prompt, "Ship it?");
    await provideFeedback(id, { approved: true, respondedBy: "ana" }, { store });
    const r = await run;
    assert.deepEqual(r.output, { approved: true, by: "ana", pid: Deno.pid });
    await assert.rejects(
      () => provideFeedback(id, { approved: false }, { store }),
      /already answered/,
    );
    await assert.rejects(() => store.respond("nope", { respondedAt: "" }), /no such request/);
  },
});

Deno.test({
  name: "Consumers left by dead workers are pruned; one holding entries is kept",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const keys = new RedisKeys(randomPrefix());
    const redis = new Redis(server.url());
    try {
      const queue = new RedisTaskQueue(redis, keys, new Signer(undefined, keys.prefix));
      await queue.ensureGroup();
      await redis.xgroup("CREATECONSUMER", keys.queue(), "graflow", "ghost");
      await redis.xadd(keys.queue(), "*", "m", "{}");
      await queue.reserve(redis, "holder", 1, 10);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await queue.pruneConsumers(30), ["ghost"]);
      const left = await redis.xinfo("CONSUMERS", keys.queue(), "graflow") as unknown[][];
      assert.deepEqual(left.map((c) => c[1]), ["holder"]);
    } finally {
      redis.disconnect();
    }
  },
});
