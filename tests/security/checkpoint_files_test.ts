/**
 * Crash-safe overwrite and signatures of checkpoint files: a checkpoint written over another at
 * the same base path is replaced as a whole (50 `kill -9` of a real `deno run` child at random
 * instants during overwrites: the old or the new checkpoint always loads, and no temp files are
 * left after one more write); with a secret, unsigned or tampered checkpoints are refused.
 *
 * @module
 */
import assert from "assert";
import { join } from "node:path";
import { CheckpointError, flow, task } from "../../mod.ts";
import {
  COMMIT,
  type LoadedCheckpoint,
  readCheckpoint,
  sha256Hex,
  SUFFIXES,
  writeCheckpoint,
} from "../../src/checkpoint/files.ts";

const WRITER = new URL("./fixtures/checkpoint_writer.ts", import.meta.url).pathname;

const seed = task("sec_cp_seed", async (_: unknown, ctx) => {
  await ctx.channel.set("n", 0);
  const info = await ctx.checkpoint({ deferred: false, metadata: { n: 0 } });
  return info?.path;
});

/** A temp folder with one real checkpoint in it (written by a run); its base path. */
async function seeded(): Promise<
  { dir: string; base: string; cp: LoadedCheckpoint } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "graflow-sec-cp-" });
  const result = await flow`${seed}`.run({ checkpointDir: dir, runId: "seeded" });
  const base = join(dir, "fixed");
  const first = await readCheckpoint(result.output as string);
  const { checksum: _, ...meta } = first.metadata;
  await writeCheckpoint(base, { state: first.state, channel: first.channel, meta });
  return {
    dir,
    base,
    cp: await readCheckpoint(base),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function filesOf(cp: LoadedCheckpoint, n: number) {
  const { checksum: _, ...meta } = cp.metadata;
  return {
    state: cp.state,
    channel: { kind: "memory", entries: [{ key: "n", value: JSON.stringify(n) }] },
    meta: { ...meta, user: { n } },
  };
}

function nOf(cp: LoadedCheckpoint): number {
  const n = cp.metadata.user.n as number;
  const entry = cp.channel.entries?.find((e) => e.key === "n");
  assert.equal(JSON.parse(entry!.value!), n, "metadata and channel are of the same checkpoint");
  return n;
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("50+ kill -9 during overwrites at one base path: the old or the new checkpoint always loads", async () => {
  await using fx = await seeded();
  let last = 0;
  let midWrite = 0;
  let kills = 0;
  // 50 kills, and more (at most 200) until 5 landed mid-write: a loaded machine writes slowly.
  for (let kill = 0; kill < 200 && (kill < 50 || midWrite < 5); kill++, kills++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", WRITER, fx.base],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the writer ended before it was ready: ${text}`);
      text += value;
    }
    await new Promise((r) => setTimeout(r, Math.random() * 250));
    child.kill("SIGKILL");
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    const wrote = [...text.matchAll(/^wrote (\d+)$/gm)].map((m) => Number(m[1]));
    const printed = wrote.at(-1) ?? last;
    const left = await names(fx.dir);
    if (left.some((n) => n.endsWith(".tmp") || n.endsWith(COMMIT))) midWrite++;
    // Loads, without write access being needed (nothing is fixed up before this read).
    const cp = await readCheckpoint(fx.base);
    const n = nOf(cp);
    assert.ok(
      n === printed || n === printed + 1,
      `kill ${kill}: loaded ${n}, last printed ${printed}`,
    );
    assert.ok(n >= last);
    last = n;
  }
  // One more write: every temp file and commit record is gone.
  await writeCheckpoint(fx.base, filesOf(await readCheckpoint(fx.base), last + 1));
  assert.equal(nOf(await readCheckpoint(fx.base)), last + 1);
  const left = (await names(fx.dir)).filter((n) => n.startsWith("fixed"));
  assert.deepEqual(left, ["fixed.channel", "fixed.meta.json", "fixed.state.json"]);
  assert.ok(midWrite >= 5, `only ${midWrite} of ${kills} kills landed during a write`);
  // deno-lint-ignore no-console
  console.log(
    `kill -9 during checkpoint overwrites: ${midWrite} of ${kills} kills left a write in progress; every one loaded`,
  );
});

Deno.test("a commit record left by a killed writer is honoured by readers and completed by the next write", async () => {
  await using fx = await seeded();
  const { base, cp } = fx;
  await writeCheckpoint(base, filesOf(cp, 1));
  const saved = Object.fromEntries(
    await Promise.all(Object.values(SUFFIXES).map(async (s) => [s, await Deno.readFile(base + s)])),
  );
  await writeCheckpoint(base, filesOf(cp, 2));
  const newer = Object.fromEntries(
    await Promise.all(Object.values(SUFFIXES).map(async (s) => [s, await Deno.readFile(base + s)])),
  );
  // The state right after the commit point of "2": targets still hold "1", temps hold "2".
  for (const s of [SUFFIXES.state, SUFFIXES.channel]) {
    await Deno.writeFile(base + s, saved[s]);
    await Deno.writeFile(base + s + ".tmp", newer[s]);
  }
  await Deno.writeFile(base + SUFFIXES.meta, saved[SUFFIXES.meta]);
  const meta2 = JSON.parse(new TextDecoder().decode(newer[SUFFIXES.meta]));
  await Deno.writeTextFile(base + COMMIT, JSON.stringify({ commit: 1, meta: meta2 }));
  assert.equal(nOf(await readCheckpoint(base)), 2, "the committed checkpoint");
  // Half renamed: state is new, channel still old.
  await Deno.rename(base + SUFFIXES.state + ".tmp", base + SUFFIXES.state);
  assert.equal(nOf(await readCheckpoint(base)), 2);
  // Stale temps of an uncommitted write are removed by the next write, which completes "2" first.
  await Deno.writeTextFile(base + SUFFIXES.meta + ".tmp", "partial");
  await writeCheckpoint(base, filesOf(cp, 3));
  assert.equal(nOf(await readCheckpoint(base)), 3);
  assert.deepEqual((await names(fx.dir)).filter((n) => n.startsWith("fixed")), [
    "fixed.channel",
    "fixed.meta.json",
    "fixed.state.json",
  ]);
});

Deno.test("with a secret, unsigned, tampered or otherwise signed checkpoints are refused", async () => {
  await using fx = await seeded();
  const { base, cp } = fx;
  const secret = "s3cret";
  const refused = async (options: { secret?: string }, pattern: RegExp) => {
    const error = await readCheckpoint(base, options).then(() => undefined, (e) => e);
    assert.ok(error instanceof CheckpointError, String(error));
    assert.equal(error.code, "CHECKPOINT_INVALID");
    assert.match(error.message, pattern);
  };
  // Unsigned.
  await refused({ secret }, /is not signed, and a secret was given/);
  // Signed: loads with the secret, and without one (nothing to check); not with another.
  await writeCheckpoint(base, filesOf(cp, 1), { secret });
  assert.equal(nOf(await readCheckpoint(base, { secret })), 1);
  assert.equal((await readCheckpoint(base)).metadata.user.n, 1);
  assert.equal("hmac" in (await readCheckpoint(base, { secret })).metadata, false);
  await refused({ secret: "other" }, /signature does not match/);
  // Metadata edited.
  const metaFile = base + SUFFIXES.meta;
  const original = await Deno.readTextFile(metaFile);
  await Deno.writeTextFile(metaFile, original.replace('"n": 1', '"n": 7'));
  await refused({ secret }, /signature does not match/);
  await Deno.writeTextFile(metaFile, original);
  // A crafted state file with its checksum recomputed in the metadata: consistent, so it loads
  // without a secret, and is refused with one.
  const stateFile = base + SUFFIXES.state;
  const state = JSON.parse(await Deno.readTextFile(stateFile));
  state.crafted = true;
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  await Deno.writeFile(stateFile, bytes);
  const meta = JSON.parse(original);
  meta.checksum.state = await sha256Hex(bytes);
  await Deno.writeTextFile(metaFile, JSON.stringify(meta));
  await readCheckpoint(base);
  await refused({ secret }, /signature does not match/);
  await assert.rejects(() => readCheckpoint(base, { secret: "" }), TypeError);
  await assert.rejects(() => writeCheckpoint(base, filesOf(cp, 2), { secret: "" }), TypeError);
});
