/**
 * `graflow runs` and `graflow orchestrate` as subprocesses against a real local store.
 *
 * @module
 */
import assert from "assert";
import { localRunStore } from "../../mod.ts";
import { graphShape } from "../../src/graph/graph_version.ts";
import { tempDir } from "../checkpoint/helpers.ts";
import { durable } from "./fixtures/durable_flow.ts";

const CLI = new URL("../../workers/cli.ts", import.meta.url).pathname;
const FLOW = new URL("./fixtures/durable_flow.ts", import.meta.url).href;

async function graflow(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    env: { NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test({
  name:
    "graflow orchestrate continues a queued run; graflow runs lists, shows, retries and cancels",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir();
    {
      await using store = localRunStore({ dir: dir.path });
      for (const runId of ["queued-1", "queued-2"]) {
        await store.create({
          runId,
          flow: "durable_demo",
          version: durable.version,
          graph: graphShape(durable.graph),
          input: 5,
          status: "queued",
        });
      }
    }
    const orch = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        CLI,
        "orchestrate",
        "--store",
        dir.path,
        "--module",
        FLOW,
        "--interval-ms",
        "100",
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await using store = localRunStore({ dir: dir.path, pollMs: 20 });
    try {
      const deadline = Date.now() + 30_000;
      while ((await store.list({ status: "completed" })).runs.length < 2) {
        assert.ok(Date.now() < deadline, "the orchestrator did not complete the queued runs");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      orch.kill("SIGTERM");
    }
    const out = await orch.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const log = new TextDecoder().decode(out.stdout).split("\n")
      .filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.deepEqual(log.filter((e) => e.type === "continued").map((e) => e.runId).sort(), [
      "queued-1",
      "queued-2",
    ]);
    assert.equal(log.at(-1).type, "stopped");

    const list = await graflow("runs", "list", "--store", dir.path);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^RUN\s+FLOW\s+STATUS\s+STARTED\s+DURATION\s+STEPS\s+OWNER/);
    assert.match(list.stdout, /queued-1\s+durable_demo\s+completed/);
    const page = await graflow("runs", "list", "--store", dir.path, "--limit", "1", "--json");
    const first = JSON.parse(page.stdout);
    assert.equal(first.runs.length, 1);
    const next = await graflow(
      "runs",
      "list",
      "--store",
      dir.path,
      "--limit",
      "1",
      "--cursor",
      first.cursor,
      "--json",
    );
    assert.notEqual(JSON.parse(next.stdout).runs[0].runId, first.runs[0].runId);

    const show = await graflow("runs", "show", "queued-1", "--store", dir.path, "--module", FLOW);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /status\s+completed/);
    assert.match(show.stdout, /STEP\s+TASK\s+ATTEMPT\s+START\s+DURATION\s+OUTCOME/);
    assert.match(show.stdout, /dur_audit\s+1\s+\+\d+ ms\s+\d+ ms\s+succeeded/);
    assert.match(show.stdout, /executed graph:\ndur_fetch ──> group_1/);

    const retry = await graflow("runs", "retry", "queued-1", "--store", dir.path);
    assert.equal(retry.code, 1);
    assert.match(retry.stderr, /it is completed, not failed \(RUN_NOT_FAILED\)/);
    const cancel = await graflow("runs", "cancel", "queued-1", "--store", dir.path);
    assert.equal(cancel.code, 1);
    assert.match(cancel.stderr, /already completed \(RUN_FINISHED\)/);
    const missing = await graflow("runs", "show", "nope", "--store", dir.path);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no run "nope"/);
    const usage = await graflow("runs", "list", "--status", "done", "--store", dir.path);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--status must be one of queued, running/);
    assert.equal((await graflow("runs", "show", "--store", dir.path)).code, 2);
    assert.equal((await graflow("orchestrate", "--module", FLOW)).code, 2, "--store is required");
  },
});
