/**
 * Writing checkpoints: when deferred and immediate checkpoints are written, where, what the
 * three files hold, `createCheckpoint(run)` from the host, and retention.
 *
 * @module
 */
import assert from "assert";
import { join } from "node:path";
import {
  type CheckpointMetadata,
  createCheckpoint,
  flow,
  loadCheckpoint,
  MemoryChannel,
  resume,
  task,
  TaskFailedError,
  WorkflowError,
} from "../../mod.ts";
import { SCHEMA_VERSION } from "../../src/checkpoint/format.ts";
import { checkpointsIn, listDir, readJson, sha256, tempDir } from "./helpers.ts";

// Task names are process-global: everything in this file starts with "cpw_".
let log: string[] = [];
let dirDuringTask: string[] | undefined;

const first = task("cpw_first", (n: number) => {
  log.push("first");
  return n + 1;
});
const last = task("cpw_last", (n: number) => {
  log.push("last");
  return n * 10;
});

Deno.test("ctx.checkpoint() is written after the task succeeded, with its successors pending", async () => {
  await using dir = await tempDir();
  log = [];
  const middle = task("cpw_deferred_middle", async (n: number, ctx) => {
    await ctx.checkpoint({ metadata: { note: "after middle" } });
    // Nothing is written while the task still runs.
    dirDuringTask = await listDir(dir.path);
    log.push("middle");
    return n * 2;
  });
  const result = await flow`${first} >> ${middle} >> ${last}`.run({
    input: 1,
    checkpointDir: dir.path,
    runId: "deferred",
  });
  assert.deepEqual(dirDuringTask, []);
  assert.equal(result.output, 40);
  assert.deepEqual(result.checkpoints, [join(dir.path, "deferred", "step_2")]);
  const cp = await loadCheckpoint(result.checkpoints[0]);
  assert.deepEqual(cp.state.completed, ["cpw_first", "cpw_deferred_middle"]);
  assert.deepEqual(cp.state.results, { cpw_first: 2, cpw_deferred_middle: 4 });
  assert.deepEqual(
    cp.state.pending.map((p) => [p.node, p.input, p.from]),
    [["cpw_last", 4, "cpw_deferred_middle"]],
  );
  assert.equal(cp.metadata.taskId, "cpw_deferred_middle");
  assert.deepEqual(cp.metadata.user, { note: "after middle" });
  // Resuming runs only what was pending.
  log = [];
  const resumed = await resume(result.checkpoints[0]);
  assert.deepEqual(log, ["last"]);
  assert.equal(resumed.output, 40);
  assert.deepEqual(resumed.results, result.results);
  assert.deepEqual(resumed.completed, result.completed);
  assert.equal(resumed.steps, result.steps);
});

Deno.test("ctx.checkpoint() is not written when the task fails, also not by a later successful attempt", async () => {
  await using dir = await tempDir();
  const failing = task("cpw_failing", async (_: unknown, ctx) => {
    await ctx.checkpoint();
    throw new Error("disk full");
  });
  const error = await flow`${failing}`.run({ checkpointDir: dir.path }).catch((e) => e);
  assert.ok(error instanceof TaskFailedError, String(error));
  assert.deepEqual(await listDir(dir.path), []);

  // Attempt 1 asks for a checkpoint and fails; attempt 2 succeeds without asking.
  const flaky = task("cpw_flaky", async (_: unknown, ctx) => {
    if (ctx.attempt === 1) {
      await ctx.checkpoint();
      throw new Error("transient");
    }
    return ctx.attempt;
  }, { retries: { maxRetries: 1, initialDelayMs: 1 } });
  const result = await flow`${flaky}`.run({ checkpointDir: dir.path });
  assert.equal(result.output, 2);
  assert.deepEqual(result.checkpoints, []);
  assert.deepEqual(await listDir(dir.path), []);
});

