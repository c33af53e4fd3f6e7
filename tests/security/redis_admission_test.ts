/**
 * The admission check a busy worker gets with its next entry (`RedisTaskQueue.finish` reserves
 * and checks in one step): only the entry its job was enqueued as, with no outcome yet, passes;
 * copies, forgeries and entries whose message is not JSON never do, and a pass is used by the
 * worker only for the run and job of the message it verified.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisKeys } from "../../src/redis/keys.ts";
import { RedisTaskQueue } from "../../src/redis/task_queue.ts";
import { Signer } from "../../src/redis/signing.ts";
import { type JobMessage, WIRE_VERSION } from "../../src/redis/wire.ts";
import { admitEntry } from "../../src/worker/admit_entry.ts";
import { ModuleAllowlist } from "../../src/worker/module_allowlist.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";

const job = (runId: string, id: string): JobMessage => ({
  v: WIRE_VERSION,
  job: id,
  replyTo: "producer",
  runId,
  taskId: "adm_task",
  input: null,
  attempt: 1,
  cycle: 1,
  retentionMs: 60_000,
});

Deno.test({
  name: "Entries reserved with an outcome pass admission only when genuine and not yet done",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const keys = new RedisKeys(randomPrefix());
    const redis = new Redis(server.url());
    try {
      const signer = new Signer("s3cret", keys.prefix);
      const queue = new RedisTaskQueue(redis, keys, signer);
      await queue.ensureGroup();
      const first = job("run-a", "j0");
      const e0 = await queue.enqueue(first);
      const genuine = job("run-a", "j1");
      const e1 = await queue.enqueue(genuine);
      const done = job("run-a", "j2");
      await queue.enqueue(done);
      const [held] = await queue.reserve(redis, "w1", 1, 10);
      assert.equal(held.id, e0);
      // j2 already has an outcome (finished elsewhere); j1 is copied; a forged entry names a
      // run that does not know its job; another entry is not JSON at all.
      await redis.hset(keys.outcomes("run-a"), "j2", "|{}");
      const fields = await redis.xrange(keys.queue(), e1, e1);
      await redis.xadd(keys.queue(), "*", ...fields[0][1]);
      await redis.xadd(keys.queue(), "*", "m", JSON.stringify(job("run-b", "j9")), "s", "x");
      await redis.xadd(keys.queue(), "*", "m", "{not json");
      const { written, entries } = await queue.finish(e0, first, "|{}", {
        consumer: "w1",
        count: 10,
      });
      assert.equal(written, true);
      assert.deepEqual(
        entries.map((e) => e.passed),
        ["run-a\nj1", undefined, undefined, undefined, undefined],
      );
      // The worker's side: the pass is used for the verified message it was made for only.
      let asked = 0;
      const context = {
        signer,
        maxDeliveries: 5,
        allowlist: await ModuleAllowlist.create([]),
        workerId: "w1",
        admit: (id: string, m: JobMessage) => {
          asked++;
          return queue.admit(id, m);
        },
        log: () => {},
      };
      const verdicts = [];
      for (const entry of entries) {
        const a = await admitEntry(entry, context);
        verdicts.push("drop" in a ? a.drop : "poison" in a ? a.poison : `ok ${a.message.job}`);
      }
      assert.match(verdicts[0], /not registered|ok j1/); // admitted: only the task lookup is left
      assert.match(verdicts[1], /already has an outcome/);
      assert.match(verdicts[2], /enqueued as another entry/);
      assert.match(verdicts[3], /signature does not match/);
      assert.match(verdicts[4], /cannot be decoded/);
      assert.equal(asked, 2, "the copy and the done entry were checked again; the pass was used");
      // A pass copied onto another entry is worth nothing: it must name the verified run and job.
      const lying = { ...entries[2], passed: "run-a\nj0" };
      const a = await admitEntry(lying, context);
      assert.ok("drop" in a && /enqueued as another entry/.test(a.drop));
    } finally {
      redis.disconnect();
    }
  },
});
