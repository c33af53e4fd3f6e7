import assert from "node:assert/strict";
import { MemoryChannel } from "../../mod.ts";
import { RedisChannel } from "../../src/redis/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { channelConformance } from "../channels/channel_suite.ts";

let server: RedisServer | undefined;
async function url(): Promise<string> {
  server ??= await RedisServer.start();
  return server.url();
}
if (!NO_REDIS) {
  channelConformance("RedisChannel", async () => {
    const channel = new RedisChannel({ url: await url(), runId: "suite", prefix: randomPrefix() });
    return { channel, close: async () => (await channel.clear(), await channel.close()) };
  });
  channelConformance("RedisChannel (maxValueBytes 4096)", async () => {
    const channel = new RedisChannel({
      url: await url(),
      runId: "suite",
      prefix: randomPrefix(),
      maxValueBytes: 4096,
    });
    return {
      channel,
      maxValueBytes: 4096,
      close: async () => (await channel.clear(), await channel.close()),
    };
  });
}

function channel(u: string, runId = "run-1", prefix = randomPrefix()): RedisChannel {
  return new RedisChannel({ url: u, runId, prefix });
}

Deno.test({
  name: "RedisChannel stores every value type faithfully",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    const values: unknown[] = [
      "text",
      42,
      -0,
      1.5e300,
      Infinity,
      NaN,
      true,
      null,
      undefined,
      123456789012345678901234567890n,
      new Date("2024-05-06T07:08:09.010Z"),
      new Map<unknown, unknown>([["a", 1], [2, new Set([3])]]),
      new Set(["x", "y"]),
      new Uint8Array([0, 1, 255]),
      { nested: { deep: [1, "two", { three: 3n }] }, $type: "not a tag" },
    ];
    for (const [i, v] of values.entries()) {
      await ch.set(`k${i}`, v);
      assert.deepEqual(await ch.get(`k${i}`), v, `value ${i}`);
    }
  },
});

Deno.test({
  name: "RedisChannel rejects a value it cannot store",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    await assert.rejects(() => ch.set("f", () => 1), TypeError);
    await assert.rejects(() => ch.set("c", new (class Point {})()), /instance of Point/);
    await assert.rejects(() => ch.append("l", Symbol("s")), TypeError);
    await assert.rejects(() => ch.set("", 1), /non-empty string/);
    await assert.rejects(() => ch.set("t", 1, { ttlMs: -5 }), RangeError);
    await assert.rejects(() => ch.increment("n", NaN), /finite number/);
    assert.deepEqual(await ch.keys(), []);
    const small = new RedisChannel({
      url: await url(),
      runId: "r",
      prefix: randomPrefix(),
      maxValueBytes: 10,
    });
    await using _ = small;
    await assert.rejects(() => small.set("big", "x".repeat(100)), /over the limit of 10/);
  },
});

Deno.test({
  name: "RedisChannel lists: append, arrays set, empty arrays, type errors",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    assert.equal(await ch.append("log", "a"), 1);
    assert.equal(await ch.append("log", { b: 2n }), 2);
    assert.deepEqual(await ch.get("log"), ["a", { b: 2n }]);
    await ch.set("arr", []);
    assert.deepEqual(await ch.get("arr"), []);
    assert.equal(await ch.has("arr"), true);
    assert.equal(await ch.append("arr", 1), 1);
    await ch.set("arr2", [1, 2]);
    assert.equal(await ch.append("arr2", 3), 3);
    assert.deepEqual(await ch.get("arr2"), [1, 2, 3]);
    const big = Array.from({ length: 5000 }, (_, i) => i);
    await ch.set("big", big);
    assert.deepEqual(await ch.get("big"), big);
    await ch.set("scalar", 1);
    await assert.rejects(() => ch.append("scalar", 2), /holds a value that is not a list/);
    await assert.rejects(() => ch.increment("log"), /holds a value that is not a number/);
    await ch.set("str", "5");
    await assert.rejects(() => ch.increment("str"), /not a number/);
  },
});

Deno.test({
  name: "RedisChannel increment reproduces JS addition",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    const mem = new MemoryChannel();
    const steps = [0.1, 0.2, 1e-7, -3, 1e21, 1 / 3, -1e21, 2 ** 53, 0.7, -Math.PI];
    for (const by of steps) {
      assert.equal(await ch.increment("x", by), await mem.increment("x", by));
    }
    assert.equal(await ch.get("x"), await mem.get("x"));
    assert.equal(await ch.increment("fresh"), 1);
    await ch.set("inf", Infinity);
    assert.equal(await ch.increment("inf", 5), Infinity);
    await ch.set("big", 1.7e308);
    assert.equal(await ch.increment("big", 1.7e308), Infinity);
    await ch.set("nz", -0);
    assert.ok(Object.is(await ch.increment("nz", -0), -0));
    assert.ok(Object.is(await ch.get("nz"), -0));
    // Random sums agree bit for bit with JS.
    let js = 0;
    for (let i = 0; i < 200; i++) {
      const by = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 30 - 15);
      js += by;
      assert.equal(await ch.increment("r", by), js);
    }
  },
});

