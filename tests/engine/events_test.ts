import assert from "assert";
import { flow, task, type TaskContext, type WorkflowEvent } from "../../mod.ts";

// Task names are process-global: everything in this file starts with "engev_".
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Compact event labels: "type:subject[:detail]". */
function label(e: WorkflowEvent): string {
  switch (e.type) {
    case "run.started":
      return "run.started";
    case "run.finished":
      return `run.finished:${e.status}:${e.steps}`;
    case "run.failed":
      return `run.failed:${e.steps}`;
    case "task.started":
    case "task.succeeded":
      return `${e.type}:${e.taskId}:${e.attempt}:${e.cycle}`;
    case "task.failed":
      return `task.failed:${e.taskId}:${e.attempt}`;
    case "task.retried":
      return `task.retried:${e.taskId}:${e.attempt}:${e.delayMs}`;
    case "task.added":
      return `task.added:${e.taskId}:by ${e.by}:${e.goto ? "goto" : "next"}`;
    case "group.settled":
      return `group.settled:${e.groupId}:${e.ok}:${e.succeeded.join("+")}:${e.failed.join("+")}`;
    default:
      return e.type;
  }
}

const extra = task("engev_extra", (x: unknown) => x);
let attempts = 0;
task("engev_start", (x: number, ctx: TaskContext) => {
  ctx.next(extra, "added");
  return x;
});
task("engev_flaky", async () => {
  await delay(5);
  if (++attempts === 1) throw new Error("first try");
  return "flaky ok";
}, { retries: { maxRetries: 1, initialDelayMs: 0 } });
task("engev_fast", () => "fast");
task("engev_end", (input: unknown) => input);

Deno.test("events cover every transition of a run, in order", async () => {
  attempts = 0;
  const events: WorkflowEvent[] = [];
  const result = await flow`engev_start >> (engev_flaky | engev_fast) >> engev_end`.run({
    input: 1,
    runId: "engev-run",
    onEvent: (e) => events.push(e),
  });
  const labels = events.map(label);
  const expected = [
    "run.started",
    "task.started:engev_start:1:1",
    "task.succeeded:engev_start:1:1",
    "task.added:engev_extra:by engev_start:next",
    "task.started:engev_extra:1:1",
    "task.succeeded:engev_extra:1:1",
    "task.started:engev_flaky:1:1",
    "task.failed:engev_flaky:1",
    "task.retried:engev_flaky:1:0",
    "task.started:engev_flaky:2:1",
    "task.succeeded:engev_flaky:2:1",
    "task.started:engev_fast:1:1",
    "task.succeeded:engev_fast:1:1",
    "group.settled:group_1:true:engev_flaky+engev_fast:",
    "task.started:engev_end:1:1",
    "task.succeeded:engev_end:1:1",
    "run.finished:completed:5",
  ];
  // Every transition exactly once; the interleaving of independent tasks is free, but each
  // event comes after what caused it.
  assert.deepEqual([...labels].sort(), [...expected].sort());
  const at = (l: string) => labels.indexOf(l);
  const order = (...chain: string[]) => {
    for (let i = 1; i < chain.length; i++) {
      assert.ok(at(chain[i - 1]) < at(chain[i]), `${chain[i - 1]} before ${chain[i]}`);
    }
  };
  assert.equal(labels[0], "run.started");
  assert.equal(labels.at(-1), "run.finished:completed:5");
  order(
    "task.started:engev_start:1:1",
    "task.succeeded:engev_start:1:1",
    "task.added:engev_extra:by engev_start:next",
    "task.started:engev_extra:1:1",
    "task.succeeded:engev_extra:1:1",
  );
  order(
    "task.succeeded:engev_start:1:1",
    "task.started:engev_flaky:1:1",
    "task.failed:engev_flaky:1",
    "task.retried:engev_flaky:1:0",
    "task.started:engev_flaky:2:1",
    "task.succeeded:engev_flaky:2:1",
    "group.settled:group_1:true:engev_flaky+engev_fast:",
  );
  order(
    "task.succeeded:engev_start:1:1",
    "task.started:engev_fast:1:1",
    "task.succeeded:engev_fast:1:1",
    "group.settled:group_1:true:engev_flaky+engev_fast:",
    "task.started:engev_end:1:1",
    "task.succeeded:engev_end:1:1",
  );
  assert.equal(result.steps, 5);
  for (const e of events) {
    assert.equal(e.runId, "engev-run");
    assert.equal(typeof e.time, "number");
    assert.ok(Math.abs(e.time - Date.now()) < 60_000);
  }
  const times = events.map((e) => e.time);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "times never go backwards");
  for (const e of events) {
    if (e.type === "task.succeeded") assert.ok(e.durationMs >= 0);
    if (e.type === "task.failed" || e.type === "task.retried") {
      assert.equal((e.error as Error).message, "first try");
    }
    if (e.type === "run.started") assert.equal(e.resumed, false);
  }
});

