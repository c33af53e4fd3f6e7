/**
 * `RunState` is the single owner of a run's state: replaying the transitions a live run
 * recorded, one by one, on a new state gives the same state after every step (random flows
 * with groups, policies, loops, dynamic tasks, retries and failures), and `toData()` /
 * `fromData()` round-trip without running anything.
 *
 * @module
 */
import assert from "assert";
import {
  atLeast,
  bestEffort,
  type Flow,
  flow,
  type GroupPolicy,
  parallel,
  strict,
  type Task,
  task,
  type TaskContext,
} from "../../mod.ts";
import { Engine } from "../../src/engine/engine.ts";
import { type ExecState, RunState, type RunStatePort } from "../../src/state/run_state.ts";
import { Replay } from "../../src/state/replay.ts";
import type { RunStateData, Transition } from "../../src/state/run_state_data.ts";
import { MemoryChannel } from "../../src/channels/memory_channel.ts";
import { directHandler } from "../../src/handlers/task_handler.ts";
import { systemClock } from "../../src/time/clock.ts";
import { Prng } from "../dsl/prng.ts";

const plainPort: RunStatePort<ExecState> = {
  exec: (step, node, task, input, from, kind, cycle, attempt, map, item) => ({
    step,
    node,
    task,
    input,
    from,
    kind,
    cycle,
    map,
    item,
    attempt,
    settled: false,
    slot: -1,
  }),
};

/** Tasks whose behaviour depends on the seed: sync or async, failing, iterating, adding tasks. */
function makeTasks(seed: number, rng: Prng, n: number): Task[] {
  const tick = () => new Promise((r) => setTimeout(r, rng.int(3)));
  const extra = task(`rs${seed}_extra`, async (x: unknown) => {
    await tick();
    return ["extra", x];
  });
  return Array.from({ length: n }, (_, i) => {
    const kind = rng.int(7);
    const name = `rs${seed}_t${i}`;
    switch (kind) {
      case 0: // fails on the first attempt, retried once
        return task(name, async (x: unknown, ctx: TaskContext) => {
          await tick();
          if (ctx.attempt === 1) throw new Error(`${name} flaked`);
          return [name, x];
        }, { retries: { maxRetries: 1, initialDelayMs: 1 } });
      case 1: // fails for good (a tolerant group absorbs it, else the run fails)
        return task(name, async () => {
          await tick();
          throw new RangeError(`${name} broke`);
        });
      case 2: // iterates twice
        return task(name, (x: unknown, ctx: TaskContext) => {
          if (ctx.cycle < 3) ctx.nextIteration([name, ctx.cycle]);
          return [name, x];
        });
      case 3: // adds a task at run time
        return task(name, async (x: unknown, ctx: TaskContext) => {
          await tick();
          if (ctx.cycle === 1) ctx.next(extra, name);
          return [name, x];
        });
      default:
        return task(name, async (x: unknown) => {
          if (rng.int(2)) await tick();
          return [name, x];
        });
    }
  });
}

/** A random flow: a chain whose links are tasks or parallel groups of tasks or chains. */
function makeFlow(seed: number): Flow {
  const rng = new Prng(seed);
  const tasks = makeTasks(seed, rng, 6 + rng.int(8));
  let next = 0;
  const take = () => tasks[next++];
  const policies: (() => GroupPolicy)[] = [strict, bestEffort, () => atLeast(1)];
  let text = `${"${0}"}`;
  const values: unknown[] = [take()];
  while (next < tasks.length) {
    if (rng.int(2) && tasks.length - next >= 2) {
      const width = Math.min(2 + rng.int(3), tasks.length - next);
      const members: (Task | Flow)[] = [];
      for (let m = 0; m < width; m++) {
        if (rng.int(3) === 0 && next + 1 < tasks.length) {
          members.push(flow`${take()} >> ${take()}`);
        } else if (next < tasks.length) members.push(take());
      }
      values.push(parallel(members, { policy: policies[rng.int(3)]() }));
    } else values.push(take());
    text += ` >> \${${values.length - 1}}`;
  }
  const parts = text.split(/\$\{\d+\}/);
  const strings = Object.assign(parts, { raw: parts }) as unknown as TemplateStringsArray;
  return flow(strings, ...values);
}

