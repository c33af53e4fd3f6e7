/**
 * Checkpoints taken during a map keep its finished items: resuming runs only the others. Map
 * nodes (policy, bound, custom policies) survive the file format; a tampered map is refused.
 *
 * @module
 */
import assert from "assert";
import {
  bestEffort,
  flow,
  type GroupOutcome,
  loadCheckpoint,
  map,
  parallel,
  resume,
  task,
  type TaskContext,
} from "../../mod.ts";
import { assertCheckpointError, tamper, tempDir } from "./helpers.ts";

// Task names are process-global: everything in this file starts with "cpm_".
const ran: number[] = [];
const list = task("cpm_list", (n: number) => Array.from({ length: n }, (_, i) => i));
const item = task("cpm_item", async (x: number, ctx: TaskContext) => {
  ran.push(x);
  await new Promise((resolve) => setTimeout(resolve, 2));
  if (x === 5) await ctx.checkpoint({ metadata: { at: "item 5" } });
  return x * 3;
});
const total = task("cpm_total", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
const f = flow`${list} >> ${map(item, { concurrency: 2, policy: bestEffort() })} >> ${total}`;

Deno.test("a checkpoint written by a map item keeps the finished items; resume runs the rest", async () => {
  await using dir = await tempDir();
  ran.length = 0;
  const first = await f.run({ input: 12, checkpointDir: dir.path, runId: "cpm-run" });
  assert.equal(first.output, 3 * 66);
  assert.equal(first.checkpoints.length, 1);
  const { state, metadata } = await loadCheckpoint(first.checkpoints[0]);
  assert.deepEqual(metadata.user, { at: "item 5" });
  const saved = state.maps!.cpm_item;
  const done = Object.keys(saved.results).map(Number);
  assert.ok(done.includes(5) && done.length >= 5 && done.length < 12, `done: ${done}`);
  assert.deepEqual(saved.items, Array.from({ length: 12 }, (_, i) => i));
  assert.equal(saved.results["5"], 15);

  ran.length = 0;
  const resumed = await resume(first.checkpoints[0]);
  assert.equal(resumed.output, 3 * 66);
  assert.deepEqual(
    ran.toSorted((a, b) => a - b),
    Array.from({ length: 12 }, (_, i) => i).filter((i) => !done.includes(i)),
    "only the items not done ran again",
  );
  assert.equal(resumed.graph.items().cpm_item, 12);
});

Deno.test("a map node's policy and bound survive the file; a custom policy needs the flow", async () => {
  await using dir = await tempDir();
  const custom = (o: GroupOutcome) => {
    if (o.failed.length > 1) throw new Error("too many");
  };
  const g = flow`${list} >> ${map(item, { policy: custom, name: "cpm_custom" })} >> ${total}`;
  const r = await g.run({ input: 7, checkpointDir: dir.path, runId: "cpm-custom" });
  const base = r.checkpoints[0];
  await assertCheckpointError(
    resume(base),
    base + ".state.json",
    /map "cpm_custom" uses a custom policy, which cannot be stored: pass the flow to resume\(\) as \{ flow \}/,
  );
  assert.equal((await resume(base, { flow: g })).output, 3 * 21);
  const bounded = await f.run({ input: 7, checkpointDir: dir.path, runId: "cpm-bounded" });
  const json = JSON.parse(await Deno.readTextFile(bounded.checkpoints[0] + ".state.json"));
  const node = json.flow.nodes.find((n: { id: string }) => n.id === "cpm_item");
  assert.deepEqual(node.map, {
    task: "cpm_item",
    policy: { type: "bestEffort" },
    concurrency: 2,
    named: false,
  });
});

Deno.test("a tampered map in a state file is refused, naming the field", async () => {
  await using dir = await tempDir();
  const r = await f.run({ input: 8, checkpointDir: dir.path, runId: "cpm-tamper" });
  const base = r.checkpoints[0];
  const file = base + ".state.json";
  type S = {
    state: { maps: Record<string, { results: Record<string, unknown>; failed: object }> };
  };
  await tamper(base, "state", (json) => {
    (json as unknown as S).state.maps.cpm_item.results["8"] = { t: "n", v: 1 };
    return json;
  }, true);
  await assertCheckpointError(
    loadCheckpoint(base),
    file,
    /stateFile\.state\.maps\["cpm_item"\]\.results names item "8", not an index below 8/,
  );
  await tamper(base, "state", (json) => {
    const m = (json as unknown as S).state.maps.cpm_item;
    delete m.results["8"];
    const [first] = Object.keys(m.results);
    (m.failed as Record<string, unknown>)[first] = {};
    return json;
  }, true);
  await assertCheckpointError(loadCheckpoint(base), file, /which also succeeded/);
});

Deno.test("a ctx.map in progress survives a checkpoint with its policy and bound", async () => {
  await using dir = await tempDir();
  const seen: number[] = [];
  const part = task("cpm_part", async (x: number, ctx: TaskContext) => {
    seen.push(x);
    await new Promise((resolve) => setTimeout(resolve, 2));
    if (x === 3) throw new Error("three is bad");
    if (x === 4) await ctx.checkpoint();
    return x;
  });
  const caller = task("cpm_caller", (n: number, ctx: TaskContext) => {
    ctx.map(part, Array.from({ length: n }, (_, i) => i), {
      policy: bestEffort(),
      concurrency: 1,
    });
  });
  const g = flow`${caller} >> ${total}`;
  const first = await g.run({ input: 8, checkpointDir: dir.path, runId: "cpm-ctx" });
  assert.equal(first.output, 0 + 1 + 2 + 4 + 5 + 6 + 7);
  const { state } = await loadCheckpoint(first.checkpoints[0]);
  const saved = state.maps!.cpm_caller;
  assert.equal(saved.node, "cpm_part");
  assert.deepEqual(saved.policy, { type: "bestEffort" });
  assert.equal(saved.concurrency, 1);
  assert.deepEqual(Object.keys(saved.results), ["0", "1", "2", "4"]);
  assert.deepEqual(Object.keys(saved.failed), ["3"]);
  assert.deepEqual(state.dynamic, [{ id: "cpm_part", by: "cpm_caller" }]);
  seen.length = 0;
  const resumed = await resume(first.checkpoints[0]);
  assert.equal(resumed.output, first.output);
  assert.deepEqual(seen, [5, 6, 7], "one at a time, only the items not done");
});

Deno.test("failures of group members and map items survive a checkpoint as errors", async () => {
  await using dir = await tempDir();
  const bad = task("cpm_bad", () => {
    throw new RangeError("out of range");
  });
  const saver = task("cpm_saver", async (_: unknown, ctx: TaskContext) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    await ctx.checkpoint();
    return "saved";
  });
  const late = task("cpm_late", async () => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    return "late";
  });
  const seen: unknown[] = [];
  const g = flow`${
    parallel([bad, saver, late], {
      policy: (o: GroupOutcome) => void seen.push(o.failed[0]?.error),
    })
  }`;
  const first = await g.run({ checkpointDir: dir.path, runId: "cpm-group" });
  const { state } = await loadCheckpoint(first.checkpoints[0]);
  const failed = Object.values(Object.values(state.groups)[0]).find((m) => m.failed)!.failed!;
  assert.ok(failed.error instanceof RangeError, `restored as ${failed.error}`);
  seen.length = 0;
  const resumed = await resume(first.checkpoints[0], { flow: g });
  assert.deepEqual(resumed.output, first.output);
  assert.ok(seen[0] instanceof RangeError && seen[0].message === "out of range");
});
