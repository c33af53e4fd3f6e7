/**
 * Attacks by anyone who can write to Redis: forged, copied and replayed messages. Each would
 * change a run on the commit before the trust work; each is refused now.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow, provideFeedback, task, TaskFailedError, type WorkflowError } from "../../mod.ts";
import { redisBackend, RedisChannel, RedisFeedbackStore } from "../../src/redis/mod.ts";
import { runWorker } from "../../src/worker/mod.ts";
import * as T from "../redis/fixtures/tasks.ts";
import {
  attacker,
  entries,
  NO_REDIS,
  randomPrefix,
  RedisServer,
  Spy,
  waitFor,
} from "./redis_helpers.ts";

const FLAG = "__graflowForgedImport";
const g = globalThis as Record<string, unknown>;
const idle = task("sec_idle", () => "never runs: no worker");

/** The entry of the first job of `taskId` in the queue. */
async function jobOf(url: string, prefix: string, taskId: string) {
  await using redis = attacker(url);
  return await waitFor(async () => {
    const rows = entries(await redis.xrange(`${prefix}:queue`, "-", "+") as [string, string[]][]);
    const e = rows.find((r) => JSON.parse(r.f.m ?? "{}").taskId === taskId);
    return e && { entry: e, m: JSON.parse(e.f.m) as { job: string; replyTo: string } };
  });
}

async function forgeOutcome(url: string, prefix: string, runId: string, taskId: string) {
  const { m } = await jobOf(url, prefix, taskId);
  const record = {
    job: m.job,
    worker: "mallory",
    outcome: {
      ok: true,
      value: "forged",
      directives: {
        next: [{
          task: "sec_forged_next",
          module: `data:text/javascript,globalThis.${FLAG}=true`,
          hasInput: false,
        }],
      },
    },
  };
  const sealed = `|${JSON.stringify(record)}`;
  await using redis = attacker(url);
  await redis.hset(`${prefix}:run:{${runId}}:outcomes`, m.job, sealed);
  await redis.publish(`${prefix}:wake:${m.replyTo}`, `o\n${m.job}\n${sealed}`);
}

Deno.test({
  name: "A forged unsigned outcome with a next directive naming a data: module imports nothing",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    for (const secret of [undefined, "s3cret"]) {
      delete g[FLAG];
      const prefix = randomPrefix();
      await using backend = redisBackend({ url: server.url(), prefix, secret });
      const runId = `forged-${secret ? "signed" : "plain"}`;
      const run = flow`${idle}`.run({ backend, runId }).then(
        (r) => ({ output: r.output, completed: r.completed }),
        (e) => e,
      );
      await forgeOutcome(server.url(), prefix, runId, "sec_idle");
      const result = await run;
      assert.equal(g[FLAG], undefined, "the data: module named by the outcome was imported");
      assert.ok(result instanceof TaskFailedError, JSON.stringify(result));
      const cause = result.cause as WorkflowError;
      if (secret) assert.equal(cause.code, "BAD_SIGNATURE", cause.message);
      else assert.match(cause.message, /sec_forged_next/); // by name only: it is not registered
    }
  },
});

Deno.test({
  name: "A signed outcome of run A copied to run B's job is refused",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const secret = "s3cret";
    await using spy = await Spy.on(server.url(), `${prefix}:wake:*`);
    await using _w = await runWorker({ url: server.url(), prefix, secret, blockMs: 100 });
    await using backend = redisBackend({ url: server.url(), prefix, secret });
    const a = await flow`${T.fetch}`.run({ backend, input: 1, runId: "copy-a" });
    assert.equal((a.output as { n: number }).n, 1);
    const sealedA = (await spy.next((m) => m.message.startsWith("o\n"))).message.split("\n")
      .slice(2).join("\n");
    const b = flow`${T.sleeper}`.run({ backend, input: 3000, runId: "copy-b" }).catch((e) => e);
    const { m } = await jobOf(server.url(), prefix, "r_sleeper");
    await using redis = attacker(server.url());
    await redis.hset(`${prefix}:run:{copy-b}:outcomes`, m.job, sealedA);
    await redis.publish(`${prefix}:wake:${m.replyTo}`, `o\n${m.job}\n${sealedA}`);
    const result = await b;
    assert.ok(result instanceof TaskFailedError, `run B took ${JSON.stringify(result?.output)}`);
    assert.equal((result.cause as WorkflowError).code, "BAD_SIGNATURE");
  },
});

