/**
 * No silent waits: workers announce themselves; a producer whose job waits while no worker is
 * live reports it as a `task.waiting` run event, and can be told to fail (`NO_WORKER`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow, TaskFailedError, type WorkflowError, type WorkflowEvent } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { runWorker } from "../../src/worker/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import * as T from "./fixtures/tasks.ts";

Deno.test({
  name: "A job that waits with no live worker is reported, then fails with NO_WORKER",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    await using backend = redisBackend({
      url: server.url(),
      prefix,
      pollMs: 50,
      noWorkerWarnMs: 200,
      noWorkerTimeoutMs: 800,
    });
    const events: WorkflowEvent[] = [];
    const error = await flow`${T.fetch}`.run({ backend, input: 1, onEvent: (e) => events.push(e) })
      .catch((e) => e);
    assert.ok(error instanceof TaskFailedError, String(error));
    const cause = error.cause as WorkflowError;
    assert.equal(cause.code, "NO_WORKER");
    assert.match(cause.message, new RegExp(`no worker of prefix "${prefix}" was live`));
    const waiting = events.filter((e) => e.type === "task.waiting");
    assert.equal(waiting.length, 1, "warned once");
    const w = waiting[0] as Extract<WorkflowEvent, { type: "task.waiting" }>;
    assert.equal(w.reason, "no-worker");
    assert.equal(w.taskId, "r_fetch");
    assert.ok(w.waitedMs >= 200 && w.waitedMs < 800, `waited ${w.waitedMs}`);
    assert.match(w.message, /no worker of prefix .* is live: start one/);
  },
});

Deno.test({
  name: "A job waits quietly while a worker is live, and a worker that stopped no longer counts",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const url = server.url();
    const worker = await runWorker({ url, prefix, blockMs: 50, graceMs: 0 });
    await using backend = redisBackend({
      url,
      prefix,
      pollMs: 50,
      noWorkerWarnMs: 100,
      noWorkerTimeoutMs: 600,
    });
    const events: WorkflowEvent[] = [];
    // Longer than both limits, but a worker is live: no warning, no failure.
    const r = await flow`${T.sleeper}`.run({ backend, input: 900, onEvent: (e) => events.push(e) });
    assert.equal((r.output as { ms: number }).ms, 900);
    assert.equal(events.filter((e) => e.type === "task.waiting").length, 0);
    // Once the worker stopped (its announcement withdrawn), jobs are reported again.
    await worker.stop();
    const e = await flow`${T.fetch}`.run({ backend, input: 1 }).catch((x) => x);
    assert.equal((e.cause as WorkflowError).code, "NO_WORKER");
  },
});
