// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { flow } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { WorkerProcess } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

const MAIN = new URL("../../workers/main.ts", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("worker CLI --help lists every flag with its environment variable", async () => {
  const r = await cli(["--help"]);
  assert.equal(r.code, 0);
  for (
    const [flag, env] of [
      ["--redis", "GRAFLOW_REDIS_URL"],
      ["--prefix", "GRAFLOW_PREFIX"],
      ["--module", "GRAFLOW_MODULES"],
      ["--concurrency", "GRAFLOW_CONCURRENCY"],
      ["--worker-id", "GRAFLOW_WORKER_ID"],
      ["--lease-ms", "GRAFLOW_LEASE_MS"],
      ["--metrics-port", "GRAFLOW_METRICS_PORT"],
      ["--secret", "GRAFLOW_SECRET"],
      ["--grace-ms", "GRAFLOW_GRACE_MS"],
      ["--insecure", "GRAFLOW_INSECURE"],
      ["--allow-import", "GRAFLOW_ALLOW_IMPORT"],
      ["--dead-letter-max", "GRAFLOW_DEAD_LETTER_MAX"],
      ["--metrics-host", "GRAFLOW_METRICS_HOST"],
    ]
  ) {
    assert.match(r.stdout, new RegExp(`${flag}[^\\n]*(\\n[^-\\n][^\\n]*)*\\[${env}`), flag);
  }
});

Deno.test("worker CLI refuses bad flags with exit code 2 and a clear message", async () => {
  const unknown = await cli(["--nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown option '--nope'/);
  const nan = await cli(["--concurrency", "lots"]);
  assert.equal(nan.code, 2);
  assert.match(nan.stderr, /--concurrency must be a number, got "lots"/);
  const zero = await cli(["--concurrency", "0"]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /concurrency must be a whole number >= 1, got 0/);
  const url = await cli(["--redis", "http://x"]);
  assert.equal(url.code, 2);
  assert.match(url.stderr, /must start with redis:\/\/ or rediss:\/\//);
  const env = await cli([], { GRAFLOW_LEASE_MS: "5" });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /leaseMs must be a whole number >= 100, got 5/);
});

Deno.test({
  name: "worker CLI takes its settings from environment variables",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    await using worker = new WorkerProcess([], {
      GRAFLOW_REDIS_URL: server.url(),
      GRAFLOW_PREFIX: prefix,
      GRAFLOW_MODULES: T.TASKS_URL,
      GRAFLOW_WORKER_ID: "env-worker",
      GRAFLOW_LEASE_MS: "4321",
      GRAFLOW_SECRET: "from-env",
      GRAFLOW_METRICS_PORT: "0",
      GRAFLOW_METRICS_HOST: "127.0.0.1",
    });
    const started = await worker.started();
    assert.equal(started.workerId, "env-worker");
    assert.equal(started.leaseMs, 4321);
    const health = await fetch(`http://127.0.0.1:${started.port}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    await using backend = redisBackend({ url: server.url(), prefix, secret: "from-env" });
    const r = await flow`${T.fetch}`.run({ backend, input: 5 });
    assert.equal((r.output as { n: number }).n, 5);
    worker.signal("SIGINT");
    assert.equal((await worker.exited).code, 0);
  },
});

Deno.test("deno task compile:worker builds bin/graflow-worker (needs denort)", async () => {
  // deno compile downloads denort unless DENORT_BIN points at one; without it there is nothing
  // to test here.
  const denort = Deno.env.get("DENORT_BIN");
  if (!denort) {
    console.warn(
      "Skipping the compile test: deno compile needs denort (set DENORT_BIN to a denort binary)",
    );
    return;
  }
  const out = await Deno.makeTempDir();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "-A", "--output", `${out}/graflow-worker`, MAIN],
      env: { DENORT_BIN: denort },
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const help = await new Deno.Command(`${out}/graflow-worker`, { args: ["--help"] }).output();
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /graflow-worker/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
