import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { flow, task, TaskFailedError, type WorkflowError } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { RedisKeys } from "../../src/redis/keys.ts";
import { runWorker } from "../../src/worker/mod.ts";
import { Signer } from "../../src/redis/signing.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { TASKS, WorkerProcess } from "./workers.ts";
import "./fixtures/tasks.ts";

const BROKEN = new URL("./fixtures/broken.ts", import.meta.url).href;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const brokenTask = task("p_in_broken_module", () => 1, { module: BROKEN });
const unknownTask = task("p_not_in_module", () => 1, { module: TASKS });
const dataTask = task("p_data_module", () => 1, { module: "data:text/javascript,export{}" });
const outsideTask = task("p_outside", () => 1, {
  module: new URL("../../mod.ts", import.meta.url).href,
});

async function deadEntries(redis: Redis, keys: RedisKeys): Promise<Record<string, string>[]> {
  const rows = await redis.xrange(keys.dead(), "-", "+");
  return rows.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1];
    return o;
  });
}

async function waitFor<T>(f: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("timed out waiting");
}

function client(url: string): Redis & AsyncDisposable {
  const redis = new Redis(url);
  redis.on("error", () => {});
  return Object.assign(redis, { [Symbol.asyncDispose]: async () => redis.disconnect() });
}

function job(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    v: 2,
    job: crypto.randomUUID(),
    replyTo: "nobody",
    runId: "run-x",
    taskId: "r_a",
    module: TASKS,
    input: { n: 1 },
    attempt: 1,
    cycle: 1,
    retentionMs: 60_000,
    ...over,
  });
}

Deno.test({
  name: "Poison messages are dead-lettered with the reason and the producer gets a clear error",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    await using redis = client(server.url());
    // A separate process: its task registry only has what the modules it imports define, and it
    // may import modules of the fixtures directory on demand.
    await using worker = new WorkerProcess([
      "--redis",
      server.url(),
      "--prefix",
      prefix,
      "--module",
      TASKS,
      "--allow-import",
      FIXTURES,
    ]);
    const workerId = (await worker.started()).workerId;
    await using backend = redisBackend({ url: server.url(), prefix });
    // Raw garbage on the stream.
    await redis.xadd(keys.queue(), "*", "x", "no m field");
    await redis.xadd(keys.queue(), "*", "m", "{not json");
    await redis.xadd(keys.queue(), "*", "m", job({ v: 99 }));
    await redis.xadd(keys.queue(), "*", "m", job({ input: { $type: "BigInt", value: "xyz" } }));
    // A task whose module fails to import (the details stay in the worker's log), one its module
    // does not define, a data: module, a module outside the allowed directory.
    for (
      const [t, pattern] of [
        [brokenTask, /importing its module .*broken\.ts failed \(Error; the worker's log/],
        [unknownTask, /p_not_in_module.*does not define it/],
        [dataTask, /module data:text\/javascript,export\{\} may not be imported: only file:/],
        [outsideTask, /p_outside.*may not be imported: it resolves to .*mod\.ts, outside/],
      ] as const
    ) {
      const error = await flow`${t}`.run({ backend }).catch((e) => e);
      assert.ok(error instanceof TaskFailedError, `${error} ${error?.stack}`);
      const cause = error.cause as WorkflowError;
      assert.equal(cause.code, "DEAD_LETTERED");
      assert.match(cause.message, /dead-lettered it/);
      assert.match(cause.message, pattern);
    }
    const dead = await waitFor(async () => {
      const d = await deadEntries(redis, keys);
      return d.length >= 8 ? d : undefined;
    });
    const reasons = dead.map((d) => d.reason).join("\n");
    assert.match(reasons, /the entry has no message \(field m\)/);
    assert.match(
      reasons,
      /the message cannot be decoded: Cannot decode the job message: it is not JSON/,
    );
    assert.match(reasons, /unsupported message version 99/);
    assert.match(reasons, /the input cannot be decoded/);
    assert.doesNotMatch(reasons, /broken on purpose/, "the module's text stays out of Redis");
    for (const d of dead) assert.equal(d.worker, workerId);
    assert.ok(dead.every((d) => d.fields.length > 2), "original fields kept");
    await waitFor(async () =>
      worker.events.filter((e) => e.type === "dead-lettered").length === 8 ? true : undefined
    );
    assert.ok(
      worker.events.some((e) => e.type === "error" && /broken on purpose/.test(String(e.error))),
      "the worker's own log has the import error",
    );
    // Nothing left behind in the queue.
    assert.equal(await redis.xlen(keys.queue()), 0);
    assert.equal((await redis.xpending(keys.queue(), "graflow"))[0], 0);
  },
});

Deno.test({
  name: "Signed messages: unsigned, tampered and wrong-secret messages are dead-lettered",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    await using redis = client(server.url());
    await using worker = await runWorker({
      url: server.url(),
      prefix,
      secret: "right",
      blockMs: 100,
    });
    // Same secret: runs.
    await using good = redisBackend({ url: server.url(), prefix, secret: "right" });
    const ok = await flow`r_fetch`.run({ backend: good, input: 2 }).catch((e) => e);
    assert.equal((ok.output as { n: number }).n, 2);
    // Wrong secret: the producer hears about it instead of hanging.
    await using bad = redisBackend({ url: server.url(), prefix, secret: "wrong" });
    const e = await flow`r_fetch`.run({ backend: bad, input: 2 }).catch((e) => e);
    assert.ok(e instanceof TaskFailedError, String(e));
    assert.equal((e.cause as WorkflowError).code, "BAD_SIGNATURE");
    assert.match((e.cause as Error).message, /not signed.*same secret/);
    assert.match(
      (e.cause as Error).message,
      /an unauthenticated message says: .*signature does not match.*signed with another secret/,
    );
    // No secret: unsigned.
    await using none = redisBackend({ url: server.url(), prefix });
    const e2 = await flow`r_fetch`.run({ backend: none, input: 2 }).catch((e) => e);
    assert.ok(e2 instanceof TaskFailedError);
    assert.match((e2.cause as Error).message, /not signed/);
    // Tampered: a valid signature of another message.
    const m = job();
    const { runId, job: jobId } = JSON.parse(m);
    const sig = new Signer("right", prefix).sign("job", runId, jobId, m);
    await redis.xadd(keys.queue(), "*", "m", m.replace('"n":1', '"n":2'), "s", sig);
    const dead = await waitFor(async () => {
      const d = await deadEntries(redis, keys);
      return d.length >= 3 ? d : undefined;
    });
    assert.match(dead[2].reason, /signature does not match/);
    assert.equal(worker.metrics.deadLettered, 3);
    assert.equal(worker.metrics.succeeded, 1);
  },
});
