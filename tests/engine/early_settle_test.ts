/**
 * Groups that settle early, in-process details: the cancellation reason, members waiting for a
 * retry or holding a timeout, nested groups and chains inside members, the events, and the
 * policies that settle only once every member did.
 *
 * @module
 */
import assert from "assert";
import {
  atLeast,
  bestEffort,
  firstSuccess,
  flow,
  type GroupOutcome,
  parallel,
  ParallelGroupError,
  task,
  type TaskContext,
  WorkflowError,
} from "../../mod.ts";
import { FakeClock, RunRecorder } from "../../src/testing/mod.ts";

// Task names are process-global: everything in this file starts with "es_".
const waitAbort = (ctx: TaskContext, ms = 5_000) =>
  new Promise<unknown>((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), ms);
    ctx.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(ctx.signal.reason);
    }, { once: true });
  });
const reasons: Record<string, unknown> = {};
const slow = (name: string) =>
  task(`es_${name}`, async (_: unknown, ctx: TaskContext) => {
    reasons[name] = await waitAbort(ctx);
    return name;
  });
const fails = (name: string, ms = 1) =>
  task(`es_${name}`, async () => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    throw new Error(`${name} broke`);
  });
const ok = (name: string, ms = 1) =>
  task(`es_${name}`, async () => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return name;
  });
const S1 = slow("s1");
const S2 = slow("s2");
const F1 = fails("f1");
const F2 = fails("f2", 5);
const O1 = ok("o1");
const O2 = ok("o2", 5);

Deno.test("cancelled members see a WorkflowError SETTLED_EARLY naming the group", async () => {
  await flow`${parallel([S1, O1], { name: "es_race", policy: firstSuccess() })}`.run();
  const reason = reasons.s1;
  assert.ok(reason instanceof WorkflowError, String(reason));
  assert.equal(reason.code, "SETTLED_EARLY");
  assert.equal(
    reason.message,
    'Cannot finish the task: group "es_race" settled without it (its first success policy had its answer)',
  );
});

Deno.test("atLeast(n) fails once n can no longer be reached, cancelling the rest", async () => {
  const rec = new RunRecorder();
  const error = await flow`${parallel([F1, S1, F2], { policy: atLeast(2) })}`
    .run({ onEvent: rec.onEvent }).then(() => undefined, (e) => e);
  assert.ok(error instanceof ParallelGroupError);
  assert.deepEqual(error.failed.map((f) => f.taskId), ["es_f1", "es_f2"]);
  assert.match(error.message, /0 of 3 member\(s\) succeeded, at least 2 required/);
  assert.deepEqual(rec.cancelled(), ["es_s1"]);
});

Deno.test("firstSuccess fails only when every member failed, listing them all", async () => {
  const error = await flow`${parallel([F1, F2], { policy: firstSuccess() })}`.run()
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof ParallelGroupError);
  assert.deepEqual(error.failed.map((f) => f.taskId), ["es_f1", "es_f2"]);
  assert.match(error.message, /none of 2 member\(s\) succeeded/);
});

Deno.test("bestEffort and custom policies wait for every member (nothing cancelled)", async () => {
  const outcomes: GroupOutcome[] = [];
  const policy = (o: GroupOutcome) => void outcomes.push(o);
  const r = await flow`${parallel([F1, O2], { policy })}`.run();
  assert.deepEqual(r.output, { es_o2: "o2" });
  assert.deepEqual(outcomes[0].cancelled, []);
  assert.deepEqual(outcomes[0].succeeded, ["es_o2"]);
  const rec = new RunRecorder();
  await flow`${parallel([F1, O2], { policy: bestEffort() })}`.run({ onEvent: rec.onEvent });
  assert.deepEqual(rec.cancelled(), []);
});

Deno.test("a member waiting for its retry is cancelled and never tries again", async () => {
  let attempts = 0;
  const flaky = task("es_flaky", () => {
    attempts++;
    throw new Error("down");
  }, { retries: { maxRetries: 5, initialDelayMs: 600_000 } });
  const clock = new FakeClock();
  const run = flow`${parallel([flaky, F2])}`.run({ clock }).then(() => undefined, (e) => e);
  const error = await run;
  assert.ok(error instanceof ParallelGroupError);
  assert.deepEqual(error.failed.map((f) => f.taskId), ["es_f2"]);
  assert.equal(attempts, 1);
  assert.equal(clock.pending, 0, "the ten-minute retry timer was cleared");
  await clock.advance(3_600_000);
  assert.equal(attempts, 1);
});

Deno.test("a cancelled member's timeout timer is cleared", async () => {
  const guarded = task("es_guarded", async (_: unknown, ctx: TaskContext) => {
    await waitAbort(ctx);
  }, { timeoutMs: 3_600_000 });
  const clock = new FakeClock();
  await flow`${parallel([guarded, F1])}`.run({ clock }).catch(() => {});
  assert.equal(clock.pending, 0);
});

Deno.test("everything inside a cancelled member stops: chains, nested groups, joins", async () => {
  const ran: string[] = [];
  const step = (name: string) =>
    task(`es_${name}`, (x: unknown) => {
      ran.push(name);
      return x;
    });
  const a = step("a");
  const after = step("after_slow");
  const inner = parallel([S2, ok("inner_ok")], { name: "es_inner" });
  const chain = flow`${a} >> ${S1} >> ${after}`;
  const g = parallel([chain, flow`${inner} >> ${step("after_inner")}`, F2], { name: "es_outer" });
  const rec = new RunRecorder();
  const error = await flow`${g}`.run({ onEvent: rec.onEvent }).then(() => undefined, (e) => e);
  assert.ok(error instanceof ParallelGroupError);
  assert.equal(error.groupId, "es_outer");
  assert.deepEqual(rec.cancelled().toSorted(), ["es_s1", "es_s2"]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ran, ["a"], "nothing after the cancelled tasks ran");
  const settled = rec.events.filter((e) => e.type === "group.settled") as {
    groupId: string;
    cancelled: string[];
  }[];
  assert.deepEqual(settled.map((e) => [e.groupId, e.cancelled]), [
    ["es_outer", ["es_after_slow", "es_after_inner"]],
  ]);
});

Deno.test("the slowest member does not hold up an early answer (fake-free timing)", async () => {
  const started = performance.now();
  const r = await flow`${parallel([S1, S2, O1], { policy: firstSuccess() })}`.run();
  const elapsed = performance.now() - started;
  assert.deepEqual(r.output, { es_o1: "o1" });
  assert.ok(elapsed < 1_000, `took ${elapsed} ms; the slow members wait 5 s unless cancelled`);
});
