// deno-lint-ignore-file no-console
/**
 * Per-task engine overhead of this checkout next to another checkout of Graflow (e.g. the
 * commit before a change), side by side in one process: both copies of the engine run the
 * same shapes (chain, fan-out, loop of no-op tasks) at 1k/10k/100k tasks, alternating, and the
 * table gives the median µs per task of each and their ratio.
 *
 *     git worktree add --detach /tmp/base <commit>
 *     deno run -A bench/overhead_compare.ts /tmp/base [--repeats 9] [--sizes 1000,10000,100000] [--cpu]
 *
 * `--cpu` measures the CPU time of this process (user + system) per task instead of wall time
 * (the kernel counts it in ticks: use it with runs of 10,000 tasks or more). `--min` reports the
 * fastest run of each side instead of the median: on a machine that other processes keep busy,
 * interference only adds time, so the minimum is the steadier comparison.
 *
 * @module
 */
import process from "node:process";
import * as current from "../mod.ts";
import { batchPerTask } from "./shapes.ts";

type Mod = typeof current;
type Shape = "chain" | "fanout" | "loop";

const dir = Deno.args.find((a) => !a.startsWith("--"));
if (!dir) {
  console.error("usage: deno run -A bench/overhead_compare.ts <other checkout> [--repeats n]");
  Deno.exit(2);
}
function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? fallback : Deno.args[i + 1];
}
const REPEATS = Number(option("repeats", "9"));
const SIZES = option("sizes", "1000,10000,100000").split(",").map(Number);
const CPU = Deno.args.includes("--cpu");
const MIN = Deno.args.includes("--min");
/** Microseconds: CPU time of this process (user + system), or wall time. */
const clock = CPU
  ? () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  : () => performance.now() * 1000;
const other: Mod = await import(new URL(`file://${await Deno.realPath(dir)}/mod.ts`).href);

/** A flow of `shape` with `n` tasks on engine `m`, and its run options. */
function build(m: Mod, shape: Shape, n: number) {
  const noop = (x: unknown) => x;
  const tasks = Array.from({ length: n }, (_, i) => m.task(`cmp_${shape}_${n}_${i}`, noop));
  const text = (s: string) => Object.assign([s], { raw: [s] }) as unknown as TemplateStringsArray;
  switch (shape) {
    case "chain":
      return { flow: m.flow(text(tasks.map((t) => t.name).join(" >> "))), input: 0, steps: n };
    case "fanout": {
      const a = m.task(`cmp_src_${n}`, noop);
      const z = m.task(`cmp_sink_${n}`, noop);
      return {
        flow: m.flow`${a} >> ${m.parallel(tasks, { name: `cmp_fan_${n}` })} >> ${z}`,
        input: 0,
        steps: n + 2,
      };
    }
    case "loop": {
      const step = m.task(`cmp_loop_${n}`, (k: number, ctx: current.TaskContext) => {
        if (ctx.cycle < k) ctx.nextIteration(k);
        return k;
      }, { maxCycles: 10_000_000 });
      return { flow: m.flow`${step}`, input: n, steps: n };
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const unit = CPU ? "CPU µs/task" : "µs/task";
console.log(`| shape | n | this checkout ${unit} | ${dir} ${unit} | ratio |`);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const shape of ["chain", "fanout", "loop"] as Shape[]) {
  for (const n of SIZES) {
    const cases = [build(current, shape, n), build(other, shape, n)];
    const times: number[][] = [[], []];
    for (let r = 0; r < REPEATS + 2; r++) {
      for (const k of r % 2 ? [1, 0] : [0, 1]) {
        const c = cases[k];
        // Wall time: a batch of back-to-back runs over ≥ 30 ms (see batchPerTask). CPU time:
        // one run.
        const us = await batchPerTask(
          async () => {
            const result = await c.flow.run({ input: c.input, maxSteps: c.steps });
            if (result.steps !== c.steps) {
              throw new Error(`ran ${result.steps}, expected ${c.steps}`);
            }
            return result.steps;
          },
          CPU ? 0 : 30,
          clock,
        );
        if (r >= 2) times[k].push(us); // two warm-up rounds
      }
    }
    const [a, b] = times.map(MIN ? (xs: number[]) => Math.min(...xs) : median);
    console.log(`| ${shape} | ${n} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)} |`);
  }
}
