// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { flow, WorkflowError } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { killAll, startWorkers } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

async function shutdownNoSave(server: RedisServer): Promise<void> {
  const redis = new Redis(server.url(), { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  await redis.call("SHUTDOWN", "NOSAVE").catch(() => {}); // the connection drops: expected
  redis.disconnect();
  await server.kill(); // reap the exited process
}

/** The messages of an error, its causes and its failed group members, recursively. */
function messages(error: unknown, depth = 0): string[] {
  if (!(error instanceof Error) || depth > 8) return [];
  const e = error as Error & { failed?: { error: unknown }[] };
  return [
    e.message,
    ...messages(e.cause, depth + 1),
    ...(e.failed ?? []).flatMap((f) => messages(f.error, depth + 1)),
  ];
}

/**
 * Runs 1,000 tasks on 2 workers and restarts Redis in the middle; the run must complete or fail
 * with an error that names Redis, never hang.
 */
async function restartMidRun(aofBefore: boolean): Promise<string> {
  await using server = await RedisServer.start({ aof: aofBefore });
  const prefix = randomPrefix();
  const workers = await startWorkers(2, server.url(), prefix, [
    "--concurrency",
    "20",
    "--lease-ms",
    "2000",
  ]);
  try {
    await using backend = redisBackend({ url: server.url(), prefix, pollMs: 200 });
    let settled = false;
    const run = flow`${T.manyGroup} >> ${T.manyDone}`.run({ backend }).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(settled, false, "the run ended before the restart");
    await shutdownNoSave(server);
    await new Promise((r) => setTimeout(r, 300));
    await server.restart({ aof: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the run hangs")), 60_000);
    });
    try {
      const result = await Promise.race([run, hang]);
      assert.equal(result.status, "completed");
      assert.equal(result.output, 1000);
      return "completed";
    } catch (error) {
      assert.ok(error instanceof WorkflowError, String(error));
      // A group failure names Redis in its members' errors.
      assert.match(messages(error).join("\n"), /Redis/);
      return `failed: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await killAll(workers);
  }
}

Deno.test({
  name: "Redis restart mid-run (SHUTDOWN NOSAVE, back with AOF): the run completes",
  ignore: NO_REDIS,
  async fn() {
    assert.equal(await restartMidRun(true), "completed");
  },
});

Deno.test({
  name: "Redis restart mid-run that loses every key: lost jobs are enqueued again, no hang",
  ignore: NO_REDIS,
  async fn() {
    const outcome = await restartMidRun(false);
    console.log(`restart without persistence: ${outcome}`);
  },
});

Deno.test({
  name: "Redis gone for good: waiting tasks fail with REDIS_UNAVAILABLE naming Redis, no hang",
  ignore: NO_REDIS,
  async fn() {
    const server = await RedisServer.start();
    const prefix = randomPrefix();
    const workers = await startWorkers(1, server.url(), prefix);
    try {
      await using backend = redisBackend({
        url: server.url(),
        prefix,
        pollMs: 200,
        unavailableMs: 1500,
      });
      const run = flow`${T.long1}`.run({ backend });
      await new Promise((r) => setTimeout(r, 500));
      await server.stop();
      const t0 = performance.now();
      const error = await run.then(() => undefined, (e) => e);
      assert.ok(error instanceof WorkflowError, String(error));
      const cause = (error as WorkflowError).cause as WorkflowError;
      assert.equal(cause.code, "REDIS_UNAVAILABLE");
      assert.match(
        cause.message,
        /Cannot run task "r_long1": Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unavailable/,
      );
      assert.ok(performance.now() - t0 < 10_000, `failed after ${performance.now() - t0} ms`);
    } finally {
      await killAll(workers);
      await server.stop();
    }
  },
});