Deno.test("a failed run ends with run.failed carrying the error", async () => {
  task("engev_boom", () => {
    throw new TypeError("boom");
  });
  const events: WorkflowEvent[] = [];
  const error = await flow`engev_fast >> engev_boom`.run({ onEvent: (e) => events.push(e) })
    .catch((e) => e);
  assert.deepEqual(events.map(label), [
    "run.started",
    "task.started:engev_fast:1:1",
    "task.succeeded:engev_fast:1:1",
    "task.started:engev_boom:1:1",
    "task.failed:engev_boom:1",
    "run.failed:2",
  ]);
  const last = events.at(-1)!;
  assert.ok(last.type === "run.failed");
  assert.equal(last.error, error);
});

Deno.test("a failed group emits group.settled with ok false and the failed members", async () => {
  task("engev_broken", () => {
    throw new Error("x");
  });
  const events: WorkflowEvent[] = [];
  await flow`engev_fast | engev_broken`.run({ onEvent: (e) => events.push(e) }).catch(() => {});
  assert.ok(events.map(label).includes("group.settled:group_1:false:engev_fast:engev_broken"));
  assert.equal(events.at(-1)!.type, "run.failed");
});

Deno.test("a terminated run finishes with status terminated; a goto is reported as such", async () => {
  const target = task("engev_target", (_: unknown, ctx: TaskContext) => ctx.terminate());
  task("engev_jumper", (_: unknown, ctx: TaskContext) => ctx.next(target, 1, { goto: true }));
  const events: WorkflowEvent[] = [];
  await flow`engev_jumper >> engev_fast`.run({ onEvent: (e) => events.push(e) });
  assert.deepEqual(events.map(label), [
    "run.started",
    "task.started:engev_jumper:1:1",
    "task.succeeded:engev_jumper:1:1",
    "task.added:engev_target:by engev_jumper:goto",
    "task.started:engev_target:1:1",
    "task.succeeded:engev_target:1:1",
    "run.finished:terminated:2",
  ]);
});

Deno.test("iterations are reported with their cycle", async () => {
  task("engev_iter", (x: number, ctx: TaskContext) => {
    if (x < 2) ctx.nextIteration(x + 1);
  });
  const events: WorkflowEvent[] = [];
  await flow`engev_iter`.run({ input: 0, onEvent: (e) => events.push(e) });
  assert.deepEqual(
    events.filter((e) => e.type === "task.started").map(label),
    ["task.started:engev_iter:1:1", "task.started:engev_iter:1:2", "task.started:engev_iter:1:3"],
  );
});

Deno.test("a listener that throws does not break the run", async () => {
  let calls = 0;
  const result = await flow`engev_fast >> engev_end`.run({
    onEvent: () => {
      calls++;
      throw new Error("listener bug");
    },
  });
  assert.equal(result.output, "fast");
  assert.equal(calls, 6);
});
