/**
 * Fuzzing every decoder of the remote protocols with random and mutated messages: the Web
 * Worker protocol (`decodeWorkerMessage`), container and subprocess frames (`parseFrame`),
 * outcomes and context calls (`settleOutcome`, `serveContextCall`), codec trees
 * (`treeProblem` + `fromJsonTree`) and error records (`fromErrorRecord`). Only clear errors come
 * out: nothing throws a non-Error, nothing is imported, no prototype is polluted, nothing hangs;
 * and a real Web Worker posting random messages fails only its own task.
 *
 * Cases are seeded: a failure names its seed and case so it can be replayed.
 *
 * @module
 */
import assert from "assert";
import { flow, MemoryChannel, TaskFailedError, WorkerPool } from "../../mod.ts";
import { fromErrorRecord } from "../../src/errors.ts";
import { fromJsonTree } from "../../src/channels/codec.ts";
import { treeProblem } from "../../src/context/remote_check.ts";
import {
  type ContextCall,
  type RemoteOutcome,
  serveContextCall,
  settleOutcome,
} from "../../src/context/remote_context.ts";
import type { TaskContext } from "../../src/context/task_context.ts";
import { parseFrame } from "../../src/handlers/docker/frames.ts";
import { decodeWorkerMessage } from "../../src/handlers/worker_protocol.ts";
import { registeredTaskNames } from "../../src/graph/task.ts";
import { Prng } from "../dsl/prng.ts";
import { EVIL_DATA_MODULE, poster, pwnedCount, target } from "./fixtures/sandbox_tasks.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20260901);
const CASES = 3000;

const STRINGS = [
  "",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "$type",
  "Map",
  "Set",
  "BigInt",
  "Uint8Array",
  "Date",
  "Number",
  "Object",
  "undefined",
  "outcome",
  "call",
  "crash",
  "exit",
  "channel",
  "result",
  "checkpoint",
  "requestFeedback",
  "set",
  "get",
  "sec_target",
  "sec_evil",
  EVIL_DATA_MODULE,
  "file:///etc/passwd",
  "../../x",
  "\uD800",
  "n",
  "x".repeat(300),
];

