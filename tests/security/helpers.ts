/**
 * Checks shared by the security tests (several executors run the same attacks).
 *
 * @module
 */
import assert from "assert";
import {
  flow,
  type RunOptions,
  TaskFailedError,
  type TaskHandler,
  WorkflowError,
} from "../../mod.ts";
import { toErrorRecord } from "../../src/errors.ts";
import { hostile, type HostileKind } from "./fixtures/hostile_tasks.ts";
import {
  EVIL_DATA_MODULE,
  EVIL_FILE_MODULE,
  nextData,
  nextFile,
  nextKnown,
  pwnedCount,
} from "./fixtures/sandbox_tasks.ts";

/** Checks that an error can be read and serialized in every way a program would. */
export function assertReadable(error: unknown): void {
  assert.ok(error instanceof Error);
  assert.equal(typeof error.name, "string");
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length < 20_000, `message of ${error.message.length} characters`);
  void String(error), String(error.stack);
  const record = toErrorRecord(error);
  assert.ok(JSON.stringify(record).length < 1_000_000);
}

/**
 * Runs `sec_hostile` with `kind` and checks that the run settles (within 30 s) with a clear
 * `TaskFailedError`.
 */
export async function assertSettles(kind: HostileKind, options: RunOptions = {}): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the run of "${kind}" did not settle`)), 30_000);
  });
  try {
    const outcome = await Promise.race([
      flow`${hostile}`.run({ ...options, input: kind }).then(
        (r) => ({ ok: true as const, value: r.output }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      hang,
    ]);
    assert.ok(!outcome.ok, `${kind}: the run succeeded`);
    assert.ok(outcome.error instanceof TaskFailedError, `${kind}: ${outcome.error}`);
    assert.equal(outcome.error.taskId, "sec_hostile");
    assertReadable(outcome.error);
    assert.ok(outcome.error.cause !== undefined);
  } finally {
    clearTimeout(timer);
  }
}

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
