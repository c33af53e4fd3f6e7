/**
 * Broken checkpoints are refused with a `CheckpointError` naming the file and the reason:
 * missing files, truncated JSON, tampered files, a newer schema, unrestorable channel values,
 * torn writes. `loadCheckpoint` inspects without running anything.
 *
 * @module
 */
import assert from "assert";
import { join } from "node:path";
import { type CheckpointMetadata, flow, loadCheckpoint, resume, task } from "../../mod.ts";
import { SCHEMA_VERSION } from "../../src/checkpoint/format.ts";
import { assertCheckpointError, listDir, readJson, sha256, tamper, tempDir } from "./helpers.ts";

// Task names are process-global: everything in this file starts with "cpi_".
let runs = 0;
const one = task("cpi_one", async (n: number, ctx) => {
  runs++;
  await ctx.channel.set("seen", n);
  await ctx.channel.append("items", n);
  await ctx.checkpoint();
  return n + 1;
});
const two = task("cpi_two", async (n: number, ctx) => {
  runs++;
  await ctx.checkpoint();
  return n * 2;
});
const three = task("cpi_three", (n: number) => {
  runs++;
  return n - 1;
});
const f = flow`${one} >> ${two} >> ${three}`;

/** Runs the flow and returns the base paths of its two checkpoints. */
async function checkpoints(dir: string): Promise<[string, string]> {
  const r = await f.run({ input: 1, checkpointDir: dir, runId: "bad" });
  assert.equal(r.output, 3);
  assert.equal(r.checkpoints.length, 2);
  return r.checkpoints as [string, string];
}

/** Both loading and resuming refuse the checkpoint, and nothing runs. */
async function refused(base: string, file: string, reason: RegExp): Promise<void> {
  runs = 0;
  await assertCheckpointError(loadCheckpoint(base), file, reason);
  await assertCheckpointError(resume(base), file, reason);
  assert.equal(runs, 0, "no task ran");
}

Deno.test("loadCheckpoint inspects a checkpoint without running anything, by base path or file name", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  runs = 0;
  for (const path of [second, second + ".meta.json", second + ".state.json", second + ".channel"]) {
    const cp = await loadCheckpoint(path);
    assert.equal(cp.path, second);
    assert.equal(cp.metadata.steps, 2);
    assert.equal(cp.metadata.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(cp.state.completed, ["cpi_one", "cpi_two"]);
    assert.deepEqual(cp.state.pending.map((p) => [p.node, p.input]), [["cpi_three", 4]]);
    assert.deepEqual(cp.tasks, [
      { id: "cpi_one", module: import.meta.url },
      { id: "cpi_two", module: import.meta.url },
      { id: "cpi_three", module: import.meta.url },
    ]);
    assert.equal(cp.channelKind, "memory");
  }
  assert.equal(runs, 0);
});

for (
  const [suffix, part] of [[".meta.json", "meta"], [".state.json", "state"], [
    ".channel",
    "channel",
  ]]
) {
  Deno.test(`a missing ${part} file is a CheckpointError naming it`, async () => {
    await using dir = await tempDir();
    const [, second] = await checkpoints(dir.path);
    await Deno.remove(second + suffix);
    await refused(second, second + suffix, /: the file is missing$/);
  });
}

Deno.test("a checkpoint path that does not exist at all names the metadata file", async () => {
  await using dir = await tempDir();
  const base = join(dir.path, "nothing", "here");
  await refused(base, base + ".meta.json", /the file is missing/);
});

Deno.test("truncated JSON is a CheckpointError naming the file (metadata, and state with a matching checksum)", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  const meta = await Deno.readTextFile(second + ".meta.json");
  await Deno.writeTextFile(second + ".meta.json", meta.slice(0, meta.length / 2));
  await refused(second, second + ".meta.json", /not valid JSON \(truncated or corrupted\)/);
  await Deno.writeTextFile(second + ".meta.json", meta);
  await loadCheckpoint(second);

  // A truncated state file whose checksum matches (written by a buggy tool, say).
  const state = await Deno.readTextFile(second + ".state.json");
  await tamper(second, "state", () => ({}), true);
  await Deno.writeTextFile(second + ".state.json", state.slice(0, 100));
  const bytes = await Deno.readFile(second + ".state.json");
  const m = await readJson<CheckpointMetadata>(second + ".meta.json");
  m.checksum.state = await sha256(bytes);
  await Deno.writeTextFile(second + ".meta.json", JSON.stringify(m));
  await refused(second, second + ".state.json", /not valid JSON \(truncated or corrupted\)/);
});

