// deno-lint-ignore-file no-console
/**
 * What recording a run costs: µs per task of a chain and a fan-out of no-op tasks with no store,
 * with `localRunStore()` (durability "process", the default, and "power"), measured side by side
 * in one process, alternating, median of the repeats.
 *
 *     deno run -A bench/store_bench.ts [--repeats 5] [--sizes 1000,10000]
 *
 * What is durable when: every transition is encoded at once and written in a batch at most
 * 10 ms later (one SQLite transaction per batch, WAL mode); `"process"` survives a killed process,
 * `"power"` also a power loss (an fsync per batch). A crash costs at most the last 10 ms of
 * transitions: those tasks run again when an orchestrator continues the run.
 *
 * @module
 */
import {
  type Flow,
  flow,
  localRunStore,
  parallel,
  registerFlow,
  type RunStore,
  task,
} from "../mod.ts";

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? fallback : Deno.args[i + 1];
}
const REPEATS = Number(option("repeats", "5"));
const SIZES = option("sizes", "1000,10000").split(",").map(Number);

const noop = (x: unknown) => x;
function shapes(n: number): Record<string, { flow: Flow; steps: number }> {
  const tasks = Array.from({ length: n }, (_, i) => task(`sb_${n}_${i}`, noop));
  const text = tasks.map((t) => t.name).join(" >> ");
  const chain = registerFlow(
    `sb_chain_${n}`,
    flow(Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray),
  );
  const src = task(`sb_src_${n}`, noop);
  const sink = task(`sb_sink_${n}`, noop);
  const fan = registerFlow(`sb_fan_${n}`, flow`${src} >> ${parallel(tasks)} >> ${sink}`);
  return { chain: { flow: chain, steps: n }, fanout: { flow: fan, steps: n + 2 } };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const dir = await Deno.makeTempDir({ prefix: "graflow_store_bench_" });
const stores: [string, RunStore | undefined][] = [
  ["no store", undefined],
  ["localRunStore", localRunStore({ dir: `${dir}/process` })],
  ['localRunStore "power"', localRunStore({ dir: `${dir}/power`, durability: "power" })],
];
console.log(
  `| shape | n | ${
    stores.map(([name]) => name + " µs/task").join(" | ")
  } | recording cost µs/task |`,
);
console.log(`| --- | ---: | ${stores.map(() => "---:").join(" | ")} | ---: |`);
try {
  for (const n of SIZES) {
    for (const [shape, c] of Object.entries(shapes(n))) {
      const times: number[][] = stores.map(() => []);
      for (let r = 0; r < REPEATS + 1; r++) {
        for (const [k, [, store]] of stores.entries()) {
          const t0 = performance.now();
          const result = await c.flow.run({
            input: 0,
            maxSteps: c.steps,
            ...(store ? { store } : {}),
          });
          const dt = performance.now() - t0;
          if (result.steps !== c.steps) throw new Error(`ran ${result.steps} of ${c.steps}`);
          if (r > 0) times[k].push((dt * 1000) / c.steps);
        }
      }
      const m = times.map(median);
      console.log(
        `| ${shape} | ${n} | ${m.map((x) => x.toFixed(2)).join(" | ")} | ${
          (m[1] - m[0]).toFixed(2)
        } |`,
      );
    }
  }
} finally {
  for (const [, store] of stores) await store?.close();
  await Deno.remove(dir, { recursive: true });
}
