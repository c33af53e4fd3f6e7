/**
 * The control suite (map, early settling, non-retryable errors) with every task in a container
 * (`run({ taskHandlers })` sends each suite task to the Docker handler): items run in their own
 * containers, cancelled members' containers are stopped, errors keep their class.
 *
 * @module
 */
import assert from "assert";
import { flow, parallel, ParallelGroupError } from "../../mod.ts";
import { controlSuite } from "../engine/control_suite.ts";
import { ALL, fastFail, slow } from "../engine/fixtures/control_tasks.ts";
import { dockerHandler } from "../../src/handlers/docker/mod.ts";
import { containersWith, containerTest, IMAGE, service } from "./engine.ts";

const REQUIRED = Deno.env.get("REQUIRE_CONTAINERS") === "1";

controlSuite("containers", () => {
  const docker = dockerHandler({ image: IMAGE, socketPath: service!.socketPath });
  const taskHandlers = Object.fromEntries(ALL.map((t) => [t.name, docker]));
  return Promise.resolve({
    options: { taskHandlers },
    close: () => docker.close(),
  });
}, {
  ignore: !service && !REQUIRED,
  many: 4,
  few: 3,
  slowMs: 60_000,
  noAbortNotes: true, // a stopped container cannot write to the channel
  noIgnoring: true, // nor keep running to return late
});

containerTest(
  "a member cancelled by an early settle has its container stopped",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath });
    const taskHandlers = Object.fromEntries(ALL.map((t) => [t.name, docker]));
    const started = performance.now();
    const error = await flow`${parallel([slow, fastFail])}`
      .run({ input: 60_000, taskHandlers, runId: "ct-dk-stop" })
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof ParallelGroupError, String(error));
    // The slow member's container (60 s) is gone long before it would have finished.
    const end = performance.now() + 20_000;
    while ((await containersWith("graflow.run=ct-dk-stop")).length) {
      assert.ok(performance.now() < end, "the cancelled member's container is still there");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(performance.now() - started < 30_000);
  },
);
