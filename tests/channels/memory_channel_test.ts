import assert from "assert";
import { flow, MemoryChannel, task } from "../../mod.ts";
import { channelConformance } from "./channel_suite.ts";

channelConformance("MemoryChannel", async () => ({
  channel: new MemoryChannel(),
  close: async () => {},
}));

channelConformance("MemoryChannel (maxValueBytes 4096)", async () => ({
  channel: new MemoryChannel({ maxValueBytes: 4096 }),
  maxValueBytes: 4096,
  close: async () => {},
}));

Deno.test("MemoryChannel expires keys by its injectable clock", async () => {
  let now = 1_000;
  const channel = new MemoryChannel({ now: () => now });
  await channel.set("k", "v", { ttlMs: 500 });
  now = 1_499;
  assert.equal(await channel.get("k"), "v");
  now = 1_500;
  assert.equal(await channel.get("k"), undefined, "expired exactly at set time + ttl");
  assert.equal(await channel.has("k"), false);
});

Deno.test("MemoryChannel rounds a fractional TTL up to whole milliseconds", async () => {
  let now = 0;
  const channel = new MemoryChannel({ now: () => now });
  await channel.set("k", 1, { ttlMs: 0.2 });
  assert.equal(await channel.has("k"), true);
  now = 1;
  assert.equal(await channel.has("k"), false);
});

Deno.test("MemoryChannel keeps a TTL across increment", async () => {
  let now = 0;
  const channel = new MemoryChannel({ now: () => now });
  await channel.set("c", 1, { ttlMs: 100 });
  assert.equal(await channel.increment("c"), 2);
  now = 100;
  assert.equal(await channel.has("c"), false);
  assert.equal(await channel.increment("c"), 1, "an expired counter starts again at 0");
});

Deno.test("MemoryChannel snapshot and fromSnapshot keep values, lists and TTLs", async () => {
  let now = 0;
  const channel = new MemoryChannel({ now: () => now });
  await channel.set("when", new Date(5));
  await channel.set("ttl", "t", { ttlMs: 50 });
  await channel.append("log", 1n);
  await channel.append("log", new Map([["a", 1]]));
  const snapshot = JSON.parse(JSON.stringify(await channel.snapshot()));
  assert.equal(snapshot.kind, "memory");
  assert.deepEqual(snapshot.entries.map((e: { key: string }) => e.key), ["log", "ttl", "when"]);
  const restored = MemoryChannel.fromSnapshot(snapshot, { now: () => now });
  assert.deepEqual(await restored.get("when"), new Date(5));
  assert.deepEqual(await restored.get("log"), [1n, new Map([["a", 1]])]);
  assert.equal(await restored.get("ttl"), "t");
  now = 50;
  assert.equal(await restored.has("ttl"), false);
  // The copy is independent of the original.
  await restored.set("when", 0);
  assert.deepEqual(await channel.get("when"), new Date(5));
});

Deno.test("MemoryChannel snapshot leaves out expired keys", async () => {
  let now = 0;
  const channel = new MemoryChannel({ now: () => now });
  await channel.set("gone", 1, { ttlMs: 10 });
  await channel.set("kept", 2);
  now = 20;
  const snapshot = await channel.snapshot();
  assert.deepEqual(snapshot.entries!.map((e) => e.key), ["kept"]);
});

Deno.test("MemoryChannel refuses a maxValueBytes that is not positive", () => {
  for (const maxValueBytes of [0, -1, NaN]) {
    assert.throws(() => new MemoryChannel({ maxValueBytes }), {
      name: "RangeError",
      message: /maxValueBytes must be positive/,
    });
  }
});

Deno.test("a run's channel is a MemoryChannel by default and readable after the run", async () => {
  task("chm_write", async (_: unknown, ctx) => {
    await ctx.channel.set("rows", 3);
    await ctx.channel.append("log", "written");
    return "ok";
  });
  task("chm_read", async (_: unknown, ctx) => {
    await ctx.channel.append("log", "read");
    return await ctx.channel.increment("rows", 2);
  });
  const result = await flow`chm_write >> chm_read`.run();
  assert.equal(result.output, 5);
  assert.ok(result.channel instanceof MemoryChannel);
  assert.deepEqual(await result.channel.get("log"), ["written", "read"]);
});

Deno.test("a run uses the channel it is given", async () => {
  task("chm_count", async (_: unknown, ctx) => await ctx.channel.increment("runs"));
  const channel = new MemoryChannel();
  await channel.set("runs", 10);
  const f = flow`chm_count`;
  await f.run({ channel });
  const second = await f.run({ channel });
  assert.equal(second.output, 12);
  assert.equal(second.channel, channel);
});

Deno.test("a task that stores an unstorable value fails the run with the TypeError", async () => {
  task("chm_bad_value", async (_: unknown, ctx) => {
    await ctx.channel.set("fn", { handler: () => 1 });
  });
  await assert.rejects(flow`chm_bad_value`.run(), (error: unknown) => {
    assert.equal((error as Error).name, "TaskFailedError");
    assert.equal((error as { code: string }).code, "TASK_FAILED");
    const cause = (error as Error).cause;
    assert.ok(cause instanceof TypeError);
    assert.match(cause.message, /Cannot store channel key "fn": value\.handler is a function/);
    return true;
  });
});
