/**
 * `redisRunStore`: the run store conformance suite against a real redis-server, the channel and
 * feedback suites on its channel and feedback store, and signed journals.
 *
 * @module
 */
import assert from "assert";
import type { Clock } from "../../mod.ts";
import { redisRunStore } from "../../src/redis/mod.ts";
import { runStoreSuite } from "../store/run_store_suite.ts";
import { channelConformance } from "../channels/channel_suite.ts";
import { feedbackStoreSuite } from "../checkpoint/feedback_store_suite.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";

let server: Promise<RedisServer> | undefined;
const url = async () => (await (server ??= RedisServer.start())).url();

async function tempStore(clock?: Clock, secret?: string, prefix = randomPrefix()) {
  const store = redisRunStore({
    url: await url(),
    prefix,
    ...(clock ? { clock } : {}),
    ...(secret ? { secret } : {}),
  });
  return { store, close: () => store.close() };
}

runStoreSuite("redisRunStore", (clock) => tempStore(clock), NO_REDIS);
runStoreSuite("redisRunStore (signed)", (clock) => tempStore(clock, "s3cret"), NO_REDIS);

channelConformance("redisRunStore channel", async () => {
  const { store, close } = await tempStore();
  return { channel: store.channel(`ch-${crypto.randomUUID()}`), close };
});

feedbackStoreSuite("redisRunStore feedback", async () => {
  const { store, close } = await tempStore();
  return { store: store.feedback, close };
}, NO_REDIS);

Deno.test({
  name: "redisRunStore: with a secret, a journal entry forged or moved in Redis is refused",
  ignore: NO_REDIS,
  async fn() {
    const prefix = randomPrefix();
    const { store, close } = await tempStore(undefined, "s3cret", prefix);
    try {
      const { lease } = await store.create({
        runId: "signed-1",
        flow: "f",
        version: "v",
        graph: {},
        input: 1,
        status: "running",
        owner: "me",
        leaseMs: 10_000,
      });
      await store.append("signed-1", lease!, [
        { seq: 1, at: 1, tr: { t: "begin", input: 1 } },
        { seq: 2, at: 2, tr: { t: "take", step: 1, task: "a" } },
      ]);
      assert.equal((await store.entries("signed-1")).length, 2);
      const { Redis } = await import("ioredis");
      const raw = new Redis(await url());
      try {
        const key = `${prefix}:rec:{signed-1}:journal`;
        const [first, second] = await raw.call("LRANGE", key, "0", "-1") as string[];
        // Swap the two entries: each is still signed, but for another place.
        await raw.call("LSET", key, "0", second);
        await raw.call("LSET", key, "1", first);
        await assert.rejects(store.entries("signed-1"), {
          code: "JOURNAL_INVALID",
          message: /entry 1 is out of place/,
        });
        // An unsigned entry written by someone without the secret.
        await raw.call(
          "LSET",
          key,
          "0",
          `|${JSON.stringify({ seq: 1, at: 1, tr: { t: "begin", input: 666 } })}`,
        );
        await assert.rejects(store.journal("signed-1"), { code: "BAD_SIGNATURE" });
      } finally {
        raw.disconnect();
      }
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "redisRunStore: the suite's server stops",
  ignore: NO_REDIS,
  async fn() {
    await (await server)?.stop();
  },
});
