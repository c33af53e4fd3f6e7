/**
 * Redis does not fill up: every run-scoped key (queue bookkeeping, context calls and replies,
 * the run's channel, feedback requests) expires after the run, with one retention setting; the
 * dead-letter stream is capped.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow, provideFeedback } from "../../mod.ts";
import { redisBackend, RedisFeedbackStore } from "../../src/redis/mod.ts";
import { runWorker } from "../../src/worker/mod.ts";
import * as T from "../redis/fixtures/tasks.ts";
import { attacker, NO_REDIS, randomPrefix, RedisServer, waitFor } from "./redis_helpers.ts";

async function keysWithoutTtl(url: string, prefix: string): Promise<string[]> {
  await using redis = attacker(url);
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    for (const k of keys) if ((await redis.pttl(k)) === -1) out.push(k);
  } while (cursor !== "0");
  return out.sort();
}

Deno.test({
  name: "After 200 runs no run-scoped key is left without a TTL",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const url = server.url();
    const retentionMs = 3_600_000;
    await using _w1 = await runWorker({ url, prefix, blockMs: 50, concurrency: 20 });
    await using _w2 = await runWorker({ url, prefix, blockMs: 50, concurrency: 20 });
    await using backend = redisBackend({ url, prefix, retentionMs, pollMs: 100 });
    // Every kind of run key: jobs and outcomes, a channel list and a counter, context calls
    // and their replies (ctx.result from a worker), and feedback requests.
    const f = flow`${T.fetch} >> ${T.b} >> ${T.reader}`;
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => f.run({ backend, input: i + k })));
    }
    await using store = new RedisFeedbackStore({ url, prefix, pollMs: 100 });
    for (const runId of ["keys-hitl-1", "keys-hitl-2"]) {
      const run = flow`${T.approve}`.run({ backend, runId });
      const id = `${runId}.r_approve.c1.n1`;
      await waitFor(async () => (await store.get(id)) !== undefined);
      await provideFeedback(id, { approved: true }, { store });
      await run;
    }
    const left = await keysWithoutTtl(url, prefix);
    const runScoped = left.filter((k) => /:run:\{|:feedback:/.test(k));
    assert.deepEqual(runScoped, [], `${runScoped.length} run-scoped keys without a TTL`);
    // What remains is per prefix: the queue stream (and its dead-letter stream).
    assert.deepEqual(left.filter((k) => !/:(queue|dead|config)$/.test(k)), []);
    await using redis = attacker(url);
    const channelKey = (await redis.keys(`${prefix}:run:*:ch:seen`))[0];
    const ttl = await redis.pttl(channelKey);
    assert.ok(ttl > 0 && ttl <= retentionMs, `channel key TTL ${ttl}`);
    assert.equal(await redis.exists(`${prefix}:runs`), 0, "no run is left in progress");
  },
});

Deno.test({
  name: "The keys of a run whose producer died are given the retention by the next producer",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const url = server.url();
    await using redis = attacker(url);
    // What a producer killed mid-run leaves: its run noted in progress long ago, channel keys
    // without a TTL, queue bookkeeping.
    await redis.zadd(`${prefix}:runs`, 0, "dead-run");
    await redis.sadd(`${prefix}:run:{dead-run}:ch`, "k");
    await redis.set(`${prefix}:run:{dead-run}:ch:k`, "1");
    await redis.hset(`${prefix}:run:{dead-run}:jobs`, "j", "1-0");
    await using _w = await runWorker({ url, prefix, blockMs: 50 });
    await using backend = redisBackend({ url, prefix, retentionMs: 60_000, pollMs: 50 });
    await flow`${T.sleeper}`.run({ backend, input: 200 });
    const ttl = await redis.pttl(`${prefix}:run:{dead-run}:ch:k`);
    assert.ok(ttl > 0 && ttl <= 60_000, `TTL ${ttl}`);
    assert.equal(await redis.exists(`${prefix}:run:{dead-run}:jobs`), 0);
    assert.equal(await redis.zscore(`${prefix}:runs`, "dead-run"), null);
  },
});

Deno.test({
  name: "The dead-letter stream is capped",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    await using worker = await runWorker({
      url: server.url(),
      prefix,
      blockMs: 50,
      concurrency: 50,
      deadLetterMax: 100,
    });
    await using redis = attacker(server.url());
    const pipe = redis.pipeline();
    for (let i = 0; i < 1000; i++) pipe.xadd(`${prefix}:queue`, "*", "junk", String(i));
    await pipe.exec();
    await waitFor(async () => worker.metrics.deadLettered >= 1000, 30_000);
    const len = await redis.xlen(`${prefix}:dead`);
    // MAXLEN ~ trims whole stream nodes (100 entries each by default): about the cap.
    assert.ok(len >= 100 && len < 300, `the dead-letter stream holds ${len} entries`);
    const last = await redis.xrevrange(`${prefix}:dead`, "+", "-", "COUNT", 1);
    assert.match(String(last[0][1]), /no message/, "the newest entries are kept");
  },
});
