/**
 * Resource isolation and the sandbox of the process pool: a task that exhausts its heap fails
 * alone (`OUT_OF_MEMORY`) while other tasks go on; a subprocess cannot make the host import a
 * module through `ctx.next`; hostile values settle with clear errors; frames a task prints itself
 * (without its nonce) or that exceed the size limit are refused and end only that process.
 *
 * (Deno cannot cap a Web Worker's heap: `new Worker(url, { deno: { memoryMb } })` is an open
 * proposal, denoland/deno#35766, and a Web Worker that exhausts the heap aborts the whole
 * process. `node:worker_threads` `resourceLimits` cap the V8 heap but not `ArrayBuffer` memory
 * and carry no Deno permissions. Hence subprocesses.)
 *
 * @module
 */
import assert from "assert";
import { flow, ProcessPool, TaskFailedError, type WorkflowError } from "../../mod.ts";
import { bigResult, framer, hog, nap } from "../handlers/fixtures/process_tasks.ts";
import { HOSTILE_KINDS } from "./fixtures/hostile_tasks.ts";
import { assertNoImportThroughNext, assertSettles } from "./helpers.ts";

async function failure(run: Promise<unknown>): Promise<WorkflowError> {
  const error = await run.then(() => assert.fail("the run succeeded"), (e: unknown) => e);
  assert.ok(error instanceof TaskFailedError, String(error));
  return error.cause as WorkflowError;
}

Deno.test("a task that exhausts a 64 MiB heap fails alone with OUT_OF_MEMORY; another run goes on", async () => {
  await using pool = new ProcessPool({ size: 2, maxHeapMb: 64 });
  const t0 = performance.now();
  const other = flow`${nap}`.run({ input: 1_000, handlers: { direct: pool } });
  const cause = await failure(flow`${hog}`.run({ handlers: { direct: pool } }));
  assert.equal(cause.code, "OUT_OF_MEMORY", cause.message);
  assert.match(
    cause.message,
    /^Task "p_hog" ran out of memory in its subprocess \(maxHeapMb: 64\)/,
  );
  assert.equal((await other).output, 1_000);
  assert.ok(performance.now() - t0 < 30_000, "bounded");
  // The pool goes on.
  assert.equal((await flow`${nap}`.run({ input: 1, handlers: { direct: pool } })).output, 1);
});

Deno.test("a permissions: none subprocess cannot make the host import a module through ctx.next", async () => {
  await using pool = new ProcessPool({ size: 1 });
  await assertNoImportThroughNext(pool);
});

Deno.test("hostile values thrown or returned in a subprocess settle with clear errors", async () => {
  await using pool = new ProcessPool({ size: 2, maxTasksPerProcess: Infinity });
  for (const kind of HOSTILE_KINDS) await assertSettles(kind, { handlers: { direct: pool } });
  assert.equal(pool.stats().crashed, 0, "reading what a task threw never crashes its process");
});

Deno.test("a frame a task prints itself is refused (PROCESS_PROTOCOL) and ends only its process", async () => {
  await using pool = new ProcessPool({ size: 1 });
  const cause = await failure(flow`${framer}`.run({ handlers: { direct: pool } }));
  assert.equal(cause.code, "PROCESS_PROTOCOL");
  assert.match(cause.message, /a frame does not carry the task's nonce/);
  assert.equal((await flow`${nap}`.run({ input: 1, handlers: { direct: pool } })).output, 1);
});

Deno.test("a message over maxMessageBytes is refused (OUTPUT_TOO_LARGE) and ends only its process", async () => {
  await using pool = new ProcessPool({ size: 1, maxMessageBytes: 2 ** 20 });
  const cause = await failure(
    flow`${bigResult}`.run({ input: 3 * 2 ** 20, handlers: { direct: pool } }),
  );
  assert.equal(cause.code, "OUTPUT_TOO_LARGE");
  assert.equal(
    (await flow`${bigResult}`.run({ input: 10, handlers: { direct: pool } })).output,
    "x".repeat(10),
  );
});
