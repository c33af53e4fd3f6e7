/**
 * A `ctx.map` that comes back as data (from a Web Worker, a Redis worker or a container) is
 * checked on the host: its task is looked up in the host's registry (never imported), its
 * items, policy and bound are checked again.
 *
 * @module
 */
import assert from "assert";
import { task, WorkflowError } from "../../mod.ts";
import { type RemoteOutcome, settleOutcome } from "../../src/context/remote_context.ts";
import { EngineTaskContext } from "../../src/context/engine_task_context.ts";
import { toJsonTree } from "../../src/channels/codec.ts";

// Task names are process-global: everything in this file starts with "rm_".
const item = task("rm_item", (x: number) => x);

function hostContext(): EngineTaskContext {
  const host = {
    runId: "rm-run",
    channel: undefined as never,
    result: () => Promise.resolve(undefined),
    checkpoint: () => Promise.resolve(undefined),
    requestFeedback: () => Promise.reject(new Error("none")),
    notice: () => {},
  };
  return new EngineTaskContext(host, {}, "rm_caller", 1, 1);
}

function outcome(map: unknown): RemoteOutcome {
  return { ok: true, value: toJsonTree(1), directives: { map: map as never } };
}

Deno.test("a remote ctx.map becomes the host's directive, its task found in the registry", async () => {
  const ctx = hostContext();
  await settleOutcome(
    ctx,
    outcome({
      task: "rm_item",
      items: toJsonTree([1, 2]),
      policy: { type: "bestEffort" },
      concurrency: 2,
    }),
  );
  assert.deepEqual(ctx.directives?.map, {
    task: item,
    items: [1, 2],
    policy: { type: "bestEffort" },
    concurrency: 2,
  });
});

Deno.test("a remote ctx.map naming an unknown task is refused and imports nothing", async () => {
  const marker = "rm_pwned";
  const evil = `data:text/javascript,globalThis.${marker}=1;`;
  const error = await settleOutcome(
    hostContext(),
    outcome({ task: "rm_never_defined", module: evil, items: toJsonTree([1]) }),
  ).then(() => undefined, (e) => e);
  assert.ok(error instanceof WorkflowError, String(error));
  assert.equal(error.code, "TASK_NOT_FOUND");
  assert.match(error.message, /task "rm_never_defined" is not registered on the host/);
  assert.equal((globalThis as Record<string, unknown>)[marker], undefined);
});

Deno.test("a malformed remote ctx.map is refused with what was wrong", async () => {
  const cases: [unknown, RegExp][] = [
    [{ task: 7 }, /the task named by ctx.map\(\) has no valid name/],
    [{ task: "rm_item", items: toJsonTree([]), concurrency: "2" }, /concurrency is not a number/],
    [{ task: "rm_item", items: toJsonTree("abc") }, /items must be an array, got string/],
    [{ task: "rm_item", items: toJsonTree([]), concurrency: 0 }, /concurrency must be/],
    [
      { task: "rm_item", items: toJsonTree([]), policy: { type: "critical", names: ["a"] } },
      /critical\(\)/,
    ],
    [{ task: "rm_item", items: toJsonTree([]), policy: { type: "eval" } }, /unknown spec/],
    [
      { task: "rm_item", items: toJsonTree([]), policy: { type: "atLeast", n: -1 } },
      /whole number >= 0/,
    ],
  ];
  for (const [map, message] of cases) {
    const error = await settleOutcome(hostContext(), outcome(map)).then(() => undefined, (e) => e);
    assert.ok(error instanceof Error, `accepted ${JSON.stringify(map)}`);
    assert.match(error.message, message, JSON.stringify(map));
  }
});
