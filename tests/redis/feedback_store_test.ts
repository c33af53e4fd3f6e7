/**
 * The feedback store conformance suite on `RedisFeedbackStore`, against a real redis-server.
 *
 * @module
 */
import { RedisFeedbackStore } from "../../src/redis/mod.ts";
import { feedbackStoreSuite } from "../checkpoint/feedback_store_suite.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";

let server: Promise<RedisServer> | undefined;

feedbackStoreSuite("RedisFeedbackStore", async () => {
  const s = await (server ??= RedisServer.start());
  const store = new RedisFeedbackStore({ url: s.url(), prefix: randomPrefix(), pollMs: 50 });
  return { store, close: () => store.close() };
}, NO_REDIS);

Deno.test({
  name: "RedisFeedbackStore: the suite's server stops",
  ignore: NO_REDIS,
  async fn() {
    await (await server)?.stop();
  },
});
