/**
 * `resume()` reaches the same final result as an uninterrupted run, and runs only what was
 * pending: inside parallel groups, loops (nextIteration and static back edges), after
 * terminate, with dynamic tasks, partly arrived joins, retries and channel contents.
 *
 * @module
 */
import assert from "assert";
import {
  bestEffort,
  type Flow,
  flow,
  loadCheckpoint,
  parallel,
  resume,
  RetryLimitExceededError,
  type RunOptions,
  type RunResult,
  task,
} from "../../mod.ts";
import { delay, tempDir } from "./helpers.ts";

// Task names are process-global: everything in this file starts with "cpr_".
/** Task starts of the current run, as "name" or "name@attempt". */
let log: string[] = [];

function counts(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/**
 * Runs `f` once without interruption and once writing checkpoints, then resumes from every
 * checkpoint (or those `pick` selects) and checks: same output, results, steps and multiset of
 * completed tasks as the uninterrupted run, and the resumed run started exactly the tasks that
 * were not completed in the checkpoint. Checkpoints are written under `dir`.
 */
async function assertResumesLikePlain(
  dir: string,
  name: string,
  f: Flow,
  options: RunOptions = {},
  pick: (paths: string[]) => string[] = (p) => p,
): Promise<{ plain: RunResult; checkpoints: string[] }> {
  await using again = await tempDir();
  log = [];
  const plain = await f.run({ ...options, runId: `${name}-plain`, checkpointDir: again.path });
  const plainStarts = log;
  log = [];
  const original = await f.run({ ...options, runId: name, checkpointDir: dir });
  assert.deepEqual(counts(log), counts(plainStarts), "same tasks started in both runs");
  assert.ok(original.checkpoints.length > 0, "the run wrote checkpoints");
  const checkpoints = pick(original.checkpoints);
  for (const path of checkpoints) {
    const cp = await loadCheckpoint(path);
    log = [];
    const resumed = await resume(path, { checkpointDir: again.path });
    const where = `resuming ${path.split("/").slice(-2).join("/")}`;
    assert.equal(resumed.status, plain.status, where);
    assert.deepEqual(resumed.output, plain.output, where);
    assert.deepEqual(resumed.results, plain.results, where);
    assert.equal(resumed.steps, plain.steps, where);
    assert.deepEqual(counts(resumed.completed), counts(plain.completed), where);
    assert.deepEqual(resumed.completed.slice(0, cp.state.completed.length), cp.state.completed);
    assert.deepEqual(
      counts(log.map((s) => s.split("@")[0])),
      counts(resumed.completed.slice(cp.state.completed.length)),
      `${where}: started only the tasks that were pending`,
    );
  }
  return { plain, checkpoints: original.checkpoints };
}

function logged<I, O>(name: string, fn: (input: I) => O | Promise<O>) {
  return task(`cpr_${name}`, async (input: I) => {
    log.push(`cpr_${name}`);
    return await fn(input);
  });
}

const prep = logged("prep", (n: number) => n + 1);

Deno.test("resume from a deferred checkpoint of a group member while another member still runs", async () => {
  const fast = task("cpr_group_fast", async (n: number, ctx) => {
    log.push("cpr_group_fast");
    await ctx.checkpoint({ metadata: { member: "fast" } });
    return n * 2;
  });
  const slow = logged("group_slow", async (n: number) => {
    await delay(40);
    return n * 3;
  });
  const c1 = logged("group_chain1", async (n: number) => {
    await delay(10);
    return n + 5;
  });
  const c2 = logged("group_chain2", (n: number) => n + 7);
  const merge = logged("group_merge", (r: Record<string, number>) => r);
  const f = flow`${prep} >> (${fast} | ${slow} | ${c1} >> ${c2}) >> ${merge}`;
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(dir0.path, "group-deferred", f, {
    input: 1,
  });
  assert.deepEqual(plain.output, { cpr_group_fast: 4, cpr_group_slow: 6, cpr_group_chain2: 14 });
  const cp = await loadCheckpoint(checkpoints[0]);
  assert.deepEqual(cp.state.completed, ["cpr_prep", "cpr_group_fast"]);
  assert.deepEqual(cp.state.pending.map((p) => p.node).sort(), [
    "cpr_group_chain1",
    "cpr_group_slow",
  ]);
  assert.equal(Object.keys(cp.state.groups).length, 1, "the open group is saved");
});

Deno.test("resume from an immediate checkpoint of a group member re-runs that member only", async () => {
  const quick = logged("imm_quick", (n: number) => n + 1);
  const careful = task("cpr_imm_careful", async (n: number, ctx) => {
    log.push("cpr_imm_careful");
    await delay(20); // quick has finished by now
    await ctx.checkpoint({ deferred: false });
    return n * 100;
  });
  const merge = logged(
    "imm_merge",
    (r: Record<string, number>) => r.cpr_imm_quick + r.cpr_imm_careful,
  );
  const f = flow`${prep} >> (${quick} | ${careful}) >> ${merge}`;
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(dir0.path, "group-immediate", f, {
    input: 1,
  });
  assert.equal(plain.output, 203);
  // The resumed run re-ran careful, which wrote a checkpoint of its own: every one was checked.
  const cp = await loadCheckpoint(checkpoints[0]);
  assert.deepEqual(cp.state.completed, ["cpr_prep", "cpr_imm_quick"]);
  assert.deepEqual(cp.state.pending.map((p) => p.node), ["cpr_imm_careful"]);
});

type Machine = { state: "idle" | "fetching" | "parsing" | "saving" | "done"; n: number };
const NEXT: Record<Machine["state"], Machine["state"]> = {
  idle: "fetching",
  fetching: "parsing",
  parsing: "saving",
  saving: "done",
  done: "done",
};

Deno.test("resume inside a nextIteration state machine, from every transition's checkpoint", async () => {
  const machine = task("cpr_machine", async (m: Machine, ctx) => {
    log.push("cpr_machine");
    await ctx.channel.append("transitions", `${m.state}->${NEXT[m.state]}`);
    const next: Machine = { state: NEXT[m.state], n: m.n + ctx.cycle };
    await ctx.checkpoint({ metadata: { state: next.state } });
    if (next.state !== "done") ctx.nextIteration(next);
    return next;
  });
  const report = task("cpr_machine_report", async (m: Machine, ctx) => {
    log.push("cpr_machine_report");
    return { ...m, transitions: await ctx.channel.get<string[]>("transitions") };
  });
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(
    dir0.path,
    "machine",
    flow`${machine} >> ${report}`,
    { input: { state: "idle", n: 0 } },
  );
  assert.deepEqual(plain.output, {
    state: "done",
    n: 10,
    transitions: ["idle->fetching", "fetching->parsing", "parsing->saving", "saving->done"],
  });
  assert.equal(checkpoints.length, 4);
  const cp = await loadCheckpoint(checkpoints[1]);
  assert.deepEqual(cp.state.pending, [{
    node: "cpr_machine",
    input: { state: "parsing", n: 3 },
    from: "cpr_machine",
    kind: "iterate",
  }]);
  assert.equal(cp.state.cycles.cpr_machine, 2);
});

Deno.test("resume inside a static loop (back edge) with a dynamic exit, from every checkpoint", async () => {
  const exit = logged("loop_exit", (total: number) => `total ${total}`);
  const head = task("cpr_loop_head", async (total: number | undefined, ctx) => {
    log.push("cpr_loop_head");
    const t = (total ?? 0) + ctx.cycle;
    await ctx.checkpoint();
    if (ctx.cycle === 4) ctx.next(exit, t, { goto: true });
    return t;
  });
  const body = logged("loop_body", (t: number) => t * 2);
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(
    dir0.path,
    "static-loop",
    flow`${head} >> ${body} >> ${head}`,
  );
  // head: 1 -> body 2 -> head 4 -> body 8 -> head 11 -> body 22 -> head 26 -> exit
  assert.equal(plain.output, "total 26");
  assert.equal(checkpoints.length, 4);
  const edges = plain.graph.toMermaid();
  assert.match(edges, /cpr_loop_exit/);
});

Deno.test("resume after terminate finishes at once as terminated", async () => {
  const stopper = task("cpr_stopper", async (n: number, ctx) => {
    log.push("cpr_stopper");
    await ctx.checkpoint();
    ctx.terminate("enough");
    return n * 2;
  });
  const never = logged("never", (n: number) => n);
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(
    dir0.path,
    "terminated",
    flow`${prep} >> ${stopper} >> ${never}`,
    { input: 1 },
  );
  assert.equal(plain.status, "terminated");
  assert.equal(plain.output, 4);
  const cp = await loadCheckpoint(checkpoints[0]);
  assert.equal(cp.state.terminated, true);
  assert.deepEqual(cp.state.pending, []);
  // (assertResumesLikePlain resumed it: status "terminated", nothing started, same output)
});

Deno.test("resume with dynamically added tasks pending (next, next from a dynamic task, goto)", async () => {
  const leaf = logged("dyn_leaf", (n: number) => n + 1000);
  const dynA = task("cpr_dyn_a", (n: number, ctx) => {
    log.push("cpr_dyn_a");
    ctx.next(leaf, n);
    return n + 10;
  });
  const dynB = logged("dyn_b", (n: number) => n + 20);
  const adder = task("cpr_dyn_adder", async (n: number, ctx) => {
    log.push("cpr_dyn_adder");
    ctx.next(dynA, 1);
    ctx.next(dynB);
    await ctx.checkpoint();
    return n;
  });
  const after = task("cpr_dyn_after", async (n: number, ctx) => {
    log.push("cpr_dyn_after");
    await ctx.checkpoint();
    return n * 2;
  });
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(
    dir0.path,
    "dynamic",
    flow`${prep} >> ${adder} >> ${after}`,
    { input: 1 },
  );
  assert.deepEqual(plain.results.cpr_dyn_leaf, 1001);
  const cp = await loadCheckpoint(checkpoints[0]);
  assert.deepEqual(cp.state.pending.map((p) => [p.node, p.kind]).sort(), [
    ["cpr_dyn_a", "next"],
    ["cpr_dyn_after", "edge"],
    ["cpr_dyn_b", "next"],
  ]);
  assert.deepEqual(cp.state.dynamic, [
    { id: "cpr_dyn_a", by: "cpr_dyn_adder" },
    { id: "cpr_dyn_b", by: "cpr_dyn_adder" },
  ]);

  // goto: the static successor stays skipped after resume.
  const target = logged("goto_target", (n: number) => `jumped with ${n}`);
  const jumper = task("cpr_goto_jumper", async (n: number, ctx) => {
    log.push("cpr_goto_jumper");
    ctx.next(target, n + 1, { goto: true });
    await ctx.checkpoint();
    return n;
  });
  const skipped = logged("goto_skipped", (n: number) => n);
  await using dir1 = await tempDir();
  const jump = await assertResumesLikePlain(
    dir1.path,
    "goto",
    flow`${prep} >> ${jumper} >> ${skipped}`,
    { input: 1 },
  );
  assert.equal(jump.plain.output, "jumped with 3");
  assert.equal(jump.plain.results.cpr_goto_skipped, undefined);
});

Deno.test("resume with a join's inputs partly arrived", async () => {
  const left = task("cpr_join_left", async (n: number, ctx) => {
    log.push("cpr_join_left");
    await ctx.checkpoint();
    return n + 1;
  });
  const right = logged("join_right", async (n: number) => {
    await delay(30);
    return n + 2;
  });
  const join = logged("join_join", (r: Record<string, number>) => r);
  const f = flow`
    ${prep} >> ${left} >> ${join}
    ${prep} >> ${right} >> ${join}
  `;
  await using dir0 = await tempDir();
  const { plain, checkpoints } = await assertResumesLikePlain(dir0.path, "join", f, { input: 1 });
  assert.deepEqual(plain.output, { cpr_join_left: 3, cpr_join_right: 4 });
  const cp = await loadCheckpoint(checkpoints[0]);
  assert.deepEqual(cp.state.arrivals, { cpr_join_join: { cpr_join_left: 3 } });
  assert.deepEqual(cp.state.pending.map((p) => p.node), ["cpr_join_right"]);
});

Deno.test("resume keeps the attempt count of a task that checkpointed during a retry", async () => {
  await using dir = await tempDir();
  let failOnResume = false;
  const flaky = task("cpr_retry_flaky", async (n: number, ctx) => {
    log.push(`cpr_retry_flaky@${ctx.attempt}`);
    if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
    if (ctx.runId === "retry") await ctx.checkpoint({ deferred: false });
    if (failOnResume) throw new Error("still failing");
    return n * ctx.attempt;
  }, { retries: { maxRetries: 2, initialDelayMs: 1 } });
  log = [];
  const result = await flow`${flaky}`.run({ input: 5, checkpointDir: dir.path, runId: "retry" });
  assert.equal(result.output, 15);
  assert.deepEqual(log, ["cpr_retry_flaky@1", "cpr_retry_flaky@2", "cpr_retry_flaky@3"]);
  const cp = await loadCheckpoint(result.checkpoints[0]);
  assert.equal(cp.state.pending[0].attempt, 3);

  log = [];
  const resumed = await resume(result.checkpoints[0]);
  assert.deepEqual(log, ["cpr_retry_flaky@3"]);
  assert.equal(resumed.output, 15);
  // The retries were used up before the checkpoint: a failure now is final.
  log = [];
  failOnResume = true;
  const error = await resume(result.checkpoints[0]).catch((e) => e);
  assert.ok(error instanceof RetryLimitExceededError, String(error));
  assert.deepEqual(log, ["cpr_retry_flaky@3"]);
});

Deno.test("resume keeps the attempt count of a group member that was retrying when a sibling checkpointed", async () => {
  await using dir = await tempDir();
  let retrying!: () => void;
  const isRetrying = new Promise<void>((r) => retrying = r);
  const flaky = task("cpr_sibling_flaky", async (_: unknown, ctx) => {
    log.push(`cpr_sibling_flaky@${ctx.attempt}`);
    if (ctx.attempt === 1) throw new Error("first attempt fails");
    if (ctx.runId === "sibling") {
      retrying();
      await delay(30);
    }
    return ctx.attempt;
  }, { retries: { maxRetries: 1, initialDelayMs: 1 } });
  const sibling = task("cpr_sibling_cp", async (_: unknown, ctx) => {
    if (ctx.runId === "sibling") await isRetrying;
    await ctx.checkpoint();
    return "ok";
  });
  log = [];
  const result = await flow`${parallel([flaky, sibling])}`.run({
    checkpointDir: dir.path,
    runId: "sibling",
  });
  assert.equal(result.results.cpr_sibling_flaky, 2);
  assert.equal(result.results.cpr_sibling_cp, "ok");
  const cp = await loadCheckpoint(result.checkpoints[0]);
  assert.deepEqual(cp.state.pending.map((p) => [p.node, p.attempt]), [["cpr_sibling_flaky", 2]]);
  log = [];
  const resumed = await resume(result.checkpoints[0]);
  assert.deepEqual(log, ["cpr_sibling_flaky@2"]);
  assert.deepEqual(resumed.results, result.results);
});

Deno.test("resume restores the channel: values of every stored type, lists, counters and TTLs", async () => {
  await using dir = await tempDir();
  const bytes = new Uint8Array([0, 1, 2, 254, 255]);
  const writer = task("cpr_ch_writer", async (_: unknown, ctx) => {
    const c = ctx.channel;
    await c.set("plain", { a: 1, b: [true, null, "x"] });
    await c.set("typed", {
      when: new Date("2024-05-06T07:08:09Z"),
      big: 12345678901234567890n,
      map: new Map<unknown, unknown>([["k", 1], [2, new Set(["s"])]]),
      bytes,
      nothing: undefined,
      inf: -Infinity,
    });
    await c.append("log", "one");
    await c.append("log", { two: 2 });
    await c.set("list", [1, "two", new Date(0)]);
    await c.increment("counter", 5);
    await c.set("long_ttl", "stays", { ttlMs: 60_000 });
    await c.set("short_ttl", "goes", { ttlMs: 40 });
    await ctx.checkpoint();
    return "written";
  });
  const reader = task("cpr_ch_reader", async (_: unknown, ctx) => {
    const c = ctx.channel;
    await c.append("log", "three");
    await c.increment("counter");
    return {
      keys: await c.keys(),
      plain: await c.get("plain"),
      typed: await c.get("typed"),
      log: await c.get("log"),
      list: await c.get("list"),
      counter: await c.get("counter"),
      long: await c.get("long_ttl"),
    };
  });
  const f = flow`${writer} >> ${reader}`;
  const result = await f.run({ checkpointDir: dir.path, runId: "channel" });
  const cp = await loadCheckpoint(result.checkpoints[0]);
  assert.equal(cp.channelKind, "memory");
  const file = JSON.parse(await Deno.readTextFile(result.checkpoints[0] + ".channel"));
  const long = file.entries.find((e: { key: string }) => e.key === "long_ttl");
  assert.ok(long.expiresAt > Date.now() + 50_000, "the TTL is stored as an expiry time");

  await delay(60); // short_ttl has expired by now; long_ttl has not
  const resumed = await resume(result.checkpoints[0]);
  const out = resumed.output as Record<string, unknown>;
  assert.deepEqual(out.keys, ["counter", "list", "log", "long_ttl", "plain", "typed"]);
  assert.deepEqual(out.plain, { a: 1, b: [true, null, "x"] });
  assert.deepEqual(out.typed, {
    when: new Date("2024-05-06T07:08:09Z"),
    big: 12345678901234567890n,
    map: new Map<unknown, unknown>([["k", 1], [2, new Set(["s"])]]),
    bytes,
    nothing: undefined,
    inf: -Infinity,
  });
  assert.deepEqual(out.log, ["one", { two: 2 }, "three"]);
  assert.deepEqual(out.list, [1, "two", new Date(0)]);
  assert.equal(out.counter, 6);
  assert.equal(out.long, "stays");
  // The same answer as the uninterrupted run (apart from the key that expired meanwhile).
  const plainOut = result.output as Record<string, unknown>;
  assert.deepEqual({ ...plainOut, keys: undefined }, { ...out, keys: undefined });
  assert.equal(await resumed.channel.has("short_ttl"), false);
  // The restored TTL still runs out.
  const channel = resumed.channel;
  assert.equal(await channel.get("long_ttl"), "stays");
});

Deno.test("resuming the same checkpoint twice gives the same result", async () => {
  await using dir = await tempDir();
  const cp = task("cpr_twice_cp", async (n: number, ctx) => {
    await ctx.channel.increment("n", n);
    await ctx.checkpoint();
    return n;
  });
  const sum = task("cpr_twice_sum", async (n: number, ctx) => {
    return n + (await ctx.channel.increment("n", 100));
  });
  const r = await flow`${cp} >> ${sum}`.run({ input: 2, checkpointDir: dir.path });
  const a = await resume(r.checkpoints[0]);
  const b = await resume(r.checkpoints[0]);
  assert.equal(r.output, 104);
  assert.equal(a.output, 104);
  assert.equal(b.output, 104);
});

Deno.test("a checkpoint of a best-effort group with a failed member resumes without it", async () => {
  await using dir = await tempDir();
  const bad = task("cpr_be_bad", () => {
    throw new RangeError("member broke");
  });
  const cp = task("cpr_be_cp", async (n: number, ctx) => {
    await delay(20);
    await ctx.checkpoint();
    return n + 1;
  });
  const tail = task("cpr_be_tail", async (n: number) => {
    await delay(80);
    return n + 2;
  });
  const after = task("cpr_be_after", (r: Record<string, number>) => Object.keys(r).sort());
  const f = flow`${parallel([bad, cp, tail], { policy: bestEffort() })} >> ${after}`;
  const first = await f.run({ input: 1, checkpointDir: dir.path, runId: "be" });
  assert.deepEqual(first.output, ["cpr_be_cp", "cpr_be_tail"]);
  const loaded = await loadCheckpoint(first.checkpoints[0]);
  const members = loaded.state.groups["group_1"];
  assert.ok(members["cpr_be_bad"].failed?.error instanceof RangeError, "the error keeps its class");
  assert.equal((members["cpr_be_bad"].failed!.error as Error).message, "member broke");
  const resumed = await resume(first.checkpoints[0]);
  assert.deepEqual(resumed.output, ["cpr_be_cp", "cpr_be_tail"]);
});