Deno.test({
  name: "A signed approval reply replayed under a new call id approves nothing",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const secret = "s3cret";
    const url = server.url();
    await using spy = await Spy.on(url, `${prefix}:wake:*`);
    await using _w = await runWorker({ url, prefix, secret, blockMs: 100, workerId: "w-sec" });
    await using backend = redisBackend({ url, prefix, secret, pollMs: 100 });
    await using store = new RedisFeedbackStore({ url, prefix, secret });
    // Run A: someone approves.
    const a = flow`${T.approve}`.run({ backend, runId: "appr-a" });
    const idA = "appr-a.r_approve.c1.n1";
    await waitFor(async () => (await store.get(idA)) !== undefined);
    await provideFeedback(idA, { approved: true, respondedBy: "ana" }, { store });
    assert.equal(((await a).output as { approved: boolean }).approved, true);
    const reply = await spy.next((m) => m.message.startsWith("r\n"));
    const sealedReply = reply.message.split("\n").slice(2).join("\n");
    // Run B asks; the attacker answers its call with A's signed approval.
    const b = flow`${T.approve}`.run({ backend, runId: "appr-b" });
    const call = await spy.next((m) => m.message.startsWith("c\nappr-b\n"));
    const callB = call.message.split("\n")[2];
    await using redis = attacker(url);
    await redis.hset(`${prefix}:run:{appr-b}:replies`, callB, sealedReply);
    await redis.publish(`${prefix}:wake:w-sec`, `r\n${callB}\n${sealedReply}`);
    await new Promise((r) => setTimeout(r, 500));
    // The genuine answer is a refusal: it is what the task sees.
    const idB = "appr-b.r_approve.c1.n1";
    await provideFeedback(idB, { approved: false, respondedBy: "bo" }, { store });
    const out = (await b).output as { approved: boolean; by: string };
    assert.deepEqual([out.approved, out.by], [false, "bo"]);
  },
});

Deno.test({
  name: "A signed job entry added again runs nothing: while held, and after its run",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const secret = "s3cret";
    const url = server.url();
    const events: { type: string; reason?: string }[] = [];
    await using worker = await runWorker({
      url,
      prefix,
      secret,
      blockMs: 100,
      onEvent: (e) => events.push(e),
    });
    await using backend = redisBackend({ url, prefix, secret });
    const run = flow`${T.outlast}`.run({ backend, runId: "replay" });
    const { entry } = await jobOf(url, prefix, "r_outlast");
    await using redis = attacker(url);
    // A copy while the original runs (its lease is live), then another after the run.
    const m = worker.metrics;
    const handled = (n: number) => waitFor(async () => (m.dropped ?? 0) + m.processed >= n);
    await redis.xadd(`${prefix}:queue`, "*", "m", entry.f.m, "s", entry.f.s);
    const r = await run;
    await handled(2);
    await redis.xadd(`${prefix}:queue`, "*", "m", entry.f.m, "s", entry.f.s);
    await handled(3);
    await using channel = new RedisChannel({ url, prefix, runId: "replay" });
    assert.equal(await channel.get("outlast_starts"), 1, "the job ran again");
    assert.equal(m.dropped, 2);
    assert.equal(worker.metrics.processed, 1);
    const reasons = events.filter((e) => e.type === "dropped").map((e) => e.reason);
    assert.match(reasons[0]!, /enqueued as another entry/);
    assert.match(reasons[1]!, /does not know its job/);
    assert.equal(await redis.xlen(`${prefix}:queue`), 0, "the copies were removed");
    assert.equal(r.status, "completed");
  },
});
