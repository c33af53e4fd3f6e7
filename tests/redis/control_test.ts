/**
 * The control suite (map, early settling, non-retryable errors) with the Redis backend: every
 * item and member goes through Redis to two worker processes, which import the suite's task
 * module; cancelled members' jobs are withdrawn or aborted on their worker.
 *
 * @module
 */
import { controlSuite } from "../engine/control_suite.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { killAll, startWorkers, type WorkerProcess } from "./workers.ts";

const TASKS = new URL("../engine/fixtures/control_tasks.ts", import.meta.url).href;
let server: RedisServer | undefined;
let workers: WorkerProcess[] = [];
const prefix = randomPrefix();

controlSuite("Redis backend, 2 worker processes", async () => {
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
  return {
    options: { backend },
    channel: (runId) => backend.channel(runId),
    close: () => backend.close(),
  };
}, { ignore: NO_REDIS, many: 1_000 });

Deno.test({
  name: "Redis control suite: stop the workers and the server",
  ignore: NO_REDIS,
  async fn() {
    await killAll(workers);
    await server?.stop();
  },
});