Deno.test("a tampered state file is a checksum mismatch", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  await tamper(second, "state", (s) => {
    (s.state as { results: Record<string, unknown> }).results.cpi_two = 1_000_000;
    return s;
  }, false);
  await refused(
    second,
    second + ".state.json",
    /checksum mismatch \(the file was modified or only partly written\): expected [0-9a-f]{64}, got [0-9a-f]{64}/,
  );
});

Deno.test("a tampered channel file is a checksum mismatch", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  await tamper(second, "channel", (c) => {
    (c.entries as { key: string; value?: string }[])[0].value = "666";
    return c;
  }, false);
  await refused(second, second + ".channel", /checksum mismatch/);
});

Deno.test("a checkpoint written by a newer schema is refused (metadata or state file)", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  const original = await Deno.readTextFile(second + ".meta.json");
  const meta = JSON.parse(original);
  meta.schemaVersion = SCHEMA_VERSION + 1;
  await Deno.writeTextFile(second + ".meta.json", JSON.stringify(meta));
  await refused(
    second,
    second + ".meta.json",
    new RegExp(
      `written by a newer schema \\(version ${
        SCHEMA_VERSION + 1
      }; this version of Graflow reads version ${SCHEMA_VERSION}\\)`,
    ),
  );
  meta.schemaVersion = "one";
  await Deno.writeTextFile(second + ".meta.json", JSON.stringify(meta));
  await refused(second, second + ".meta.json", /schemaVersion is missing or malformed \(one\)/);

  await Deno.writeTextFile(second + ".meta.json", original);
  await tamper(second, "state", (s) => ({ ...s, schemaVersion: SCHEMA_VERSION + 1 }), true);
  await refused(second, second + ".state.json", /written by a newer schema/);
});

Deno.test("a malformed state file (valid JSON, checksum matching) names the missing field", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  await tamper(second, "state", (s) => {
    delete (s.state as Record<string, unknown>).pending;
    return s;
  }, true);
  await refused(second, second + ".state.json", /stateFile\.state\.pending is missing/);
});

Deno.test("a state file of another run than its metadata is refused", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  await tamper(second, "state", (s) => ({ ...s, runId: "someone-else" }), true);
  await refused(
    second,
    second + ".state.json",
    /stateFile\.state\.runId "bad" differs from stateFile\.runId "someone-else"/,
  );
});

