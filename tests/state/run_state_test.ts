/**
 * `RunState` is the single owner of a run's state: replaying the transitions a live run
 * recorded, one by one, on a new state gives the same state after every step (random flows
 * with groups, policies that settle early, map nodes and `ctx.map`, loops, dynamic tasks,
 * retries, non-retryable errors and failures), and `toData()` / `fromData()` round-trip
 * without running anything.
 *
 * @module
 */
import assert from "assert";
import {
  atLeast,
  bestEffort,
  critical,
  firstSuccess,
  type Flow,
  flow,
  type GroupPolicy,
  map,
  NonRetryableError,
  parallel,
  strict,
  type Task,
  task,
  type TaskContext,
} from "../../mod.ts";
import { Engine } from "../../src/engine/engine.ts";
import { type ExecState, RunState } from "../../src/state/run_state.ts";
import { Replay } from "../../src/state/replay.ts";
import type { RunStateData, Transition } from "../../src/state/run_state_data.ts";
import { MemoryChannel } from "../../src/channels/memory_channel.ts";
import { plainExecPort } from "../../src/state/journal_state.ts";
import { directHandler } from "../../src/handlers/task_handler.ts";
import { systemClock } from "../../src/time/clock.ts";
import { Prng } from "../dsl/prng.ts";
import type { WorkflowEvent } from "../../src/observability/events.ts";

const plainPort = plainExecPort();

