/**
 * Checkpoints across processes: a fresh process that imports the task modules it is told to
 * (never those a checkpoint names) resumes a run; a child SIGKILLed mid-run is resumed from
 * its last checkpoint in a new process to the same result and the same set of side effects.
 *
 * @module
 */
import assert from "assert";
import { join } from "node:path";
import { CheckpointError, loadCheckpoint, MemoryChannel } from "../../mod.ts";
import { checkpointsIn, denoRun, latestValid, resultLine, runAndKill, tempDir } from "./helpers.ts";

const PIPELINE = new URL("./fixtures/pipeline.ts", import.meta.url);
const RESUME = new URL("./fixtures/resume_main.ts", import.meta.url);
const MOD = new URL("../../mod.ts", import.meta.url).href;
const WRITER = new URL("./fixtures/writer_loop.ts", import.meta.url);

async function effects(file: string): Promise<string[]> {
  return (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "");
}

/** The uninterrupted run, computed once (a child process). */
let plain: Promise<{ result: unknown; effects: Set<string>; steps: number }> | undefined;
function uninterrupted() {
  return plain ??= (async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "effects.log");
    const out = await denoRun(PIPELINE, [dir.path, file, "plain", "0"]);
    assert.equal(out.code, 0, out.stderr);
    const list = await effects(file);
    const cps = await checkpointsIn(dir.path, "plain");
    return {
      result: resultLine(out.stdout),
      effects: new Set(list),
      steps: (await loadCheckpoint(cps.at(-1)!)).metadata.steps,
    };
  })();
}

Deno.test("the resume script imports only resume and the modules on its command line", async () => {
  const source = await Deno.readTextFile(RESUME);
  const imports = [...source.matchAll(/^import .*$/gm)].map((m) => m[0]);
  assert.deepEqual(imports, ['import { resume } from "../../../mod.ts";']);
  assert.match(source, /for \(const module of Deno\.args\.slice\(1\)\) await import\(module\);/);
});

Deno.test("a fresh process resumes after importing the task module it is given", async () => {
  const expected = await uninterrupted();
  assert.equal((expected.result as { status: string }).status, "completed");
  assert.equal(expected.effects.size, 11, [...expected.effects].join("\n"));
  await using dir = await tempDir();
  const file = join(dir.path, "effects.log");
  const first = await denoRun(PIPELINE, [dir.path, file, "fresh", "0"]);
  assert.equal(first.code, 0, first.stderr);
  const cps = await checkpointsIn(dir.path, "fresh");
  assert.equal(cps.length, 11);
  // From the checkpoint taken by `publish`, the dynamic `audit` task is pending.
  const publish = cps.find((p) => p.endsWith("step_10"))!;
  const cp = await loadCheckpoint(publish);
  assert.deepEqual(cp.state.pending.map((p) => p.node), ["cpf_audit"]);
  assert.deepEqual(cp.state.dynamic, [{ id: "cpf_audit", by: "cpf_publish" }]);
  for (const path of [cps[0], cps[2], cps[6], publish]) {
    const out = await denoRun(RESUME, [path, PIPELINE.href]);
    assert.equal(out.code, 0, `${path}: ${out.stdout}${out.stderr}`);
    assert.deepEqual(resultLine(out.stdout), expected.result, path);
  }
});