Deno.test("ctx.checkpoint() from a task that cancels the run is not written", async () => {
  await using dir = await tempDir();
  const canceling = task("cpw_canceling", async (_: unknown, ctx) => {
    await ctx.checkpoint();
    ctx.cancel("stop");
    return 1;
  });
  const error = await flow`${canceling}`.run({ checkpointDir: dir.path }).catch((e) => e);
  assert.equal((error as WorkflowError).code, "CANCELED", String(error));
  assert.deepEqual(await listDir(dir.path), []);
});

Deno.test("ctx.checkpoint({ deferred: false }) is written at once and the task re-runs from its start on resume", async () => {
  await using dir = await tempDir();
  log = [];
  let seen: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  const immediate = task("cpw_immediate", async (n: number, ctx) => {
    log.push(`immediate start (attempt ${ctx.attempt}, cycle ${ctx.cycle})`);
    if (!ctx.runId.endsWith("-no-checkpoint")) {
      const info = await ctx.checkpoint({ deferred: false, metadata: { phase: "mid-task" } });
      // The files exist when the call returns.
      seen = await loadCheckpoint(info!.path);
      assert.deepEqual(info!.metadata, seen.metadata);
    }
    log.push("immediate end");
    return n + 100;
  });
  const f = flow`${first} >> ${immediate} >> ${last}`;
  const result = await f.run({ input: 1, checkpointDir: dir.path, runId: "imm" });
  assert.equal(result.output, 1020);
  assert.deepEqual(result.checkpoints, [join(dir.path, "imm", "step_1")]);
  assert.equal(seen!.metadata.taskId, "cpw_immediate");
  assert.deepEqual(seen!.metadata.user, { phase: "mid-task" });
  assert.equal(seen!.metadata.steps, 1);
  assert.deepEqual(seen!.state.completed, ["cpw_first"]);
  assert.deepEqual(
    seen!.state.pending.map((p) => [p.node, p.input, p.attempt]),
    [["cpw_immediate", 2, 1]],
  );
  assert.equal(seen!.state.cycles.cpw_first, 1);
  assert.equal(seen!.state.cycles.cpw_immediate ?? 0, 0); // the interrupted execution does not count

  log = [];
  const resumed = await resume(result.checkpoints[0]);
  assert.deepEqual(log, [
    "immediate start (attempt 1, cycle 1)",
    "immediate end",
    "last",
  ]);
  assert.equal(resumed.output, 1020);
  assert.deepEqual(resumed.results, result.results);
  assert.deepEqual(resumed.completed, result.completed);
  assert.equal(resumed.steps, result.steps);
  // The re-run asked again: the second checkpoint at the same step count gets its own path
  // and the one we resumed from stays intact.
  assert.deepEqual(resumed.checkpoints, [join(dir.path, "imm", "step_1_2")]);
  await loadCheckpoint(result.checkpoints[0]);
});

Deno.test("createCheckpoint(run) checkpoints a running run from the host; running tasks run again on resume", async () => {
  await using dir = await tempDir();
  log = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let started!: () => void;
  const isStarted = new Promise<void>((r) => started = r);
  const slow = task("cpw_slow", async (n: number, ctx) => {
    log.push("slow start");
    if (ctx.runId === "host") {
      started();
      await gate;
    }
    log.push("slow end");
    return n * 3;
  });
  const f = flow`${first} >> ${slow} >> ${last}`;
  const channel = new MemoryChannel();
  const run = f.start({ input: 1, checkpointDir: dir.path, runId: "host", channel });
  await isStarted;
  await channel.set("note", "set before the checkpoint");
  const info = await createCheckpoint(run, { metadata: { by: "host" } });
  release();
  const result = await run.result;
  assert.equal(result.output, 60);
  assert.equal(info.path, join(dir.path, "host", "step_1"));
  assert.equal(info.metadata.taskId, undefined);
  assert.deepEqual(info.metadata.user, { by: "host" });
  assert.deepEqual(result.checkpoints, [info.path]);
  const cp = await loadCheckpoint(info.path);
  assert.deepEqual(cp.state.pending.map((p) => [p.node, p.input]), [["cpw_slow", 2]]);

  log = [];
  const resumed = await resume(info.path);
  assert.deepEqual(log, ["slow start", "slow end", "last"]);
  assert.equal(resumed.output, 60);
  assert.deepEqual(resumed.results, result.results);
  assert.equal(await resumed.channel.get("note"), "set before the checkpoint");

  // An explicit path, and the error without a folder or a path.
  const run2 = f.start({ input: 1 });
  const explicit = await createCheckpoint(run2, { path: join(dir.path, "explicit", "cp") });
  assert.equal(explicit.path, join(dir.path, "explicit", "cp"));
  assert.deepEqual(await listDir(join(dir.path, "explicit")), [
    "cp.channel",
    "cp.meta.json",
    "cp.state.json",
  ]);
  await assert.rejects(
    createCheckpoint(run2),
    (e: WorkflowError) =>
      e.code === "CHECKPOINT_UNAVAILABLE" && /set run\(\{ checkpointDir \}\)/.test(e.message),
  );
  await run2.result;
});

