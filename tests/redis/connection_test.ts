// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { flow, provideFeedback } from "../../mod.ts";
import { redisBackend, RedisChannel, RedisFeedbackStore } from "../../src/redis/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { WorkerProcess } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

async function runThrough(url: string, extraWorkerArgs: string[] = [], tls?: { ca: string }) {
  const prefix = randomPrefix();
  await using worker = new WorkerProcess([
    "--redis",
    url,
    "--prefix",
    prefix,
    "--module",
    T.TASKS_URL,
    ...extraWorkerArgs,
  ]);
  await worker.started();
  await using backend = redisBackend({ url, prefix, tls });
  const r = await flow`${T.fetch} >> (${T.a} | ${T.b}) >> ${T.merge}`.run({
    backend,
    input: 2,
  });
  assert.equal(r.output, 23);
  assert.deepEqual(await r.channel.get("seen"), ["r_b"]);
}

Deno.test({
  name: "Redis URLs with a password work for producer and worker",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start({ password: "p@ss:word/1" });
    await runThrough(server.url());
    // A wrong password is a clear error, not a hang.
    const bad = server.url({ password: "nope" });
    await using ch = new RedisChannel({ url: bad, runId: "r" });
    await assert.rejects(() => ch.get("k"), /WRONGPASS|invalid password|NOAUTH/i);
    await using worker = new WorkerProcess(["--redis", bad]);
    const status = await worker.exited;
    assert.equal(status.code, 1);
    assert.match(worker.stderr, /WRONGPASS|invalid password|NOAUTH/i);
  },
});

Deno.test({
  name: "Redis URLs with an ACL user work for producer and worker",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start({
      acl: [
        "user default off",
        "user graflow on >s3cret ~* &* +@all",
        "user reader on >r ~* &* +@read",
      ],
    });
    await runThrough(server.url({ user: "graflow", password: "s3cret" }));
    // A user without write rights: a clear error from Redis.
    await using ch = new RedisChannel({
      url: server.url({ user: "reader", password: "r" }),
      runId: "r",
    });
    await assert.rejects(() => ch.set("k", 1), /NOPERM/);
  },
});

/** The ACL rule SECURITY.md gives for producers and workers of one prefix. */
export function leastPrivilege(prefix: string, password: string): string {
  return [
    `user graflow on >${password} resetkeys ~${prefix}:* resetchannels &${prefix}:*`,
    "-@all +ping +info +client|setname +client|id +select +auth +hello +quit",
    "+multi +exec +evalsha +eval +publish +subscribe +unsubscribe",
    "+xadd +xack +xdel +xrange +xlen +xgroup|create +xgroup|delconsumer +xreadgroup",
    "+xpending +xclaim +xautoclaim +xinfo|consumers",
    "+hset +hsetnx +hget +hmget +hgetall +hdel +hexists +hlen",
    "+get +set +type +exists +del +pexpire +pttl +lrange +rpush",
    "+sadd +srem +smembers +zadd +zcount +zcard +zrem +zrangebyscore +zremrangebyscore +time",
  ].join(" ");
}

Deno.test({
  name: "The least-privilege ACL user of SECURITY.md is enough for producer, worker and feedback",
  ignore: NO_REDIS,
  async fn() {
    const prefix = randomPrefix();
    await using server = await RedisServer.start({
      acl: ["user default off", leastPrivilege(prefix, "s3cret")],
    });
    const url = server.url({ user: "graflow", password: "s3cret" });
    const secret = "shared";
    await using worker = new WorkerProcess([
      "--redis",
      url,
      "--prefix",
      prefix,
      "--module",
      T.TASKS_URL,
      "--secret",
      secret,
      "--metrics-port",
      "0",
    ]);
    await worker.started();
    await using backend = redisBackend({ url, prefix, secret, leaseMs: 5000, pollMs: 100 });
    const r = await flow`${T.fetch} >> (${T.a} | ${T.b}) >> ${T.merge} >> ${T.reader}`.run({
      backend,
      input: 2,
    });
    assert.equal((r.output as { fetched: { n: number } }).fetched.n, 2);
    assert.deepEqual(await r.channel.get("seen"), ["r_b"]);
    // Human in the loop through the same user.
    await using store = new RedisFeedbackStore({ url, prefix, secret, pollMs: 100 });
    const hitl = flow`${T.approve}`.run({ backend, runId: "acl-hitl" });
    const id = "acl-hitl.r_approve.c1.n1";
    while (!(await store.get(id))) await new Promise((r) => setTimeout(r, 20));
    await provideFeedback(id, { approved: true, respondedBy: "ana" }, { store });
    assert.equal(((await hitl).output as { approved: boolean }).approved, true);
    // A graceful stop (hand-back, leaving the group) too.
    worker.signal("SIGTERM");
    assert.equal((await worker.exited).code, 0);
    const errors = worker.events.filter((e) => e.type === "error");
    assert.deepEqual(errors, [], "the worker hit a permission error");
    // Another prefix is out of reach.
    await using other = new RedisChannel({ url, runId: "r", prefix: `${prefix}x` });
    await assert.rejects(() => other.set("k", 1), /NOPERM/);
  },
});

Deno.test({
  name: "rediss:// with a self-signed certificate works for producer and worker",
  ignore: NO_REDIS,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "graflow-tls-" });
    try {
      const openssl = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost",
          "-keyout",
          `${dir}/key.pem`,
          "-out",
          `${dir}/cert.pem`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output().catch(() => undefined);
      if (!openssl?.success) {
        if (Deno.env.get("REQUIRE_REDIS") === "1") throw new Error("openssl is missing or failed");
        console.warn("Skipping the TLS test: openssl is missing or failed");
        return;
      }
      await using server = await RedisServer.start({
        tls: { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` },
      });
      const ca = await Deno.readTextFile(`${dir}/cert.pem`);
      assert.match(server.url(), /^rediss:/);
      await runThrough(server.url(), ["--tls-ca", `${dir}/cert.pem`], { ca });
      // Without the CA the certificate is refused.
      await using ch = new RedisChannel({ url: server.url(), runId: "r", maxRetriesPerRequest: 1 });
      await assert.rejects(
        () => ch.get("k"),
        /Cannot reach Redis at 127.0.0.1:\d+: .*(certificate|self.signed|UnknownIssuer)/i,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
