/**
 * Attack: `HSET <prefix>:config leaseMs 1` made every worker started afterwards reclaim running
 * tasks after 1 ms, so one task ran three times. A lease read from Redis is now signed (with a
 * secret) and clamped to 1000-3600000 ms; and running workers follow a genuine change.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow } from "../../mod.ts";
import { redisBackend, RedisChannel } from "../../src/redis/mod.ts";
import { runWorker, type WorkerEvent } from "../../src/worker/mod.ts";
import * as T from "../redis/fixtures/tasks.ts";
import { attacker, NO_REDIS, randomPrefix, RedisServer, waitFor } from "./redis_helpers.ts";

for (const secret of [undefined, "s3cret"]) {
  Deno.test({
    name: `HSET config leaseMs 1 does not make workers run a task three times (${
      secret ? "with" : "without"
    } a secret)`,
    ignore: NO_REDIS,
    async fn() {
      await using server = await RedisServer.start();
      const prefix = randomPrefix();
      const url = server.url();
      await using redis = attacker(url);
      await redis.hset(`${prefix}:config`, "leaseMs", "1");
      const events: WorkerEvent[] = [];
      const opts = {
        url,
        prefix,
        secret,
        blockMs: 50,
        graceMs: 0,
        onEvent: (e: WorkerEvent) => events.push(e),
      };
      await using w1 = await runWorker(opts);
      await using w2 = await runWorker(opts);
      await using w3 = await runWorker(opts);
      await using backend = redisBackend({ url, prefix, secret });
      const r = await flow`${T.outlast}`.run({ backend, runId: "lease-attack" });
      await using channel = new RedisChannel({ url, prefix, runId: r.runId });
      assert.equal(await channel.get("outlast_starts"), 1, "the task ran more than once");
      const workers = [w1, w2, w3];
      assert.equal(workers.reduce((n, w) => n + w.metrics.reclaims, 0), 0);
      for (const w of workers) assert.equal(w.leaseMs, secret ? 15_000 : 1000);
      const warnings = events.filter((e) => e.type === "warning").map((e) => e.message);
      assert.ok(
        warnings.some((m) =>
          secret ? /not signed with this secret: ignored/.test(m) : /clamped to 1000/.test(m)
        ),
        warnings.join("\n"),
      );
    },
  });
}

Deno.test({
  name: "A running worker follows the lease its producer sets, without a restart",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const url = server.url();
    const secret = "s3cret";
    const events: WorkerEvent[] = [];
    await using worker = await runWorker({
      url,
      prefix,
      secret,
      blockMs: 50,
      onEvent: (e) => events.push(e),
    });
    assert.equal(worker.leaseMs, 15_000);
    await using backend = redisBackend({ url, prefix, secret, leaseMs: 2000 });
    await flow`${T.fetch}`.run({ backend, input: 1 });
    await waitFor(async () => worker.leaseMs === 2000, 3000);
    assert.ok(events.some((e) => e.type === "lease" && e.leaseMs === 2000));
    // A worker given its own lease keeps it.
    await using own = await runWorker({ url, prefix, secret, blockMs: 50, leaseMs: 5000 });
    assert.equal(own.leaseMs, 5000);
    assert.throws(() => redisBackend({ url, prefix, secret, leaseMs: 1 }), RangeError);
  },
});