Deno.test("a fresh process names the missing task and the module that defined it, and imports nothing", async () => {
  await using dir = await tempDir();
  const module = join(dir.path, "tasks.ts");
  const url = new URL(`file://${module}`).href;
  const source = `
    import { flow, task } from "${MOD}";
    const a = task("cpp_a", async (n, ctx) => { await ctx.checkpoint(); return n + 1; });
    const b = task("cpp_b", (n) => n * 2);
    if (import.meta.main) {
      const r = await flow\`\${a} >> \${b}\`.run({ input: 1, checkpointDir: Deno.args[0], runId: "gone" });
      console.log("result " + JSON.stringify({ status: r.status, results: r.results }));
    }
  `;
  await Deno.writeTextFile(module, source);
  const first = await denoRun(module, [dir.path]);
  assert.equal(first.code, 0, first.stderr);
  const [path] = await checkpointsIn(dir.path, "gone");
  // The checkpoint names the module, but resume does not import it.
  const alone = await denoRun(RESUME, [path]);
  assert.equal(alone.code, 1, alone.stdout);
  assert.ok(alone.stdout.includes(`task "cpp_a" is not registered in this process`), alone.stdout);
  assert.ok(alone.stdout.includes(url), alone.stdout);
  assert.ok(alone.stdout.includes("never makes Graflow import code"), alone.stdout);
  // The module no longer defines cpp_b.
  await Deno.writeTextFile(module, source.replace(/const b = task\("cpp_b"[^\n]*\n/, ""));
  const out = await denoRun(RESUME, [path, url]);
  assert.equal(out.code, 1, out.stdout);
  assert.match(out.stdout, /^error CHECKPOINT_INVALID CheckpointError: Cannot load checkpoint "/);
  assert.ok(out.stdout.includes(`${path}.state.json`), out.stdout);
  assert.ok(out.stdout.includes(`task "cpp_b" is not registered`), out.stdout);
  assert.ok(out.stdout.includes(url), `module URL ${url} not named in: ${out.stdout}`);
});

for (const killAfter of [1, 4, 7, 10]) {
  Deno.test(`a child SIGKILLed after ${killAfter} tasks resumes in a new process to the same result and effects`, async () => {
    const expected = await uninterrupted();
    await using dir = await tempDir();
    const file = join(dir.path, "effects.log");
    const killed = await runAndKill(
      PIPELINE,
      [dir.path, file, "killed", "40"],
      (lines) => lines.filter((l) => l.startsWith("progress ")).length >= killAfter,
    );
    assert.equal(killed.status.signal, "SIGKILL", "the child was killed, it did not finish");
    assert.ok(!killed.lines.some((l) => l.startsWith("result ")), killed.lines.join("\n"));
    const before = await effects(file);
    assert.ok(before.length >= killAfter && before.length < expected.effects.size + 2);

    const { path } = await latestValid(dir.path, "killed");
    const cp = await loadCheckpoint(path);
    assert.ok(cp.metadata.steps >= killAfter, `${path} is not older than the progress seen`);
    const out = await denoRun(RESUME, [path, PIPELINE.href]);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(resultLine(out.stdout), expected.result);
    // Every side effect of the uninterrupted run happened, and nothing else; only tasks that
    // ran after the last checkpoint (running when the child died) ran twice.
    const after = await effects(file);
    assert.deepEqual(new Set(after), expected.effects);
    assert.ok(after.length - expected.effects.size <= 3, after.join("\n"));
  });
}

Deno.test("a child SIGKILLed while writing large checkpoints never leaves one that loads wrong", async () => {
  await using dir = await tempDir();
  let torn = 0;
  let valid = 0;
  // Kill at a different moment of the write each time (the writes take milliseconds).
  for (const waitMs of [0, 3, 7, 12]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", WRITER.pathname, dir.path],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let seen = 0;
    let killed = false;
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      seen += chunk.split("\n").filter((l) => l.startsWith("progress ")).length;
      if (seen >= 3 && !killed) {
        killed = true;
        setTimeout(() => child.kill("SIGKILL"), waitMs);
      }
    }
    assert.equal((await child.status).signal, "SIGKILL");
    // Every checkpoint in the folder either loads with consistent contents or is refused.
    for await (const e of Deno.readDir(join(dir.path, "writer"))) {
      const m = e.name.match(/^(step_\d+)\.state\.json$/);
      if (!m) continue;
      const base = join(dir.path, "writer", m[1]);
      try {
        const cp = await loadCheckpoint(base);
        const i = (cp.metadata.user as { i: number }).i;
        assert.deepEqual(cp.state.pending.map((p) => [p.node, p.input]), [["cpk_loop", i]]);
        assert.deepEqual(cp.state.results.cpk_loop, i === 0 ? undefined : { i: i - 1 });
        const snapshot = JSON.parse(await Deno.readTextFile(base + ".channel"));
        const channel = MemoryChannel.fromSnapshot(snapshot);
        assert.equal(await channel.get("i"), i);
        assert.equal((await channel.keys()).length, 2049);
        valid++;
      } catch (error) {
        assert.ok(error instanceof CheckpointError, `not a CheckpointError: ${error}`);
        torn++;
      }
    }
    await Deno.remove(join(dir.path, "writer"), { recursive: true });
  }
  assert.ok(valid >= 4 * 3, `valid ${valid}, torn ${torn}`);
});
