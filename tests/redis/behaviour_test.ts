/**
 * The core behaviour suite with the Redis backend: every task of every run goes through Redis to
 * two worker processes (`workers/main.ts`), which import the suite's task module.
 *
 * @module
 */
import assert from "assert";
import { flow } from "../../mod.ts";
import { behaviourSuite } from "../engine/behaviour_suite.ts";
import { pid } from "../engine/fixtures/behaviour_tasks.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { killAll, startWorkers, type WorkerProcess } from "./workers.ts";

const TASKS = new URL("../engine/fixtures/behaviour_tasks.ts", import.meta.url).href;
let server: RedisServer | undefined;
let workers: WorkerProcess[] = [];
const prefix = randomPrefix();

behaviourSuite("Redis backend, 2 worker processes", async () => {
  if (!server) {
    server = await RedisServer.start();
    workers = await startWorkers(2, server.url(), prefix, [
      "--module",
      TASKS,
      "--concurrency",
      "8",
    ]);
  }
  const backend = redisBackend({ url: server.url(), prefix });
  return { options: { backend }, close: () => backend.close() };
}, { ignore: NO_REDIS });

Deno.test({
  name: "Redis behaviour suite: the tasks ran in the worker processes, not in the producer",
  ignore: NO_REDIS,
  async fn() {
    await using backend = redisBackend({ url: server!.url(), prefix });
    const ran = await Promise.all(
      Array.from({ length: 8 }, async () => (await flow`${pid}`.run({ backend })).output),
    );
    const workerPids = workers.map((w) => w.child.pid);
    for (const p of ran) assert.ok(workerPids.includes(p as number), `ran in ${p}`);
  },
});

Deno.test({
  name: "Redis behaviour suite: stop the workers and the server",
  ignore: NO_REDIS,
  async fn() {
    await killAll(workers);
    await server?.stop();
  },
});