Deno.test({
  name: "RedisChannel increment is atomic under concurrency",
  ignore: NO_REDIS,
  async fn() {
    const u = await url();
    const prefix = randomPrefix();
    const chans = [channel(u, "run", prefix), channel(u, "run", prefix), channel(u, "run", prefix)];
    await Promise.all(chans.flatMap((c) => Array.from({ length: 100 }, () => c.increment("n"))));
    assert.equal(await chans[0].get("n"), 300);
    await Promise.all(chans.map((c) => c.close()));
  },
});

Deno.test({
  name: "RedisChannel TTL: set with ttl expires, plain set clears it, increment and append keep it",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    await ch.set("a", 1, { ttlMs: 150 });
    await ch.set("b", 1, { ttlMs: 150 });
    await ch.set("b", 2); // clears the TTL
    await ch.set("c", 1, { ttlMs: 150 });
    assert.equal(await ch.increment("c"), 2); // keeps it
    await ch.set("d", [1], { ttlMs: 150 });
    assert.equal(await ch.append("d", 2), 2); // keeps it
    await ch.set("e", [1], { ttlMs: 150 });
    await ch.set("e", [2]); // clears it
    assert.deepEqual(await ch.keys(), ["a", "b", "c", "d", "e"]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await ch.get("a", "gone"), "gone");
    assert.equal(await ch.has("c"), false);
    assert.equal(await ch.get("d"), undefined);
    assert.deepEqual(await ch.keys(), ["b", "e"]);
    assert.equal(await ch.increment("c"), 1); // expired counts as missing
  },
});

Deno.test({
  name: "RedisChannel keys, delete, has, clear, and runs never collide",
  ignore: NO_REDIS,
  async fn() {
    const u = await url();
    const prefix = randomPrefix();
    await using a = channel(u, "run-a", prefix);
    await using b = channel(u, "run-a:ch:", prefix);
    for (const k of ["z", "a", "m", "ä", "B"]) await a.set(k, k);
    await b.set("x", 1);
    assert.deepEqual(await a.keys(), ["B", "a", "m", "z", "ä"]);
    assert.deepEqual(await b.keys(), ["x"]);
    assert.equal(await a.delete("m"), true);
    assert.equal(await a.delete("m"), false);
    assert.equal(await a.has("m"), false);
    await a.clear();
    assert.deepEqual(await a.keys(), []);
    assert.equal(await b.get("x"), 1);
  },
});

Deno.test({
  name: "RedisChannel behaves like MemoryChannel on random operation sequences",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    const mem = new MemoryChannel();
    const keys = ["a", "b", "c"];
    const vals = [1, 2.5, "s", [1, 2], [], { o: 1 }, null, -0];
    const outcome = async (f: () => Promise<unknown>) => {
      try {
        return { ok: await f() };
      } catch (e) {
        return { err: `${(e as Error).name}: ${(e as Error).message}` };
      }
    };
    for (let i = 0; i < 400; i++) {
      const k = keys[Math.floor(Math.random() * keys.length)];
      const v = vals[Math.floor(Math.random() * vals.length)];
      const op = Math.floor(Math.random() * 8);
      const run = (c: MemoryChannel | RedisChannel) =>
        [
          () => c.get(k),
          () => c.set(k, v),
          () => c.delete(k),
          () => c.has(k),
          () => c.keys(),
          () => c.append(k, v),
          () => c.increment(k, typeof v === "number" ? v : 1),
          () => (Math.random() < 0.05 ? c.clear() : c.get(k, "fallback")),
        ][op]();
      // Same randomness for both: fix the clear choice first.
      const r = Math.random();
      const orig = Math.random;
      Math.random = () => r;
      try {
        const [x, y] = [await outcome(() => run(mem)), await outcome(() => run(ch))];
        assert.deepEqual(y, x, `step ${i}: op ${op} on ${k} with ${JSON.stringify(v)}`);
      } finally {
        Math.random = orig;
      }
    }
  },
});

Deno.test({
  name: "RedisChannel snapshot lists the entries with their TTLs",
  ignore: NO_REDIS,
  async fn() {
    await using ch = channel(await url());
    await ch.set("v", { a: 1 });
    await ch.append("l", 1);
    await ch.set("t", 1, { ttlMs: 60_000 });
    const snap = await ch.snapshot();
    assert.equal(snap.kind, "redis");
    assert.deepEqual(snap.entries!.map((e) => e.key), ["l", "t", "v"]);
    assert.deepEqual(snap.entries![0].list, ["1"]);
    assert.ok(snap.entries![1].expiresAt! > Date.now());
    assert.equal(snap.entries![2].value, '{"a":1}');
  },
});

Deno.test({
  name: "RedisChannel refuses a malformed run id or prefix",
  ignore: NO_REDIS,
  fn() {
    assert.throws(() => new RedisChannel({ runId: "a b" }), /runId must be/);
    assert.throws(() => new RedisChannel({ runId: "a", prefix: "x y" }), /prefix must be/);
    assert.throws(() => new RedisChannel({ runId: "a", url: "http://x" }), /redis:\/\//);
  },
});

Deno.test({
  name: "RedisChannel tests: stop the server",
  ignore: NO_REDIS,
  async fn() {
    await server?.stop();
  },
});
