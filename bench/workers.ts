// deno-lint-ignore-file no-console
/**
 * Web Worker pool figures, measured side by side in one process:
 *
 * 1. 8 CPU-bound tasks of ~200 ms each in a parallel group: in-process vs on the pool.
 * 2. Dispatch overhead per no-op task: a group of 5,000 no-op tasks in-process vs on the pool
 *    (with and without sending short tasks ahead), and one task at a time (round-trip latency).
 * 3. 10,000 small tasks through the pool, three times: memory before and after.
 *
 * Each timing is the best of several runs, in-process and pool runs alternating, so that other
 * processes on a shared machine disturb the comparison as little as possible; the load average
 * is printed with the table. Run with (the gc flag lets memory be measured after a collection):
 *
 *     deno run -A --v8-flags=--expose-gc bench/workers.ts
 *
 * @module
 */
import { flow, parallel, WorkerPool } from "../mod.ts";
import { cpuTasks, noops, smalls, work } from "./worker_tasks.ts";

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const us = (ms: number, n: number) => `${(ms * 1000 / n).toFixed(1)} µs`;
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Best time of `times` rounds; in each round every function runs once, in turn. */
async function bestOf(times: number, fns: (() => Promise<unknown>)[]): Promise<number[]> {
  const best = fns.map(() => Infinity);
  for (let i = 0; i < times; i++) {
    for (let k = 0; k < fns.length; k++) best[k] = Math.min(best[k], await time(fns[k]));
  }
  return best;
}

const loadBefore = load();
const size = navigator.hardwareConcurrency;

// 1. CPU-bound: calibrate the work so that one task takes ~200 ms on the main thread.
let rounds = 1_000_000;
for (let i = 0; i < 4; i++) {
  const t = await time(async () => work(rounds));
  rounds = Math.round(rounds * 200 / Math.max(t, 1));
}
const [one] = await bestOf(3, [async () => work(rounds)]);
await using pool = new WorkerPool({ size });
const handlers = { worker: pool };
const cpuInline = flow`${parallel(cpuTasks, { executor: "inline" })}`;
const cpuPool = flow`${parallel(cpuTasks, { executor: "workers" })}`;
const cold = await time(() => cpuPool.run({ input: rounds, handlers }));
const [cpuI, cpuO] = await bestOf(5, [
  () => cpuInline.run({ input: rounds }),
  () => cpuPool.run({ input: rounds, handlers }),
]);

// 2. Dispatch: 5,000 no-op tasks in one group.
const N = 5_000;
await using single = new WorkerPool({ size, prefetch: 0 });
const noopInline = flow`${parallel(noops.slice(0, N), { executor: "inline" })}`;
const noopPool = flow`${parallel(noops.slice(0, N), { executor: "workers" })}`;
for (const p of [pool, single]) await noopPool.run({ handlers: { worker: p } }); // warm up
const [noopIn, noopOut, noopSingle] = await bestOf(5, [
  () => noopInline.run(),
  () => noopPool.run({ handlers }),
  () => noopPool.run({ handlers: { worker: single } }),
]);
// One task at a time: 500 runs of a one-task group, each awaited before the next.
const R = 500;
const oneInline = flow`${parallel([noops[0]], { executor: "inline" })}`;
const onePool = flow`${parallel([noops[0]], { executor: "workers" })}`;
const [seqIn, seqOut] = await bestOf(3, [
  async () => {
    for (let i = 0; i < R; i++) await oneInline.run();
  },
  async () => {
    for (let i = 0; i < R; i++) await onePool.run({ handlers });
  },
]);

// 3. Memory: 10,000 small tasks through the pool, three times.
const smallPool = flow`${parallel(smalls, { executor: "workers" })}`;
gc();
const before = Deno.memoryUsage();
const memTimes: number[] = [];
const after: Deno.MemoryUsage[] = [];
for (let i = 0; i < 3; i++) {
  memTimes.push(await time(() => smallPool.run({ input: i, handlers })));
  gc();
  after.push(Deno.memoryUsage());
}

console.log(
  `Deno ${Deno.version.deno}, ${size} cores, pool size ${size}; load average ${loadBefore} before, ${load()} after`,
);
console.log();
console.log("| figure | in-process | worker pool | result |");
console.log("| --- | ---: | ---: | --- |");
console.log(
  `| 8 CPU-bound tasks (~${one.toFixed(0)} ms each) in one group, wall time | ${
    cpuI.toFixed(0)
  } ms | ${cpuO.toFixed(0)} ms | **${
    (cpuI / cpuO).toFixed(2)
  }× faster** (first run, starting workers: ${cold.toFixed(0)} ms) |`,
);
console.log(
  `| ${N} no-op tasks in one group, per task | ${us(noopIn, N)} | ${us(noopOut, N)} (${
    us(noopSingle, N)
  } with \`prefetch: 0\`) | **dispatch overhead ${us(noopOut - noopIn, N)} per task** (${
    us(noopSingle - noopIn, N)
  } one at a time per worker) |`,
);
console.log(
  `| one no-op task at a time (a run each, ${R}×), per task | ${us(seqIn, R)} | ${
    us(seqOut, R)
  } | round-trip latency ${us(seqOut - seqIn, R)} |`,
);
console.log(
  `| 10,000 small tasks through the pool, 3 runs | — | ${
    memTimes.map((t) => t.toFixed(0)).join(" / ")
  } ms | RSS ${mib(before.rss)} → ${after.map((m) => mib(m.rss)).join(" → ")}; heap ${
    mib(before.heapUsed)
  } → ${after.map((m) => mib(m.heapUsed)).join(" → ")} |`,
);