/** Tasks whose behaviour depends on the seed: sync or async, failing, iterating, adding tasks. */
function makeTasks(seed: number, rng: Prng, n: number): Task[] {
  const tick = () => new Promise((r) => setTimeout(r, rng.int(3)));
  const extra = task(`rs${seed}_extra`, async (x: unknown) => {
    await tick();
    return ["extra", x];
  });
  const item = mapItemTask(`rs${seed}_ctxitem`, rng);
  return Array.from({ length: n }, (_, i) => {
    const kind = rng.int(9);
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
      case 4: // fails at once, whatever its retries
        return task(name, async () => {
          await tick();
          throw new NonRetryableError(`${name} refused`);
        }, { retries: { maxRetries: 3, initialDelayMs: 1 } });
      case 5: // maps over a list of its own making
        return task(name, (x: unknown, ctx: TaskContext) => {
          const policies = [undefined, bestEffort(), atLeast(1), firstSuccess()];
          const policy = policies[rng.int(4)];
          ctx.map(item, [1, 2, 3].slice(0, 1 + rng.int(3)).map((k) => `${name}.${k}`), {
            ...(policy ? { policy } : {}),
            concurrency: 1 + rng.int(3),
          });
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

/** A map item: sync or async, sometimes failing (a tolerant policy absorbs it). */
function mapItemTask(name: string, rng: Prng): Task {
  const fails = rng.int(3) === 0;
  return task(name, async (x: unknown) => {
    if (rng.int(2)) await new Promise((r) => setTimeout(r, rng.int(3)));
    if (fails && rng.int(2)) throw new Error(`${name} item broke`);
    return [name, x];
  }, rng.int(3) === 0 ? { retries: { maxRetries: 1, initialDelayMs: 1 } } : {});
}

const flows = new Map<number, Flow>();

/**
 * A random flow: a chain whose links are tasks, map nodes (after a task that makes a list), or
 * parallel groups of tasks or chains, under policies that may settle early.
 */
function makeFlow(seed: number): Flow {
  let f = flows.get(seed);
  if (!f) flows.set(seed, f = buildFlow(seed));
  return f;
}

function buildFlow(seed: number): Flow {
  const rng = new Prng(seed);
  const tasks = makeTasks(seed, rng, 6 + rng.int(8));
  let next = 0;
  const take = () => tasks[next++];
  let maps = 0;
  const mapPolicies: (() => GroupPolicy)[] = [strict, bestEffort, () => atLeast(1), firstSuccess];
  const lister = () =>
    task(`rs${seed}_list${maps}`, (x: unknown) => {
      const n = rng.int(5);
      return Array.from({ length: n }, (_, k) => [k, typeof x]);
    });
  let text = `${"${0}"}`;
  const values: unknown[] = [take()];
  while (next < tasks.length) {
    const shape = rng.int(5);
    if (shape === 0) {
      // A list, then a map node over it.
      values.push(lister());
      text += ` >> \${${values.length - 1}}`;
      const policy = mapPolicies[rng.int(4)]();
      const concurrency = rng.int(2) ? 1 + rng.int(3) : undefined;
      values.push(map(mapItemTask(`rs${seed}_item${maps++}`, rng), { policy, concurrency }));
    } else if (shape <= 2 && tasks.length - next >= 2) {
      const width = Math.min(2 + rng.int(3), tasks.length - next);
      const members: (Task | Flow)[] = [];
      for (let m = 0; m < width; m++) {
        if (rng.int(3) === 0 && next + 1 < tasks.length) {
          members.push(flow`${take()} >> ${take()}`);
        } else if (next < tasks.length) members.push(take());
      }
      const first = (members[0] as Task).invoke ? (members[0] as Task).name : undefined;
      const policies: (() => GroupPolicy)[] = [
        strict,
        bestEffort,
        () => atLeast(1),
        firstSuccess,
        ...(typeof first === "string" ? [() => critical([first])] : []),
      ];
      values.push(parallel(members, { policy: policies[rng.int(policies.length)]() }));
    } else values.push(take());
    text += ` >> \${${values.length - 1}}`;
  }
  const parts = text.split(/\$\{\d+\}/);
  const strings = Object.assign(parts, { raw: parts }) as unknown as TemplateStringsArray;
  return flow(strings, ...values);
}

/** What the random runs went through (so the test knows it covered the interesting cases). */
const seen = {
  completed: 0,
  failed: 0,
  mapsSettled: 0,
  ctxMaps: 0,
  settledEarly: 0,
  cancelled: 0,
  nonRetryable: 0,
  statesWithMaps: 0,
};

function count(e: WorkflowEvent): void {
  if (e.type === "group.settled") {
    if (/\[\d+\]$/.test(e.succeeded[0] ?? e.failed[0] ?? e.cancelled[0] ?? "")) seen.mapsSettled++;
    if (e.cancelled.length) seen.settledEarly++;
  }
  if (e.type === "task.cancelled") seen.cancelled++;
  if (e.type === "task.failed" && e.retryable === false) seen.nonRetryable++;
}

/** Runs a flow, replaying each transition on a second state and comparing after each. */
async function runAndReplay(f: Flow, seed: number): Promise<{ n: number }> {
  const plan = f.plan();
  let replica: Replay<ExecState> | undefined;
  // A second replica starts from a journal snapshot taken halfway (running tasks included).
  let fromSnapshot: Replay<ExecState> | undefined;
  const snapshotAt = 5 + (seed % 17);
  let n = 0;
  const mismatches: string[] = [];
  const record = (tr: Transition) => {
    replica ??= new Replay(new RunState(engine.runId, f.graph, plan, 200, plainPort));
    replica.apply(tr);
    fromSnapshot?.apply(tr);
    n++;
    if (n === snapshotAt) {
      const data = structuredClone(engine.journalData());
      fromSnapshot = new Replay(RunState.fromData(data, f.graph, plan, 200, plainPort));
    }
    const live = engine.snapshot();
    const again = replica.state.toData();
    if (live.maps) seen.statesWithMaps++;
    if (tr.t === "ok" && tr.directives?.map) seen.ctxMaps++;
    try {
      assert.deepStrictEqual(again, live);
      if (fromSnapshot) assert.deepStrictEqual(fromSnapshot.state.toData(), live);
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
    onEvent: count,
    persistence: () => ({
      afterTask: () => Promise.resolve(),
      checkpointNow: () => Promise.reject(new Error("no checkpoints here")),
      requestFeedback: () => Promise.reject(new Error("no feedback here")),
    }),
  });
  const outcome = await engine.begin(seed, false).then((r) => r, (e) => e);
  if (outcome instanceof Error) seen.failed++;
  else seen.completed++;
  assert.deepEqual(mismatches.slice(0, 3), []);
  const final = replica!.state.toData();
  if (!(outcome instanceof Error)) {
    assert.deepStrictEqual(final.results, outcome.results, `seed ${seed}: results`);
    assert.deepStrictEqual(final.completed, outcome.completed, `seed ${seed}: completed`);
    assert.deepStrictEqual(replica!.state.output, outcome.output, `seed ${seed}: output`);
  } else assert.ok(replica!.state.stop?.kind === "failed", `seed ${seed}: the replica failed too`);
  return { n };
}

Deno.test("replaying a run's transitions rebuilds its state after every step (240 random flows)", async () => {
  let transitions = 0;
  for (let seed = 1; seed <= 240; seed++) {
    transitions += (await runAndReplay(makeFlow(seed), seed)).n;
  }
  assert.ok(transitions > 3000, `only ${transitions} transitions were compared`);
  // The random flows went through what this test is for.
  for (const [what, n] of Object.entries(seen)) {
    assert.ok(n >= 20, `only ${n} ${what}: ${JSON.stringify(seen)}`);
  }
});

Deno.test("toData() and fromData() round-trip every intermediate state without running anything", async () => {
  let states = 0;
  let withMaps = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const f = makeFlow(seed);
    const plan = f.plan();
    const list: RunStateData[] = [];
    const engine: Engine = new Engine({
      runId: "roundtrip",
      graph: f.graph,
      plan,
      channel: new MemoryChannel(),
      handlers: new Map([["direct", directHandler]]),
      placement: {},
      maxSteps: 200,
      clock: systemClock,
      record: () => list.push(engine.snapshot()),
      persistence: () => ({
        afterTask: () => Promise.resolve(),
        checkpointNow: () => Promise.reject(new Error("none")),
        requestFeedback: () => Promise.reject(new Error("none")),
      }),
    });
    await engine.begin(seed, false).catch(() => {});
    for (const [i, data] of list.entries()) {
      const copy = structuredClone(data);
      const state = RunState.fromData(copy, f.graph, plan, 200, plainPort);
      assert.deepStrictEqual(state.toData(), data, `seed ${seed}, state ${i}`);
      if (data.maps) withMaps++;
    }
    states += list.length;
  }
  assert.ok(states > 500 && withMaps > 20, `${states} states, ${withMaps} with maps`);
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
    message: /expected execution 2, got execution 1 of "rs_misfit_a"/,
  });
});

Deno.test("fromData() refuses a map whose finished items are not indices of its items", () => {
  const item = task("rs_restore_item", (x: number) => x);
  const f = flow`${map(item)}`;
  const data = (maps: RunStateData["maps"]): RunStateData => ({
    runId: "restore",
    steps: 0,
    results: {},
    completed: [],
    cycles: { rs_restore_item: 1 },
    output: undefined,
    pending: [],
    arrivals: {},
    groups: {},
    dynamic: [],
    trace: [],
    feedback: {},
    checkpoints: [],
    maps,
  });
  const map1 = (results: Record<string, unknown>, failed: Record<string, unknown> = {}) => ({
    rs_restore_item: {
      task: "rs_restore_item",
      node: "rs_restore_item",
      items: [1, 2],
      results,
      failed,
      cycle: 1,
    },
  });
  const ok = RunState.fromData(data(map1({ "1": 1 })), f.graph, f.plan(), 10, plainPort);
  assert.deepEqual(ok.toData().maps, map1({ "1": 1 }));
  for (
    const bad of [
      map1({ "2": 1 }),
      map1({ "x": 1 }),
      map1({ "01": 1 }),
      map1({ "0": 1 }, { "0": 1 }),
    ]
  ) {
    assert.throws(() => RunState.fromData(data(bad), f.graph, f.plan(), 10, plainPort), {
      message: /Cannot restore run: the map of "rs_restore_item" names item/,
    });
  }
});
