/**
 * A run never crashes its process: whatever a task throws or returns — a revoked Proxy, an Error
 * whose getters throw, cyclic causes, a 20 MB message, an object whose `toJSON` throws — the run
 * settles with a clear error, in-process and on Web Workers, and the wire format of errors
 * (`toErrorRecord` / `fromErrorRecord`) never throws, never pollutes a prototype and stays
 * bounded. (Containers: `errors_container_test.ts`; subprocesses: `sandbox_process_test.ts`.)
 *
 * @module
 */
import assert from "assert";
import { type ErrorRecord, type TaskContext, WorkerPool, WorkflowError } from "../../mod.ts";
import { fromErrorRecord, toErrorRecord } from "../../src/errors.ts";
import { hostile, HOSTILE_KINDS, type HostileKind } from "./fixtures/hostile_tasks.ts";
import { assertReadable, assertSettles } from "./helpers.ts";

/** What `sec_hostile` throws or returns for `kind`, caught. */
function hostileValue(kind: HostileKind): unknown {
  try {
    return hostile.invoke(kind, {} as TaskContext);
  } catch (error) {
    return error;
  }
}

for (const kind of HOSTILE_KINDS) {
  Deno.test(`toErrorRecord never throws and stays bounded: ${kind}`, () => {
    const record = toErrorRecord(hostileValue(kind));
    assert.equal(typeof record.name, "string");
    assert.equal(typeof record.message, "string");
    const text = JSON.stringify(record);
    assert.ok(text.length < 200_000, `${text.length} characters`);
    assertReadable(fromErrorRecord(JSON.parse(text)));
  });
}

Deno.test("toErrorRecord cuts a 20 MB message and says how much was cut", () => {
  const record = toErrorRecord(new Error("m".repeat(20 * 2 ** 20)));
  assert.ok(record.message.length <= 16_500, `${record.message.length}`);
  assert.match(record.message, /… \(\d+ more characters\)$/);
});

Deno.test("toErrorRecord follows cyclic causes once and keeps what it can read", () => {
  const record = toErrorRecord(hostileValue("throw Error with cyclic causes"));
  assert.equal(record.message, "a");
  assert.equal(record.cause?.message, "b");
  assert.equal(record.cause?.cause, undefined);
  const getter = toErrorRecord(hostileValue("throw Error with throwing message getter"));
  assert.equal(getter.name, "Error");
  assert.match(getter.message, /cannot be read/);
});

Deno.test("fromErrorRecord never throws on records that are not records", () => {
  const bad: unknown[] = [
    null,
    undefined,
    42,
    "text",
    [],
    { name: 5, message: {} },
    { name: "TypeError", message: "m", cause: "not a record" },
    { name: "Error", message: "m", props: [1, 2] },
    { name: "Error", message: "m", props: { failed: "nope" } },
    { name: "ParallelGroupError", message: "m", props: { failed: [null, 5, { error: 3 }] } },
  ];
  for (const record of bad) {
    const error = fromErrorRecord(record as ErrorRecord);
    assertReadable(error);
  }
  const notAnObject = fromErrorRecord(null as unknown as ErrorRecord);
  assert.ok(notAnObject instanceof WorkflowError);
  assert.equal(notAnObject.code, "BAD_ERROR_RECORD");
});

Deno.test("fromErrorRecord copies no __proto__, constructor or inherited keys", () => {
  const text = '{"name":"Error","message":"m","props":{"__proto__":{"polluted":true},' +
    '"constructor":{"prototype":{"polluted":true}},"toString":"x","valueOf":1,"taskId":"t"}}';
  const error = fromErrorRecord(JSON.parse(text));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(error), Error.prototype);
  assert.equal(String(error), "Error: m", "toString is not shadowed");
  assert.equal((error as unknown as { taskId: string }).taskId, "t");
  assert.equal(Object.hasOwn(error, "constructor"), false);
});

Deno.test("fromErrorRecord stops at 8 causes and 256 records, however deep the record", () => {
  let deep: ErrorRecord = { name: "Error", message: "root" };
  for (let i = 0; i < 100_000; i++) deep = { name: "Error", message: `level ${i}`, cause: deep };
  let depth = 0;
  for (let e: unknown = fromErrorRecord(deep); e instanceof Error; e = e.cause) depth++;
  assert.ok(depth <= 9, `${depth}`);
  // A wide tree of group failures: 1,000 × 1,000 would be a million errors.
  const leaf = { name: "Error", message: "leaf" };
  const wide = {
    name: "ParallelGroupError",
    message: "m",
    props: {
      failed: Array.from({ length: 1000 }, () => ({
        taskId: "t",
        error: {
          name: "ParallelGroupError",
          message: "m",
          props: { failed: Array(1000).fill({ taskId: "u", error: leaf }) },
        },
      })),
    },
  };
  const started = performance.now();
  assertReadable(fromErrorRecord(wide as ErrorRecord));
  assert.ok(performance.now() - started < 5_000);
});

Deno.test("fromErrorRecord cuts huge names, messages and stacks", () => {
  const huge = "x".repeat(5_000_000);
  const error = fromErrorRecord({ name: huge, message: huge, stack: huge, code: huge });
  assert.ok(error.name.length < 1_000);
  assert.ok(error.message.length < 20_000);
  assert.ok(String(error.stack).length < 100_000);
  assert.ok(String((error as { code?: string }).code).length < 1_000);
});

/** Values that need no copying in-process, so there they are ordinary results. */
const FINE_IN_PROCESS = new Set<HostileKind>([
  "return object with throwing getter",
  "return function",
]);

for (const kind of HOSTILE_KINDS) {
  if (FINE_IN_PROCESS.has(kind)) continue;
  Deno.test(`an in-process run settles with a clear error: ${kind}`, async () => {
    await assertSettles(kind);
  });
}

Deno.test("a Web Worker run settles with a clear error for every hostile value, and no worker crashes", async () => {
  await using pool = new WorkerPool({ size: 2, name: "sec-hostile" });
  for (const kind of HOSTILE_KINDS) {
    await assertSettles(kind, { handlers: { direct: pool } });
  }
  assert.equal(pool.stats().crashed, 0, "reading what a task threw never crashes its worker");
});
