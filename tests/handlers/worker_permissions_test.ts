import assert from "assert";
import { bestEffort, flow, parallel, task, WorkerPool } from "../../mod.ts";
import {
  envNone,
  fetchLoopback,
  fetchNoNet,
  READABLE_DIR,
  readRestricted,
} from "./fixtures/worker_tasks.ts";

Deno.test("A worker task without net permission cannot fetch; with 127.0.0.1 allowed it can", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hello from loopback"),
  );
  const url = `http://127.0.0.1:${server.addr.port}/`;
  await using pool = new WorkerPool({ size: 2 });
  const result = await flow`${
    parallel([fetchNoNet, fetchLoopback], { executor: "workers", policy: bestEffort() })
  }`.run({ input: url, handlers: { worker: pool } });
  assert.equal(result.results.w_fetch_loopback, "hello from loopback");
  assert.equal("w_fetch_no_net" in result.results, false);
  const denied = await flow`${parallel([fetchNoNet], { executor: "workers" })}`
    .run({ input: url, handlers: { worker: pool } })
    .then(() => undefined, (e) => e.failed[0].error);
  assert.equal(denied?.name, "NotCapable");
  assert.match(denied.message, /Requires net access to "127\.0\.0\.1:\d+"/);
  // Two permission sets: two workers.
  assert.equal(pool.stats().started, 2);
});

Deno.test("A worker task with read access to one folder cannot read outside it", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const inside = `${READABLE_DIR}inside.txt`;
  const outside = new URL("./fixtures/worker_tasks.ts", import.meta.url).pathname;
  const ok = await flow`${parallel([readRestricted], { executor: "workers" })}`
    .run({ input: inside, handlers: { worker: pool } });
  assert.equal(ok.results.w_read_restricted, "inside the readable folder\n");
  const denied = await flow`${parallel([readRestricted], { executor: "workers" })}`
    .run({ input: outside, handlers: { worker: pool } })
    .then(() => undefined, (e) => e.failed[0].error);
  assert.equal(denied?.name, "NotCapable");
  assert.match(denied.message, /Requires read access to ".*worker_tasks\.ts"/);
  assert.equal(pool.stats().started, 1);
});

Deno.test('A worker task with permissions "none" loads and runs but cannot read the environment', async () => {
  await using pool = new WorkerPool({ size: 1 });
  const denied = await flow`${parallel([envNone], { executor: "workers" })}`
    .run({ input: "HOME", handlers: { worker: pool } })
    .then(() => undefined, (e) => e.failed[0].error);
  assert.equal(denied?.name, "NotCapable");
  assert.match(denied.message, /Requires env access to "HOME"/);
});

Deno.test("A malformed permissions option fails the task with a TypeError naming it", async () => {
  const bad = task("w_bad_permissions", () => 1, {
    permissions: { network: true } as unknown as "none",
  });
  await using pool = new WorkerPool({ size: 1 });
  const error = await flow`${parallel([bad], { executor: "workers" })}`
    .run({ handlers: { worker: pool } })
    .then(() => undefined, (e) => e.failed[0].error);
  assert.ok(error instanceof TypeError);
  assert.equal(
    error.message,
    'Cannot run task "w_bad_permissions" in a Web Worker: unknown permission "network" (known: env, net, ffi, read, run, sys, write, import)',
  );
  assert.equal(pool.stats().started, 0);
});

async function runScript(flags: string[]): Promise<{ code: number; out: string; err: string }> {
  const script = new URL("./fixtures/permission_script.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--quiet", ...flags, script],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  return { code, out: decode(stdout), err: decode(stderr) };
}

Deno.test("A task asking for more permissions than the host has fails with WORKER_START_FAILED", async () => {
  const { code, out, err } = await runScript([
    "--allow-read",
    "--allow-env",
    "--unstable-worker-options",
  ]);
  assert.equal(code, 0, err);
  assert.equal(
    out,
    "WORKER_START_FAILED | Cannot start Web Worker: Can't escalate parent thread permissions",
  );
});

Deno.test("Without --unstable-worker-options Deno ends the process at a task with permissions", async () => {
  const { code, err } = await runScript(["-A"]);
  assert.notEqual(code, 0); // Deno exits with 70 here
  assert.match(err, /--unstable-worker-options/);
});
