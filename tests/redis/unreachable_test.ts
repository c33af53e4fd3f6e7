import assert from "node:assert/strict";
import { flow, type WorkflowError } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { freePort } from "./redis_server.ts";
import * as T from "./fixtures/tasks.ts";

Deno.test("A run aborted while Redis cannot be reached rejects with the reason, nothing unhandled", async () => {
  // Nothing listens on this port: adding the entry is retried until the abort.
  await using backend = redisBackend({
    url: `redis://127.0.0.1:${freePort()}`,
    unavailableMs: 60_000,
  });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("gave up")), 300);
  await assert.rejects(
    flow`${T.fetch}`.run({ backend, input: 1, signal: controller.signal }),
    /gave up/,
  );
});

Deno.test("Adding an entry while Redis cannot be reached fails after unavailableMs, naming Redis", async () => {
  await using backend = redisBackend({
    url: `redis://127.0.0.1:${freePort()}`,
    unavailableMs: 500,
    maxRetriesPerRequest: 1,
  });
  const error = await flow`${T.fetch}`.run({ backend, input: 1 }).catch((e) => e);
  const cause = (error as { cause?: WorkflowError }).cause ?? error;
  assert.equal((cause as WorkflowError).code, "REDIS_UNAVAILABLE", String(cause));
  assert.match((cause as Error).message, /Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unavailable/);
});
