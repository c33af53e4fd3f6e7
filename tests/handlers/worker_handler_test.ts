import assert from "assert";
import { closeDefaultWorkerPool, defaultWorkerPool, flow, parallel } from "../../mod.ts";
import { double, where, whereOnWorker } from "./fixtures/worker_tasks.ts";

const DEFAULT = /^graflow-default-worker-\d+$/;

/** Closes the shared pool at the end of a test (sanitizers want no workers left). */
function sharedPoolScope(): AsyncDisposable {
  return { [Symbol.asyncDispose]: () => closeDefaultWorkerPool() };
}

Deno.test('{ handler: "worker" } runs a task on the shared pool', async () => {
  await using _pool = sharedPoolScope();
  const result = await flow`${where} >> ${whereOnWorker}`.run();
  assert.equal(result.results.w_where, "main");
  assert.match(result.results.w_where_on_worker as string, DEFAULT);
  assert.equal(defaultWorkerPool().stats().started, 1);
});

Deno.test('parallel([...], { executor: "workers" }) runs the members on the shared pool', async () => {
  await using _pool = sharedPoolScope();
  const result = await flow`${where} >> ${parallel([double], { executor: "workers" })}`.run({
    input: 2,
  });
  assert.equal(result.results.w_where, "main");
  assert.match((result.results.w_double as { thread: string }).thread, DEFAULT);
});

Deno.test('run({ executor: "workers" }) runs every group on the pool; inline groups and lone tasks stay', async () => {
  await using _pool = sharedPoolScope();
  const inline = parallel([where], { executor: "inline" });
  const workers = parallel([double]);
  const first = await flow`${workers}`.run({ input: 1, executor: "workers" });
  assert.match((first.results.w_double as { thread: string }).thread, DEFAULT);
  const second = await flow`${inline}`.run({ executor: "workers" });
  assert.equal(second.results.w_where, "main");
  const lone = await flow`${where}`.run({ executor: "workers" });
  assert.equal(lone.results.w_where, "main");
  const plain = await flow`${workers}`.run({ input: 1 });
  assert.equal((plain.results.w_double as { thread: string }).thread, "main");
});

Deno.test("closeDefaultWorkerPool closes the shared pool; the next worker task makes a new one", async () => {
  await using _pool = sharedPoolScope();
  const before = defaultWorkerPool();
  await flow`${whereOnWorker}`.run();
  await closeDefaultWorkerPool();
  await closeDefaultWorkerPool();
  assert.equal(before.closed, true);
  const after = await flow`${whereOnWorker}`.run();
  assert.match(after.output as string, DEFAULT);
  assert.notEqual(defaultWorkerPool(), before);
});

Deno.test("A process that used the shared pool without closing it exits", async () => {
  const script = new URL("./fixtures/exit_script.ts", import.meta.url);
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script.pathname],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const elapsed = performance.now() - t0;
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, DEFAULT);
  assert.ok(elapsed < 15_000, `exit took ${elapsed} ms`);
});
