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
import { WorkerPool } from "../../mod.ts";
import { assertNoImportThroughNext } from "./helpers.ts";

Deno.test("a permissions: none Web Worker task cannot make the host import a module through ctx.next", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-next" });
  await assertNoImportThroughNext(pool);
});
