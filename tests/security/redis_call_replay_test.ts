/**
 * Context calls through Redis are served once: the served call ids are remembered in Redis, so
 * a signed call replayed later, or to another producer, is not served again; a call sealed for
 * another run or call id is refused; a reply is taken only for the call it answers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { TaskContext } from "../../mod.ts";
import { CallClient, CallServer } from "../../src/redis/context_calls.ts";
import { connectRedis } from "../../src/redis/connection.ts";
import { RedisKeys } from "../../src/redis/keys.ts";
import { quit } from "../../src/redis/redis_channel.ts";
import { Signer } from "../../src/redis/signing.ts";
import { type JobMessage, WIRE_VERSION } from "../../src/redis/wire.ts";
import { attacker, NO_REDIS, randomPrefix, RedisServer, waitFor } from "./redis_helpers.ts";

Deno.test({
  name: "A signed context call is served once, by any producer, however often it is replayed",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    const signer = new Signer("s3cret", prefix);
    const redis = connectRedis({ url: server.url() });
    try {
      let served = 0;
      const refused: string[] = [];
      const ctx = { result: async () => ++served } as unknown as TaskContext;
      const server1 = new CallServer(redis, keys, signer, {
        retentionMs: 60_000,
        job: (job) => job === "job-1" ? { runId: "run-1", ctx } : undefined,
        onRefused: (m) => refused.push(m),
      });
      const server2 = new CallServer(redis, keys, signer, {
        retentionMs: 60_000,
        job: (job) => job === "job-1" ? { runId: "run-1", ctx } : undefined,
        onRefused: (m) => refused.push(m),
      });
      const record = {
        id: "call-1",
        job: "job-1",
        replyTo: "w1",
        call: { op: "result", taskId: "x" },
      };
      const sealed = signer.seal("call", "run-1", "call-1", JSON.stringify(record));
      await server1.serve("run-1", "call-1", sealed);
      await server1.serve("run-1", "call-1", sealed);
      await server2.serve("run-1", "call-1", sealed); // another producer, no shared memory
      await using a = attacker(server.url());
      await a.hset(keys.calls("run-1"), "call-1", sealed);
      await server2.poll("run-1");
      assert.equal(served, 1);
      assert.ok((await a.pttl(keys.served("run-1"))) > 0, "the served ids expire");
      // Sealed for another call id or run: refused, not served.
      await server1.serve("run-1", "call-2", sealed);
      await server1.serve("run-2", "call-1", sealed);
      assert.equal(served, 1);
      assert.equal(refused.length, 2);
      assert.match(refused[0], /signature does not match/);
    } finally {
      await quit(redis);
    }
  },
});

Deno.test({
  name: "A worker takes a reply only when it is sealed for its own call",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    const signer = new Signer("s3cret", prefix);
    const redis = connectRedis({ url: server.url() });
    const client = new CallClient(redis, keys, signer, "w1", 50);
    try {
      const message: JobMessage = {
        v: WIRE_VERSION,
        job: "job-1",
        replyTo: "producer",
        runId: "run-1",
        taskId: "t",
        input: null,
        attempt: 1,
        cycle: 1,
        retentionMs: 60_000,
      };
      const controller = new AbortController();
      const answer = client.call(message, { op: "result", taskId: "x" }, controller.signal);
      await using a = attacker(server.url());
      const callId = await waitFor(async () => (await a.hkeys(keys.calls("run-1")))[0]);
      const reply = (value: unknown, id: string, run = "run-1") =>
        signer.seal("reply", run, id, JSON.stringify({ ok: true, value }));
      // Replies sealed for another call or run, and unsigned ones, are ignored.
      client.onReply(callId, reply("other call", "call-other"));
      client.onReply(callId, reply("other run", callId, "run-2"));
      client.onReply(callId, `|${JSON.stringify({ ok: true, value: "unsigned" })}`);
      await a.hset(keys.replies("run-1"), callId, reply("other call", "call-other"));
      await new Promise((r) => setTimeout(r, 200)); // the poll reads the wrong one and ignores it
      client.onReply(callId, reply("genuine", callId));
      assert.equal(await answer, "genuine");
    } finally {
      client.close();
      await quit(redis);
    }
  },
});
