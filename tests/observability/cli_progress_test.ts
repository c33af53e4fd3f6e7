/**
 * `graflow orchestrate --metrics-port --progress-ms`: it serves the run metrics of the runs it
 * drives and logs progress lines while they go on; and the terminal display of a command.
 *
 * @module
 */
import assert from "assert";
import { localRunStore } from "../../mod.ts";
import { graphShape } from "../../src/graph/graph_version.ts";
import { tempDir } from "../checkpoint/helpers.ts";
import { slow } from "./fixtures/slow_flow.ts";
import { commandProgress } from "../../workers/run_progress.ts";

const CLI = new URL("../../workers/cli.ts", import.meta.url).pathname;
const FLOW = new URL("./fixtures/slow_flow.ts", import.meta.url).href;

Deno.test({
  name: "graflow orchestrate serves run metrics and logs progress while runs go on",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using dir = await tempDir();
    {
      await using store = localRunStore({ dir: dir.path });
      for (const runId of ["slow-1", "slow-2"]) {
        await store.create({
          runId,
          flow: "obscli_slow",
          version: slow.version!,
          graph: graphShape(slow.graph),
          input: null,
          status: "queued",
        });
      }
    }
    const child = new Deno.Command(Deno.execPath(), {
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
        "50",
        "--metrics-port",
        "0",
        "--progress-ms",
        "200",
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines: Record<string, unknown>[] = [];
    const reading = (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          lines.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
      }
    })();
    try {
      const deadline = Date.now() + 30_000;
      const finished = () => lines.filter((l) => l.type === "finished").length;
      while (finished() < 2) {
        if (Date.now() > deadline) assert.fail(`no two finished runs: ${JSON.stringify(lines)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const port = lines.find((l) => l.type === "metrics")?.port;
      assert.equal(typeof port, "number");
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(
        text,
        /^graflow_runs_finished_total\{flow="obscli_slow",status="completed"\} 2$/m,
      );
      assert.match(
        text,
        /^graflow_groups_settled_total\{group="obscli_pair",outcome="succeeded"\} 2$/m,
      );
      const progress = lines.filter((l) => l.type === "progress");
      assert.ok(progress.length > 0, "progress lines while the runs went on");
      for (const p of progress) {
        assert.deepEqual(Object.keys(p).sort(), [
          "done",
          "failed",
          "running",
          "runs",
          "time",
          "type",
          "waiting",
        ]);
        assert.ok((p.runs as number) >= 1);
      }
      assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
    } finally {
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      await reading;
      await child.stderr.cancel();
    }
  },
});

Deno.test("a command's progress redraws one line on a terminal, summed over its runs", async () => {
  const out: string[] = [];
  const p = commandProgress({
    io: { out: (t) => out.push(`OUT ${t}`), err: () => {}, env: () => undefined },
    everyMs: 0,
    terminal: true,
    write: (t) => out.push(t),
  });
  const base = { flow: "f", running: 1, failed: 0, waiting: 0, elapsedMs: 1500 };
  p.onProgress({ ...base, runId: "a", done: 2, status: "running" });
  p.onProgress({ ...base, runId: "b", done: 3, status: "running" });
  await new Promise((r) => setTimeout(r, 1100));
  p.onProgress({ ...base, runId: "a", done: 4, running: 0, status: "completed" });
  p.close();
  assert.deepEqual(out, [
    "\r\x1b[2K2 run(s): 5 done, 2 running, 0 failed, 0 waiting, 1.5s",
    "\n",
  ]);
});
