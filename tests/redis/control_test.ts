/**
 * The control suite (map, early settling, non-retryable errors) with the Redis backend: every
 * item and member goes through Redis to two worker processes, which import the suite's task
 * module; cancelled members' jobs are withdrawn or aborted on their worker.
 *
 * @module
 */
import { controlSuite } from "../engine/control_suite.ts";
import { NO_REDIS } from "./redis_server.ts";
import { SharedFleet } from "./workers.ts";

const fleet = new SharedFleet(new URL("../engine/fixtures/control_tasks.ts", import.meta.url).href);

controlSuite("Redis backend, 2 worker processes", async () => {
  const backend = await fleet.backend();
  return {
    options: { backend },
    channel: (runId) => backend.channel(runId),
    close: () => backend.close(),
  };
}, { ignore: NO_REDIS, many: 1_000 });

Deno.test({
  name: "Redis control suite: stop the workers and the server",
  ignore: NO_REDIS,
  fn: () => fleet.stop(),
});
