/**
 * `graflow serve` as a real subprocess: tokens from a file and from `GRAFLOW_TOKENS`, a
 * `--module` registering flows, `--orchestrate` running what the API starts, JSON log lines
 * without any token, and SIGTERM closing it (exit 0).
 *
 * @module
 */
import assert from "assert";
import { EXIT } from "../../workers/cli_command.ts";
import { OPERATOR, TOKENS, until, VIEWER } from "./server_fixture.ts";

const CLI = new URL("../../workers/cli.ts", import.meta.url).pathname;
const FLOWS = new URL("./fixtures/flows.ts", import.meta.url).pathname;

function start(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "serve", ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const outDone = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (out += t) }),
  );
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (err += t) }),
  );
  return {
    child,
    out: () => out,
    err: () => err,
    async url(): Promise<string> {
      const line = await until(
        () => out.split("\n").find((l) => l.includes('"listening"')),
        "listening",
        30_000,
      );
      return JSON.parse(line).url;
    },
    async done() {
      const status = await child.status;
      await Promise.all([outDone, errDone]);
      return status.code;
    },
  };
}

Deno.test("graflow serve: tokens from a file, --module and --orchestrate; the API starts a run that completes; SIGTERM exits 0; no token in the logs", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/tokens`;
  await Deno.writeTextFile(file, `# people\n${TOKENS.split(",").join("\n")}\n`);
  const p = start([
    "--store",
    `${dir}/store`,
    "--port",
    "0",
    "--tokens-file",
    file,
    "--module",
    FLOWS,
    "--orchestrate",
    "--interval-ms",
    "50",
  ]);
  try {
    const url = await p.url();
    const headers = { authorization: `Bearer ${OPERATOR}`, "content-type": "application/json" };
    const started = await fetch(`${url}/runs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ flow: "srv_pipeline", input: { delayMs: 1 } }),
    });
    assert.equal(started.status, 201);
    const { run } = await started.json();
    await until(async () => {
      const r = await fetch(`${url}/runs/${run.runId}`, {
        headers: { authorization: `Bearer ${VIEWER}` },
      });
      return (await r.json()).run.status === "completed";
    }, "the run to complete");
    const forbidden = await fetch(`${url}/runs/${run.runId}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${VIEWER}` },
    });
    assert.equal(forbidden.status, 403);
    await forbidden.body?.cancel();
    p.child.kill("SIGTERM");
    assert.equal(await p.done(), EXIT.OK, p.err());
    const lines = p.out().trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.type === "request" && l.path === "/runs" && l.status === 201));
    assert.ok(lines.some((l) => l.type === "orchestrator" && l.event.type === "finished"));
    assert.equal(lines.at(-1).type, "stopped");
    const all = p.out() + p.err();
    assert.ok(!all.includes(OPERATOR) && !all.includes(VIEWER), "a token in the logs");
  } finally {
    try {
      p.child.kill("SIGKILL");
    } catch { /* exited */ }
    await p.done();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("graflow serve: GRAFLOW_TOKENS from the environment; malformed tokens are exit code 2 without echoing the secret", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = start(["--store", dir, "--port", "0", "--quiet"], { GRAFLOW_TOKENS: TOKENS });
    const url = await p.url();
    const r = await fetch(`${url}/runs`, { headers: { authorization: `Bearer ${VIEWER}` } });
    assert.equal(r.status, 200);
    await r.body?.cancel();
    p.child.kill("SIGINT");
    assert.equal(await p.done(), EXIT.OK);
    assert.ok(!p.out().includes('"request"'), "--quiet logs no requests");
    for (
      const [tokens, message] of [
        ["ana:admin:0123456789abcdef0", /role must be "viewer" or "operator"/],
        ["ana:viewer:short", /16-512 characters/],
        ["ana-viewer-0123456789abcdef", /must be name:role:token/],
        ["a:viewer:0123456789abcdef0,a:operator:0123456789abcdef1", /name is used twice/],
      ] as const
    ) {
      const bad = start(["--store", dir, "--port", "0"], { GRAFLOW_TOKENS: tokens });
      assert.equal(await bad.done(), EXIT.USAGE, tokens);
      assert.match(bad.err(), message);
      assert.ok(!bad.err().includes("0123456789abcdef"), "the secret is not echoed");
    }
    const missing = start(["--store", dir, "--tokens-file", `${dir}/nope`]);
    assert.equal(await missing.done(), EXIT.USAGE);
    assert.match(missing.err(), /cannot read --tokens-file/);
    const help = start(["--help"]);
    assert.equal(await help.done(), EXIT.OK);
    for (
      const flag of [
        "--store",
        "--port",
        "--hostname",
        "--tokens-file",
        "--module",
        "--orchestrate",
        "--webhook",
        "--slack",
        "GRAFLOW_TOKENS",
      ]
    ) {
      assert.ok(help.out().includes(flag), flag);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