/** Runs a flow, replaying each transition on a second state and comparing after each. */
async function runAndReplay(f: Flow, seed: number): Promise<{ n: number }> {
  const plan = f.plan();
  let replica: Replay<ExecState> | undefined;
  let n = 0;
  const mismatches: string[] = [];
  const record = (tr: Transition) => {
    replica ??= new Replay(new RunState(engine.runId, f.graph, plan, 200, plainPort));
    replica.apply(tr);
    n++;
    const live = engine.snapshot();
    const again = replica.state.toData();
    try {
      assert.deepStrictEqual(again, live);
    } catch (error) {
      mismatches.push(`seed ${seed}, after transition ${n} (${tr.t}): ${(error as Error).message}`);
    }
  };
  const engine: Engine = new Engine({
    runId: `replay-${seed}`,
    graph: f.graph,
    plan,
    channel: new MemoryChannel(),
    handlers: new Map([["direct", directHandler]]),
    placement: {},
    maxSteps: 200,
    clock: systemClock,
    record,
    persistence: () => ({
      afterTask: () => Promise.resolve(),
      checkpointNow: () => Promise.reject(new Error("no checkpoints here")),
      requestFeedback: () => Promise.reject(new Error("no feedback here")),
    }),
  });
  const outcome = await engine.begin(seed, false).then((r) => r, (e) => e);
  assert.deepEqual(mismatches.slice(0, 3), []);
  const final = replica!.state.toData();
  if (!(outcome instanceof Error)) {
    assert.deepStrictEqual(final.results, outcome.results, `seed ${seed}: results`);
    assert.deepStrictEqual(final.completed, outcome.completed, `seed ${seed}: completed`);
    assert.deepStrictEqual(replica!.state.output, outcome.output, `seed ${seed}: output`);
  } else assert.ok(replica!.state.stop?.kind === "failed", `seed ${seed}: the replica failed too`);
  return { n };
}

Deno.test("replaying a run's transitions rebuilds its state after every step (120 random flows)", async () => {
  let transitions = 0;
  for (let seed = 1; seed <= 120; seed++) {
    transitions += (await runAndReplay(makeFlow(seed), seed)).n;
  }
  assert.ok(transitions > 2000, `only ${transitions} transitions were compared`);
});

Deno.test("toData() and fromData() round-trip every intermediate state without running anything", async () => {
  const f = makeFlow(7);
  const plan = f.plan();
  const states: RunStateData[] = [];
  const engine: Engine = new Engine({
    runId: "roundtrip",
    graph: f.graph,
    plan,
    channel: new MemoryChannel(),
    handlers: new Map([["direct", directHandler]]),
    placement: {},
    maxSteps: 200,
    clock: systemClock,
    record: () => states.push(engine.snapshot()),
    persistence: () => ({
      afterTask: () => Promise.resolve(),
      checkpointNow: () => Promise.reject(new Error("none")),
      requestFeedback: () => Promise.reject(new Error("none")),
    }),
  });
  await engine.begin(0, false).catch(() => {});
  assert.ok(states.length > 10);
  for (const [i, data] of states.entries()) {
    const copy = structuredClone(data);
    const state = RunState.fromData(copy, f.graph, plan, 200, plainPort);
    assert.deepStrictEqual(state.toData(), data, `state ${i}`);
  }
});

Deno.test("apply() refuses a transition that does not fit the state", () => {
  const a = task("rs_misfit_a", () => 1);
  const f = flow`${a}`;
  const state = new Replay(new RunState("misfit", f.graph, f.plan(), 10, plainPort));
  state.apply({ t: "begin", input: 0 });
  assert.throws(() => state.apply({ t: "ok", step: 1, result: 1 }), {
    code: "JOURNAL_MISMATCH",
    message: /execution 1 is not running/,
  });
  assert.throws(() => state.apply({ t: "take", step: 2 }), {
    code: "JOURNAL_MISMATCH",
    message: /expected execution 2, got execution 1/,
  });
});
