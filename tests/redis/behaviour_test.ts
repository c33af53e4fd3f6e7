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
import { NO_REDIS } from "./redis_server.ts";
import { SharedFleet } from "./workers.ts";

const fleet = new SharedFleet(
  new URL("../engine/fixtures/behaviour_tasks.ts", import.meta.url).href,
);

behaviourSuite("Redis backend, 2 worker processes", async () => {
  const backend = await fleet.backend();
  return { options: { backend }, close: () => backend.close() };
}, { ignore: NO_REDIS });

Deno.test({
  name: "Redis behaviour suite: the tasks ran in the worker processes, not in the producer",
  ignore: NO_REDIS,
  async fn() {
    await using backend = await fleet.backend();
    const ran = await Promise.all(
      Array.from({ length: 8 }, async () => (await flow`${pid}`.run({ backend })).output),
    );
    const workerPids = fleet.workers.map((w) => w.child.pid);
    for (const p of ran) assert.ok(workerPids.includes(p as number), `ran in ${p}`);
  },
});

Deno.test({
  name: "Redis behaviour suite: stop the workers and the server",
  ignore: NO_REDIS,
  fn: () => fleet.stop(),
});
