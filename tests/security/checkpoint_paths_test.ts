/**
 * Paths the host chooses, and checkpoints that never choose code: run ids cannot climb out of
 * the checkpoint folder, a task (in-process or sandboxed) can only name a checkpoint inside its
 * run's folder, a crafted state file never makes `resume` import anything, and signed
 * checkpoints are refused when tampered with. Each attack here worked before (see SECURITY.md).
 *
 * @module
 */
import assert from "assert";
import { join } from "node:path";
import {
  CheckpointError,
  flow,
  loadCheckpoint,
  resume,
  task,
  WorkerPool,
  WorkflowError,
} from "../../mod.ts";
import { tamper, tempDir } from "../checkpoint/helpers.ts";
import { escape } from "./fixtures/checkpoint_escape.ts";

const stepTask = task("secp_step", (n: number) => n + 1);

Deno.test("run ids that climb out of the checkpoint folder are refused before anything runs", async () => {
  await using dir = await tempDir();
  for (const runId of ["..", ".", "../escape", "a/b", "%2e%2e", ""]) {
    await assert.rejects(
      flow`${stepTask}`.run({ input: 1, runId, checkpointDir: dir.path }),
      TypeError,
      JSON.stringify(runId),
    );
  }
});

Deno.test("a task's checkpoint path is a name inside its run's folder: absolute, .., percent and symlinks refused", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  const runDir = join(dir.path, "paths");
  await Deno.mkdir(runDir, { recursive: true });
  await Deno.symlink(outside.path, join(runDir, "link"));
  for (const path of ["/tmp/evil", "../other-run/x", "a/../../x", "a/%2e%2e/b", "a\\b", "link/x"]) {
    const writer = task(`secp_path_${path.replace(/[^a-z]/g, "_")}`, async (_: unknown, ctx) => {
      await ctx.checkpoint({ path, deferred: false });
      return "wrote";
    });
    const error = await flow`${writer}`.run({ runId: "paths", checkpointDir: dir.path })
      .catch((e) => e);
    assert.ok(error instanceof WorkflowError, `${path}: ${error}`);
    assert.equal((error.cause as WorkflowError).code, "CHECKPOINT_PATH", path);
  }
  assert.deepEqual([...Deno.readDirSync(outside.path)], [], "nothing was written outside");
});

Deno.test("a Web Worker task with no permissions cannot choose where the host writes", async () => {
  await using dir = await tempDir();
  await using pool = new WorkerPool({ size: 1 });
  const error = await flow`${escape}`.run({
    runId: "sandbox",
    checkpointDir: dir.path,
    handlers: { worker: pool },
  }).catch((e) => e);
  assert.ok(error instanceof WorkflowError, String(error));
  assert.match(String((error.cause as Error)?.message), /path must be a relative name/);
  await assert.rejects(Deno.lstat("/tmp/graflow-sandbox-escape"), Deno.errors.NotFound);
});

Deno.test("a crafted, checksum-consistent state file naming a data: module imports nothing on resume", async () => {
  await using dir = await tempDir();
  const keep = task("secp_keep", async (n: number, ctx) => {
    await ctx.checkpoint();
    return n;
  });
  const result = await flow`${keep} >> ${stepTask}`.run({
    input: 1,
    runId: "crafted",
    checkpointDir: dir.path,
  });
  const base = result.checkpoints[0];
  const evil = `data:text/javascript,globalThis.SECP_PWNED=true;`;
  await tamper(base, "state", (s) => {
    const text = JSON.stringify(s)
      .replaceAll('"secp_step"', '"secp_unknown"')
      .replace(
        /"id":"secp_unknown","kind":"task"(,"module":"[^"]*")?/,
        `"id":"secp_unknown","kind":"task","module":"${evil}"`,
      );
    return JSON.parse(text);
  }, true);
  const error = await resume(base).catch((e) => e);
  assert.ok(error instanceof CheckpointError, String(error));
  assert.match(error.message, /task "secp_unknown" is not registered in this process/);
  assert.match(error.message, /never makes Graflow import code/);
  assert.equal((globalThis as { SECP_PWNED?: boolean }).SECP_PWNED, undefined, "the module ran");
});

Deno.test("with checkpointSecret, checkpoints are signed; tampered, re-checksummed or unsigned ones are refused", async () => {
  await using dir = await tempDir();
  const keep = task("secp_signed", async (n: number, ctx) => {
    await ctx.checkpoint();
    return n;
  });
  const f = flow`${keep} >> ${stepTask}`;
  const signed = await f.run({
    input: 1,
    runId: "signed",
    checkpointDir: dir.path,
    checkpointSecret: "s3cret",
  });
  const base = signed.checkpoints[0];
  assert.equal((await resume(base, { checkpointSecret: "s3cret" })).output, 2);
  await assert.rejects(loadCheckpoint(base, { secret: "other" }), CheckpointError);
  await tamper(base, "state", (s) => {
    const state = s.state as { results: Record<string, unknown> };
    state.results.secp_signed = 1000;
    return s;
  }, true);
  await assert.rejects(resume(base, { checkpointSecret: "s3cret" }), CheckpointError);
  const unsigned = await f.run({ input: 1, runId: "unsigned", checkpointDir: dir.path });
  await assert.rejects(
    resume(unsigned.checkpoints[0], { checkpointSecret: "s3cret" }),
    CheckpointError,
  );
});
