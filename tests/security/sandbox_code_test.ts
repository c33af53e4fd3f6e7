/**
 * Code only from the operator, host side: a task in a sandbox (a Web Worker with
 * `permissions: "none"`) that calls `ctx.next()` with a task object naming a module — a `data:`
 * URL or a local file the host never imported — cannot make the host import it. The host
 * resolves the name in its own registry: an unknown name fails the task with `TASK_NOT_FOUND`,
 * a known name runs the host's own task. (Subprocesses: `sandbox_process_test.ts`; containers:
 * `sandbox_container_test.ts`.)
 *
 * @module
 */
import assert from "assert";
import { flow, WorkerPool } from "../../mod.ts";
import { dispatcher, pwnedHere } from "./fixtures/sandbox_tasks.ts";
import { assertNoImportThroughNext } from "./helpers.ts";

Deno.test("a permissions: none Web Worker task cannot make the host import a module through ctx.next", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-next" });
  await assertNoImportThroughNext(pool);
});

Deno.test("a Web Worker never imports a module named in a message that task code dispatched to it", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-dispatch" });
  await flow`${dispatcher}`.run({ handlers: { direct: pool } });
  await new Promise((r) => setTimeout(r, 200));
  const here = await flow`${pwnedHere}`.run({ handlers: { direct: pool } });
  assert.equal(here.output, 0, "the worker imported the module of a synthetic run message");
  assert.equal(pool.stats().started, 1);
});
