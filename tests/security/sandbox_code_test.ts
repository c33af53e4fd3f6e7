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
import { flow, TaskFailedError, type TaskHandler, WorkerPool, WorkflowError } from "../../mod.ts";
import {
  EVIL_DATA_MODULE,
  EVIL_FILE_MODULE,
  nextData,
  nextFile,
  nextKnown,
  pwnedCount,
} from "./fixtures/sandbox_tasks.ts";

/** Runs `next*` tasks of the fixture on `handler` and checks nothing was imported. */
export async function assertNoImportThroughNext(handler: TaskHandler): Promise<void> {
  for (
    const [t, name, module] of [
      [nextData, "sec_evil_data", EVIL_DATA_MODULE],
      [nextFile, "sec_evil_file", EVIL_FILE_MODULE],
    ] as const
  ) {
    const error = await flow`${t}`.run({ handlers: { direct: handler } }).then(
      () => assert.fail(`${t.name}: the run succeeded`),
      (e: unknown) => e,
    );
    assert.equal(pwnedCount(), 0, `${t.name}: the host imported ${module}`);
    assert.ok(error instanceof TaskFailedError, String(error));
    const cause = error.cause as WorkflowError;
    assert.ok(cause instanceof WorkflowError, String(cause));
    assert.equal(cause.code, "TASK_NOT_FOUND");
    assert.match(cause.message, new RegExp(`task "${name}" is not registered in this process`));
    assert.ok(!cause.message.includes(module), "the module a message named is not even echoed");
  }
  const ok = await flow`${nextKnown}`.run({ handlers: { direct: handler } });
  assert.equal(ok.results.sec_target, "target got from the sandbox");
  assert.equal(pwnedCount(), 0);
}

Deno.test("a permissions: none Web Worker task cannot make the host import a module through ctx.next", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-next" });
  await assertNoImportThroughNext(pool);
});