Deno.test("run({ checkpointDir }) writes to <dir>/<runId>/step_<steps>; a task's path is a name in the run's folder", async () => {
  await using dir = await tempDir();
  const cp = task("cpw_default_cp", async (n: number, ctx) => {
    await ctx.checkpoint();
    return n;
  });
  const f = flow`${first} >> ${cp} >> ${last}`;
  const named = await f.run({ input: 0, checkpointDir: dir.path, runId: "named-run" });
  assert.deepEqual(named.checkpoints, [join(dir.path, "named-run", "step_2")]);
  const random = await f.run({ input: 0, checkpointDir: dir.path });
  assert.match(random.runId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(random.checkpoints, [join(dir.path, random.runId, "step_2")]);
  assert.deepEqual(await listDir(join(dir.path, random.runId)), [
    "step_2.channel",
    "step_2.meta.json",
    "step_2.state.json",
  ]);
  // A task's path is a name inside the run's folder.
  const explicit = task("cpw_explicit_path", async (n: number, ctx) => {
    await ctx.checkpoint({ path: "mine/here" });
    return n;
  });
  const r = await flow`${explicit}`.run({ input: 5, checkpointDir: dir.path, runId: "own" });
  assert.deepEqual(r.checkpoints, [join(await Deno.realPath(dir.path), "own", "mine", "here")]);
  assert.equal((await resume(r.checkpoints[0])).output, 5);
  // No folder: the task fails with a clear error.
  const error = await f.run({ input: 0 }).catch((e) => e);
  assert.ok(error instanceof WorkflowError);
  assert.equal(error.code, "CHECKPOINT_UNAVAILABLE");
  assert.match(error.message, /Cannot write checkpoint of run ".+" from task "cpw_default_cp"/);
});

Deno.test("the three files hold the documented contents, with SHA-256 checksums and no temp files left", async () => {
  await using dir = await tempDir();
  const writer = task("cpw_files_writer", async (n: number, ctx) => {
    await ctx.channel.set("config", { retries: 3, when: new Date("2024-01-02T03:04:05Z") });
    await ctx.channel.append("events", "wrote config");
    await ctx.checkpoint({ metadata: { stage: "files", nested: { a: [1, 2] } } });
    return new Map([["n", n]]);
  });
  const reader = task("cpw_files_reader", (m: Map<string, number>) => m.get("n"));
  const before = Date.now();
  const result = await flow`${writer} >> ${reader}`.run({
    input: 7,
    checkpointDir: dir.path,
    runId: "files",
  });
  assert.equal(result.output, 7);
  const base = join(dir.path, "files", "step_1");
  assert.deepEqual(await listDir(join(dir.path, "files")), [
    "step_1.channel",
    "step_1.meta.json",
    "step_1.state.json",
  ]);

  const meta = await readJson<CheckpointMetadata>(base + ".meta.json");
  assert.deepEqual(Object.keys(meta).sort(), [
    "checkpointId",
    "checksum",
    "createdAt",
    "runId",
    "schemaVersion",
    "steps",
    "taskId",
    "user",
  ]);
  assert.match(meta.checkpointId, /^[0-9a-f-]{36}$/);
  assert.equal(meta.runId, "files");
  assert.equal(new Date(meta.createdAt).toISOString(), meta.createdAt);
  const created = Date.parse(meta.createdAt);
  assert.ok(created >= before - 5 && created <= Date.now(), meta.createdAt);
  assert.equal(meta.steps, 1);
  assert.equal(meta.taskId, "cpw_files_writer");
  assert.deepEqual(meta.user, { stage: "files", nested: { a: [1, 2] } });
  assert.equal(meta.schemaVersion, SCHEMA_VERSION);
  assert.equal(meta.checksum.state, await sha256(await Deno.readFile(base + ".state.json")));
  assert.equal(meta.checksum.channel, await sha256(await Deno.readFile(base + ".channel")));

  const state = await readJson<{
    schemaVersion: number;
    runId: string;
    state: Record<string, unknown>;
    flow: { nodes: { id: string; kind: string; module?: string }[]; edges: string[][] };
  }>(base + ".state.json");
  assert.equal(state.schemaVersion, SCHEMA_VERSION);
  assert.equal(state.runId, "files");
  assert.equal(state.state.steps, 1);
  assert.deepEqual(state.state.completed, ["cpw_files_writer"]);
  assert.deepEqual(state.state.cycles, { cpw_files_writer: 1 });
  // Values that JSON cannot hold are stored as tagged trees.
  assert.deepEqual(state.state.results, {
    cpw_files_writer: { $type: "Map", value: [["n", 7]] },
  });
  assert.deepEqual(state.state.pending, [{
    node: "cpw_files_reader",
    input: { $type: "Map", value: [["n", 7]] },
    from: "cpw_files_writer",
    kind: "edge",
  }]);
  assert.deepEqual(state.state.dynamic, []);
  assert.deepEqual(state.flow.nodes, [
    { id: "cpw_files_writer", kind: "task", module: import.meta.url },
    { id: "cpw_files_reader", kind: "task", module: import.meta.url },
  ]);
  assert.deepEqual(state.flow.edges, [["cpw_files_writer", "cpw_files_reader"]]);

  const channel = await readJson<{ kind: string; entries: unknown[] }>(base + ".channel");
  assert.equal(channel.kind, "memory");
  assert.deepEqual(channel.entries, [
    {
      key: "config",
      value: JSON.stringify({
        retries: 3,
        when: { $type: "Date", value: "2024-01-02T03:04:05.000Z" },
      }),
    },
    { key: "events", list: [JSON.stringify("wrote config")] },
  ]);
});

Deno.test("a checkpoint of a result that cannot be stored fails the run with CHECKPOINT_FAILED", async () => {
  await using dir = await tempDir();
  const bad = task("cpw_unstorable", async (_: unknown, ctx) => {
    await ctx.checkpoint();
    return { callback: () => 1 };
  });
  const error = await flow`${bad} >> ${last}`.run({ checkpointDir: dir.path }).catch((e) => e);
  assert.ok(error instanceof WorkflowError, String(error));
  assert.equal(error.code, "CHECKPOINT_FAILED");
  assert.match(error.message, /Cannot write checkpoint of run ".+": .*a function \(callback\)/);
});

Deno.test("keepCheckpoints: n keeps the newest n checkpoints of the run and nothing of other runs", async () => {
  await using dir = await tempDir();
  const counter = task("cpw_retention_counter", async (n: number, ctx) => {
    await ctx.checkpoint({ metadata: { n } });
    if (n < 12) ctx.nextIteration(n + 1);
    return n;
  });
  const f = flow`${counter}`;
  const other = await f.run({ input: 10, checkpointDir: dir.path, runId: "other" });
  assert.equal(other.checkpoints.length, 3);
  const result = await f.run({
    input: 1,
    checkpointDir: dir.path,
    runId: "kept",
    keepCheckpoints: 3,
  });
  assert.equal(result.output, 12);
  assert.equal(result.checkpoints.length, 12); // every checkpoint written is reported
  const kept = await checkpointsIn(dir.path, "kept");
  assert.deepEqual(kept.map((b) => b.split("/").pop()), ["step_10", "step_11", "step_12"]);
  for (const base of kept) await loadCheckpoint(base);
  assert.equal((await listDir(join(dir.path, "kept"))).length, 9);
  assert.equal((await checkpointsIn(dir.path, "other")).length, 3);
  // keepCheckpoints is kept across a resume. The resumed run re-takes the checkpoints of
  // steps 11 and 12 under new names (no checkpoint overwrites another); they are the newest.
  const resumed = await resume(kept[0]);
  assert.equal(resumed.output, 12);
  assert.deepEqual(
    (await checkpointsIn(dir.path, "kept")).map((b) => b.split("/").pop()).sort(),
    ["step_11_2", "step_12", "step_12_2"],
  );
  await assert.rejects(
    f.run({ input: 1, checkpointDir: dir.path, keepCheckpoints: 0 }),
    /keepCheckpoints must be a whole number >= 1, got 0/,
  );
});

Deno.test("keepCheckpoints breaks ties of createdAt by step count", async () => {
  await using dir = await tempDir();
  const counter = task("cpw_retention_ties", async (n: number, ctx) => {
    await ctx.checkpoint();
    if (n < 12) ctx.nextIteration(n + 1);
    return n;
  });
  const result = await flow`${counter}`.run({ input: 1, checkpointDir: dir.path, runId: "ties" });
  assert.equal(result.checkpoints.length, 12);
  // Checkpoints written within one millisecond share createdAt: force that for all of them.
  for (const base of result.checkpoints) {
    const meta = await readJson<CheckpointMetadata>(base + ".meta.json");
    meta.createdAt = "2024-01-01T00:00:00.000Z";
    await Deno.writeTextFile(base + ".meta.json", JSON.stringify(meta));
  }
  await resume(join(dir.path, "ties", "step_10"), { keepCheckpoints: 3 });
  // The resumed run writes step_11_2 and step_12_2 (newer); among the tied originals the
  // highest step count, step_12, is the newest.
  assert.deepEqual(
    (await checkpointsIn(dir.path, "ties")).map((b) => b.split("/").pop()).sort(),
    ["step_11_2", "step_12", "step_12_2"],
  );
});

Deno.test("checkpoints of a run are listed by checkpointsIn in step order", async () => {
  // Guards the helper the other tests rely on.
  await using dir = await tempDir();
  const step = task("cpw_order_step", async (n: number, ctx) => {
    await ctx.checkpoint();
    if (n < 3) ctx.nextIteration(n + 1);
    return n;
  });
  const r = await flow`${step}`.run({ input: 1, checkpointDir: dir.path, runId: "order" });
  assert.deepEqual(await checkpointsIn(dir.path, "order"), r.checkpoints);
});

// Deferred checkpoints hold back the next tasks until they are on disk, so a loop whose tasks
// never wait for I/O cannot run ahead of its checkpoints (and a crash mid-loop finds them).
Deno.test({
  name: "a deferred checkpoint is on disk before the task's successors start",
  fn: async () => {
    await using dir = await tempDir();
    const missing: number[] = [];
    const step = task("cpw_backpressure", async (n: number, ctx) => {
      if (ctx.cycle > 1) {
        const previous = join(dir.path, "bp", `step_${ctx.cycle - 1}.meta.json`);
        if (!(await Deno.stat(previous).catch(() => undefined))) missing.push(ctx.cycle - 1);
      }
      await ctx.checkpoint();
      if (n < 20) ctx.nextIteration(n + 1);
      return n;
    });
    const result = await flow`${step}`.run({ input: 1, checkpointDir: dir.path, runId: "bp" });
    assert.equal(result.checkpoints.length, 20);
    assert.deepEqual(missing, [], "checkpoints not yet on disk when the next iteration started");
  },
});
