/**
 * Messages from Web Workers are checked and bound to their job: an outcome or a call is accepted
 * only for the job the worker runs now, with the random nonce the host sent with it; anything
 * malformed or forged fails the task that worker runs (`WORKER_PROTOCOL`) and retires the
 * worker, never the host; jobs of different runs never wait in the same worker; and task code
 * never sees the host's messages.
 *
 * @module
 */
import assert from "assert";
import {
  bestEffort,
  flow,
  MemoryChannel,
  parallel,
  TaskFailedError,
  WorkerPool,
  type WorkflowEvent,
} from "../../mod.ts";
import { eavesdrop, forger, poster, victim } from "./fixtures/sandbox_tasks.ts";
import { waitFor } from "../handlers/wait_for.ts";

const pair = parallel([forger, victim], { policy: bestEffort() });

/** Runs forger and victim on warm workers until the pool knows both as short. */
async function teach(pool: WorkerPool): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await flow`${pair}`.run({ input: "learn", handlers: { direct: pool } });
  }
}

function failureCode(events: WorkflowEvent[], taskId: string): string | undefined {
  const e = events.find((e) => e.type === "task.failed" && e.taskId === taskId) as
    | { error?: { code?: string } }
    | undefined;
  return e?.error?.code;
}

Deno.test("a forged outcome or ctx call for another job in the same worker is refused", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-forge", prefetchBudgetMs: 1000 });
  await teach(pool);
  const channel = new MemoryChannel();
  const events: WorkflowEvent[] = [];
  const run = flow`${pair}`.run({
    input: "attack",
    handlers: { direct: pool },
    channel,
    onEvent: (e) => events.push(e),
  });
  await waitFor(() => pool.stats().prefetched === 1, "the victim to wait behind the forger");
  await channel.set("go", true);
  const result = await run;
  assert.equal(result.results.sec_victim, "genuine");
  assert.equal(await channel.get("pwned"), undefined, "a forged call wrote to the channel");
  assert.equal("sec_forger" in result.results, false);
  assert.equal(failureCode(events, "sec_forger"), "WORKER_PROTOCOL");
});

Deno.test("jobs of another run never wait in a worker behind a forger", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-forge-x", prefetchBudgetMs: 1000 });
  await teach(pool);
  const attackChannel = new MemoryChannel();
  const victimChannel = new MemoryChannel();
  const attack = flow`${forger}`.run({
    input: "attack",
    handlers: { direct: pool },
    channel: attackChannel,
  }).then(() => "succeeded", (e) => (e as TaskFailedError).cause);
  await waitFor(() => pool.stats().busy === 1, "the forger to run");
  const run = flow`${victim}`.run({ handlers: { direct: pool }, channel: victimChannel });
  await waitFor(() => pool.stats().queued === 1, "the victim to wait in the pool");
  assert.equal(pool.stats().prefetched, 0);
  await attackChannel.set("go", true);
  assert.equal((await run).output, "genuine");
  assert.equal(await victimChannel.get("pwned"), undefined);
  assert.equal(((await attack) as { code?: string }).code, "WORKER_PROTOCOL");
});

const MALFORMED: [string, unknown][] = [
  ["null", null],
  ["a number", 42],
  ["a string", "outcome"],
  ["an array", [1, 2]],
  ["an object without type", {}],
  ["an unknown type", { type: "eval", code: "1" }],
  ["an outcome without id", { type: "outcome", outcome: { ok: true, value: 1 } }],
  ["an outcome with a string id", {
    type: "outcome",
    id: "1",
    nonce: "n",
    outcome: { ok: true, value: 1 },
  }],
  ["an outcome with a guessed nonce", {
    type: "outcome",
    id: 1,
    nonce: "0".repeat(32),
    outcome: { ok: true, value: 1 },
  }],
  ["an outcome that is null", { type: "outcome", id: 1, nonce: "n", outcome: null }],
  ["an outcome with a __proto__ error", {
    type: "outcome",
    id: 1,
    nonce: "n",
    outcome: { ok: false, error: { name: "__proto__", message: { toString: 1 } } },
  }],
  ["a call without call id", {
    type: "call",
    id: 1,
    nonce: "n",
    call: { op: "result", taskId: "x" },
  }],
  ["a call with an unknown op", {
    type: "call",
    id: 1,
    nonce: "n",
    callId: 1,
    call: { op: "import", url: "data:," },
  }],
  ["a call with a malformed value", {
    type: "call",
    id: 1,
    nonce: "n",
    callId: 1,
    call: { op: "channel", method: "set", args: ["k", { $type: "Map", value: 5 }] },
  }],
  ["a crash report without error", { type: "crash", kind: "uncaught error", error: null }],
  ["a crash report with an error that is not a record", {
    type: "crash",
    kind: "uncaught error",
    error: "boom",
  }],
  ["an exit report without how", { type: "exit", how: { toString: "x" } }],
  ["a deeply nested value", "deep outcome"],
];

Deno.test("a malformed or forged message fails the task that posted it and retires its worker, never the host", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-malformed" });
  let retired = 0;
  for (const [what, message] of MALFORMED) {
    const error = await flow`${poster}`.run({ input: message, handlers: { direct: pool } }).then(
      () => assert.fail(`${what}: accepted`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TaskFailedError, `${what}: ${error}`);
    const cause = error.cause as { code?: string; message: string };
    assert.ok(
      cause.code === "WORKER_PROTOCOL" || cause.code === "WORKER_CRASHED",
      `${what}: ${cause.code} ${cause.message}`,
    );
    assert.equal(pool.stats().crashed, ++retired, `${what}: the worker was retired`);
  }
  // The pool goes on with a new worker.
  assert.equal((await flow`${victim}`.run({ handlers: { direct: pool } })).output, "genuine");
});

Deno.test("task code in a worker never sees the host's messages", async () => {
  await using pool = new WorkerPool({ size: 1, name: "sec-eavesdrop" });
  for (let i = 0; i < 3; i++) {
    const result = await flow`${eavesdrop}`.run({
      input: { secret: `input ${i}` },
      handlers: { direct: pool },
    });
    assert.equal(result.output, 0, "host messages overheard by task code");
  }
});