Deno.test("a channel value that cannot be restored is a CheckpointError naming the key", async () => {
  await using dir = await tempDir();
  const [, second] = await checkpoints(dir.path);
  const original = await Deno.readTextFile(second + ".channel");
  const meta = await Deno.readTextFile(second + ".meta.json");
  const cases: [string, (e: Record<string, unknown>) => void, RegExp][] = [
    ["not JSON", (e) => e.value = "{not json", /channel value of key "seen" cannot be restored: /],
    [
      "a bad BigInt",
      (e) => e.value = JSON.stringify({ $type: "BigInt", value: "12x" }),
      /channel value of key "seen" cannot be restored: .*BigInt/i,
    ],
    [
      "neither value nor list",
      (e) => delete e.value,
      /channel value of key "seen" cannot be restored/,
    ],
  ];
  for (const [what, edit, reason] of cases) {
    await Deno.writeTextFile(second + ".channel", original);
    await Deno.writeTextFile(second + ".meta.json", meta);
    await tamper(second, "channel", (c) => {
      const entries = c.entries as Record<string, unknown>[];
      edit(entries.find((e) => e.key === "seen")!);
      return c;
    }, true);
    runs = 0;
    await assertCheckpointError(resume(second), second + ".channel", reason).catch((e) => {
      throw new Error(`${what}: ${e.message}`);
    });
    assert.equal(runs, 0, what);
  }
  // A list item that cannot be restored.
  await Deno.writeTextFile(second + ".channel", original);
  await Deno.writeTextFile(second + ".meta.json", meta);
  await tamper(second, "channel", (c) => {
    const entries = c.entries as { key: string; list?: string[] }[];
    entries.find((e) => e.key === "items")!.list!.push("[1,");
    return c;
  }, true);
  await assertCheckpointError(
    resume(second),
    second + ".channel",
    /key "items" cannot be restored/,
  );
  // A channel kind this process cannot reconnect to.
  await Deno.writeTextFile(second + ".channel", original);
  await Deno.writeTextFile(second + ".meta.json", meta);
  await tamper(second, "channel", () => ({ kind: "redis", reference: { prefix: "x" } }), true);
  await assertCheckpointError(
    resume(second),
    second + ".channel",
    /the run used a "redis" channel: pass resume\(path, \{ backend \}\) or \{ channel \}/,
  );
});

Deno.test("a torn write (new state, metadata not yet written) is refused and the previous checkpoint still loads", async () => {
  await using dir = await tempDir();
  const [first, second] = await checkpoints(dir.path);
  // A crash after the new state file was renamed into place but before the metadata was:
  // simulate by writing the state of checkpoint 1 over checkpoint 2's state.
  await Deno.copyFile(first + ".state.json", second + ".state.json");
  await refused(second, second + ".state.json", /checksum mismatch/);
  // Same for a crash after the channel file: checkpoint 2's channel with stale metadata.
  await Deno.copyFile(first + ".channel", second + ".channel");
  await Deno.copyFile(first + ".state.json", second + ".state.json");
  await assertCheckpointError(loadCheckpoint(second), second + ".state.json", /checksum mismatch/);
  // A state written, no metadata at all (the first checkpoint at this path).
  const fresh = join(dir.path, "bad", "step_9");
  await Deno.copyFile(second + ".state.json", fresh + ".state.json");
  await Deno.copyFile(second + ".channel", fresh + ".channel");
  await refused(fresh, fresh + ".meta.json", /the file is missing/);
  // Leftover temp files of an interrupted write do not matter.
  await Deno.writeTextFile(first + ".state.json.tmp-deadbeef", '{"half');
  // The previous checkpoint is intact and resumes to the right result.
  runs = 0;
  const resumed = await resume(first);
  assert.equal(resumed.output, 3);
  assert.equal(runs, 2);
  assert.ok((await listDir(join(dir.path, "bad"))).includes("step_1.meta.json"));
});

Deno.test("a missing task is a CheckpointError naming the task and its module URL", async () => {
  await using dir = await tempDir();
  const [first] = await checkpoints(dir.path);
  const missing = new URL("./fixtures/does_not_exist.ts", import.meta.url).href;
  // Rename the pending task to one that no module defines.
  await tamper(first, "state", (s) => {
    const text = JSON.stringify(s).replaceAll('"cpi_two"', '"cpi_nowhere"')
      .replace(
        `"id":"cpi_nowhere","kind":"task","module":"${import.meta.url}"`,
        `"id":"cpi_nowhere","kind":"task","module":"${missing}"`,
      );
    return JSON.parse(text);
  }, true);
  runs = 0;
  const error = await assertCheckpointError(
    resume(first),
    first + ".state.json",
    /task "cpi_nowhere" is not registered in this process: import the module that defines it first \(it was defined in .*does_not_exist\.ts\)/,
  );
  assert.ok(error.message.includes(missing), error.message);
  assert.equal(runs, 0);
  // loadCheckpoint does not need the tasks.
  assert.deepEqual((await loadCheckpoint(first)).tasks.map((t) => t.id), [
    "cpi_one",
    "cpi_nowhere",
    "cpi_three",
  ]);
});