function randomValue(r: Prng, depth = 0): unknown {
  switch (r.int(depth > 4 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return [0, -1, 1.5, 2 ** 53, -0, 1e308, r.int(1000)][r.int(7)];
    case 3:
    case 4:
      return STRINGS[r.int(STRINGS.length)];
    case 5:
      return undefined;
    case 6:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) {
        Object.defineProperty(o, STRINGS[r.int(STRINGS.length)], {
          value: randomValue(r, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
  }
}

const VALID: unknown[] = [
  {
    type: "outcome",
    id: 1,
    nonce: "n",
    outcome: { ok: true, value: { a: [1, { $type: "Map", value: [["k", 1]] }] } },
  },
  {
    type: "outcome",
    id: 1,
    nonce: "n",
    outcome: {
      ok: true,
      value: 1,
      directives: {
        next: [{ task: "sec_target", hasInput: true, input: "x", goto: false }],
        iterate: { hasInput: false },
        terminate: { reason: "r" },
        checkpoints: [{ metadata: { a: 1 } }],
      },
    },
  },
  {
    type: "outcome",
    id: 1,
    nonce: "n",
    outcome: {
      ok: false,
      error: {
        name: "TypeError",
        message: "m",
        cause: { name: "Error", message: "c" },
        props: { taskId: "t" },
      },
    },
  },
  {
    type: "call",
    id: 1,
    nonce: "n",
    callId: 2,
    call: { op: "channel", method: "set", args: ["k", { $type: "Set", value: [1] }] },
  },
  { type: "call", id: 1, nonce: "n", callId: 2, call: { op: "result", taskId: "sec_target" } },
  { type: "crash", kind: "uncaught error", error: { name: "Error", message: "boom" } },
  { type: "exit", how: "self.close()" },
];

/** A copy of `v` with one random change somewhere inside. */
function mutate(r: Prng, v: unknown): unknown {
  if (v === null || typeof v !== "object" || r.int(4) === 0) return randomValue(r);
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...v };
  const keys = Object.keys(copy);
  const action = r.int(4);
  if (action === 0 && keys.length) {
    delete (copy as Record<string, unknown>)[keys[r.int(keys.length)]];
  } else if (action === 1) {
    Object.defineProperty(copy, STRINGS[r.int(STRINGS.length)], {
      value: randomValue(r),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (keys.length) {
    const k = keys[r.int(keys.length)];
    (copy as Record<string, unknown>)[k] = mutate(r, (copy as Record<string, unknown>)[k]);
  }
  return copy;
}

function messages(r: Prng, n: number): unknown[] {
  return Array.from(
    { length: n },
    () => r.int(3) === 0 ? randomValue(r) : mutate(r, mutate(r, VALID[r.int(VALID.length)])),
  );
}

/** A context that records what is applied to it. */
function fakeContext(): TaskContext {
  const channel = new MemoryChannel();
  return {
    taskId: "fuzzed",
    runId: "fuzz",
    attempt: 1,
    cycle: 1,
    signal: new AbortController().signal,
    channel,
    result: () => Promise.resolve(undefined),
    next() {},
    nextIteration() {},
    terminate() {},
    cancel() {},
    checkpoint: () => Promise.resolve(undefined),
    requestFeedback: () => Promise.reject(new Error("no feedback in the fuzz test")),
  } as unknown as TaskContext;
}

function assertClean(where: string): void {
  assert.equal(pwnedCount(), 0, `${where}: a module was imported`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, `${where}: prototype polluted`);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
}

async function within<T>(p: Promise<T>, where: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${where}: hangs`)), 10_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test(`fuzz: decodeWorkerMessage and parseFrame return or throw a clear error (seed ${SEED})`, () => {
  const r = new Prng(SEED);
  for (const [i, m] of messages(r, CASES).entries()) {
    const where = `seed ${SEED} case ${i}: ${JSON.stringify(m)?.slice(0, 200)}`;
    try {
      decodeWorkerMessage(m);
    } catch (error) {
      assert.ok(error instanceof TypeError && error.message.length > 0, where);
    }
    const frame = m && typeof m === "object"
      ? { ...m as object, t: (m as { type?: unknown }).type }
      : m;
    const json = r.int(10) === 0
      ? JSON.stringify(frame)?.slice(0, r.int(50)) ?? ""
      : JSON.stringify(frame) ?? "null";
    try {
      parseFrame("fuzzed", json, "n");
    } catch (error) {
      assert.equal((error as { code?: string }).code, "CONTAINER_PROTOCOL", where);
    }
    assertClean(where);
  }
});

Deno.test(`fuzz: settleOutcome and serveContextCall settle with Errors, import nothing (seed ${SEED})`, async () => {
  const r = new Prng(SEED + 1);
  const before = registeredTaskNames().length;
  let accepted = 0;
  for (const [i, m] of messages(r, CASES).entries()) {
    const where = `seed ${SEED + 1} case ${i}: ${JSON.stringify(m)?.slice(0, 200)}`;
    const body = (m as { outcome?: unknown; call?: unknown }) ?? {};
    const outcome = typeof body === "object" && "outcome" in body ? body.outcome : m;
    await within(
      settleOutcome(fakeContext(), outcome as RemoteOutcome).then(
        () => accepted++,
        (error: unknown) => assert.ok(error instanceof Error, `${where}: threw ${String(error)}`),
      ),
      where,
    );
    const call = typeof body === "object" && "call" in body ? body.call : m;
    await within(
      serveContextCall(fakeContext(), call as ContextCall).then(
        () => {},
        (error: unknown) => assert.ok(error instanceof Error, `${where}: threw ${String(error)}`),
      ),
      where,
    );
    assertClean(where);
  }
  assert.equal(registeredTaskNames().length, before, "no task was registered by a message");
  assert.ok(
    accepted > 0,
    "some mutated outcomes are still valid (the fuzzer reaches the apply path)",
  );
  assert.ok(target.name);
});

Deno.test(`fuzz: codec trees that pass treeProblem decode without throwing; error records never throw (seed ${SEED})`, () => {
  const r = new Prng(SEED + 2);
  let decoded = 0;
  for (let i = 0; i < CASES; i++) {
    const tree = r.int(2) === 0
      ? randomValue(r)
      : mutate(r, (VALID[r.int(3)] as { outcome: unknown }).outcome);
    const where = `seed ${SEED + 2} case ${i}: ${JSON.stringify(tree)?.slice(0, 200)}`;
    if (treeProblem(tree) === undefined) {
      fromJsonTree(tree);
      decoded++;
    }
    const error = fromErrorRecord(tree as never);
    assert.ok(error instanceof Error, where);
    void String(error), error.message.length, String(error.stack);
    assertClean(where);
  }
  assert.ok(decoded > 100);
});

Deno.test("fuzz: a real Web Worker posting random and mutated messages fails only its task", async () => {
  const r = new Prng(SEED + 3);
  await using pool = new WorkerPool({ size: 1, name: "sec-fuzz" });
  for (const [i, m] of messages(r, 40).entries()) {
    const where = `seed ${SEED + 3} case ${i}: ${JSON.stringify(m)?.slice(0, 200)}`;
    const result = await within(
      flow`${poster}`.run({ input: m, handlers: { direct: pool } }).then(
        (x) => ({ ok: true as const, output: x.output }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      where,
    );
    if (!result.ok) {
      assert.ok(result.error instanceof TaskFailedError, `${where}: ${result.error}`);
      const code = (result.error.cause as { code?: string }).code;
      assert.ok(
        code === "WORKER_PROTOCOL" || code === "WORKER_CRASHED",
        `${where}: ${code} ${(result.error.cause as Error).message}`,
      );
    } else assert.equal(result.output, "posted", where);
    assertClean(where);
  }
});
