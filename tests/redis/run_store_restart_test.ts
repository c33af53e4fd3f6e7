/**
 * A run recorded in `redisRunStore` while its tasks run on Redis workers survives a Redis
 * restart (with AOF): the journal writes wait for Redis, the run completes, and its journal
 * rebuilds the same state.
 *
 * @module
 */
import assert from "assert";
import { Redis } from "ioredis";
import { redisBackend, redisRunStore } from "../../src/redis/mod.ts";
import { rebuildState } from "../../src/run/recorded_run.ts";
import { durable } from "../store/fixtures/durable_flow.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { killAll, WorkerProcess } from "./workers.ts";

const FLOW = new URL("../store/fixtures/durable_flow.ts", import.meta.url).href;

Deno.test({
  name: "a recorded run on Redis workers completes across a Redis restart; its journal rebuilds it",
  ignore: NO_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = await RedisServer.start({ aof: true });
    const prefix = randomPrefix();
    const workers = [0, 1].map(() =>
      new WorkerProcess(["--redis", server.url(), "--prefix", prefix, "--module", FLOW])
    );
    try {
      await Promise.all(workers.map((w) => w.started()));
      await using store = redisRunStore({ url: server.url(), prefix });
      await using backend = redisBackend({ url: server.url(), prefix, pollMs: 100 });
      const run = durable.start({ store, backend, input: 5, leaseMs: 5000, runId: "restarted" });
      let settled = false;
      run.result.finally(() => (settled = true)).catch(() => {});
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(settled, false, "the run ended before the restart");
      const raw = new Redis(server.url(), { maxRetriesPerRequest: 0, retryStrategy: () => null });
      raw.on("error", () => {});
      await raw.call("SHUTDOWN", "NOSAVE").catch(() => {});
      raw.disconnect();
      await server.kill();
      await new Promise((r) => setTimeout(r, 300));
      await server.restart({ aof: true });
      const result = await run.result;
      assert.equal(result.status, "completed");
      const record = (await store.get("restarted"))!;
      assert.equal(record.status, "completed");
      const state = await rebuildState(store, "restarted", durable.graph, durable.plan());
      assert.deepEqual(state.output, result.output);
      assert.deepEqual([...state.completed].sort(), [...result.completed].sort());
    } finally {
      await killAll(workers);
    }
  },
});
