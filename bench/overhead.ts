// deno-lint-ignore-file no-console
/**
 * Per-task engine overhead of Graflow next to the floor (a bare loop of awaited async functions)
 * and LangGraph.js, measured side by side in this one process run, printed as a markdown table.
 *
 *     deno run -A bench/overhead.ts [--repeats 7] [--langgraph-cap 15] [--no-langgraph-10k]
 *
 * Every task is a no-op, so the figures are pure orchestration cost, garbage collection
 * included. Each figure is the median of several timed batches after warm-up runs, a batch being
 * back-to-back runs over at least 30 ms (a lone 1,000-task run is too short: whether a minor GC
 * falls inside it changes its time 5–20×). The first run of a flow also builds its scheduling
 * plan; that is not in the figures. LangGraph.js runs at 1,000 tasks, and once at 10,000 where
 * a run is stopped after `--langgraph-cap` seconds (a node throws; the table then shows the
 * lower bound "> x"). Progress goes to stderr, the table to stdout.
 *
 * @module
 */
import { flow } from "../mod.ts";
import {
  bareAwaitLoop,
  batchPerTask,
  chainText,
  DeadlineExceeded,
  graflowCase,
  langGraphCase,
  runGraflow,
  runLangGraph,
  type Shape,
  SHAPE_LABELS,
  SHAPES,
  template,
} from "./shapes.ts";

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(Deno.args[i + 1]);
  if (!(value > 0)) throw new RangeError(`Cannot run bench: --${name} needs a positive number`);
  return value;
}

const REPEATS = option("repeats", 7);
const LANGGRAPH_CAP_S = option("langgraph-cap", 15);
const LANGGRAPH_10K = !Deno.args.includes("--no-langgraph-10k");
const SIZES = [1_000, 10_000, 100_000];

const progress = (text: string) => console.error(text);

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "unknown";
  }
}
const loadBefore = loadAverage();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median µs per task of `repeats` timed calls after `warmup` untimed ones. */
async function perTask(
  run: () => Promise<number>,
  repeats: number,
  warmup: number,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const tasks = await run();
    samples.push((performance.now() - t0) * 1000 / tasks);
  }
  return median(samples);
}

/** A LangGraph.js figure: µs per task, or a lower bound when the run was stopped. */
interface Measured {
  us: number;
  lowerBound?: boolean;
}

// --- Graflow and the floor ----------------------------------------------------------------------

const floor: Record<number, number> = {};
const graflow: Record<Shape, Record<number, number>> = { chain: {}, fanout: {}, loop: {} };

// JIT warm-up: every shape a few times at a small size first.
for (const shape of SHAPES) {
  const c = graflowCase(shape, 1_000);
  for (let i = 0; i < 20; i++) await runGraflow(c);
}
for (let i = 0; i < 20; i++) await bareAwaitLoop(1_000);

for (const n of SIZES) {
  // Round-robin: one timed run of each shape (and of the floor) per round, so that load from
  // other processes hits every figure alike.
  const repeats = n >= 100_000 ? Math.max(3, Math.ceil(REPEATS / 2)) : REPEATS;
  const runs: [Shape | "floor", () => Promise<number>][] = [
    ["floor", () => bareAwaitLoop(n)],
    ...SHAPES.map((shape): [Shape, () => Promise<number>] => {
      const c = graflowCase(shape, n);
      return [shape, () => runGraflow(c)];
    }),
  ];
  const samples = new Map<string, number[]>(runs.map(([name]) => [name, []]));
  for (const [, run] of runs) for (let i = 0; i < 2; i++) await run(); // warm-up, plans built
  for (let r = 0; r < repeats; r++) {
    for (const [name, run] of runs) {
      samples.get(name)!.push(await batchPerTask(run));
    }
  }
  floor[n] = median(samples.get("floor")!);
  for (const shape of SHAPES) {
    graflow[shape][n] = median(samples.get(shape)!);
    progress(`graflow ${shape} ${n}: ${graflow[shape][n].toFixed(2)} µs/task`);
  }
}

// A flow's first run also builds its scheduling plan (cached on the flow for later runs).
const firstRun: Record<Shape, number> = { chain: 0, fanout: 0, loop: 0 };
for (const shape of SHAPES) {
  const c = graflowCase(shape, 10_000);
  const t0 = performance.now();
  await runGraflow(c);
  firstRun[shape] = (performance.now() - t0) * 1000 / c.tasks;
}

// --- parse time of a 1,000-node template ---------------------------------------------------------

const text1k = chainText(1_000);
const parseSamples: number[] = [];
for (let i = 0; i < 30; i++) {
  const strings = template(text1k); // a fresh array each time: never in the parse cache
  const t0 = performance.now();
  flow(strings);
  parseSamples.push(performance.now() - t0);
}
const parseMs = median(parseSamples.slice(10));

// --- LangGraph.js ----------------------------------------------------------------------------

const langgraph: Record<Shape, Record<number, Measured>> = { chain: {}, fanout: {}, loop: {} };
for (const shape of SHAPES) {
  const c = langGraphCase(shape, 1_000);
  langgraph[shape][1_000] = { us: await perTask(() => runLangGraph(c), 3, 1) };
  progress(`langgraph ${shape} 1000: ${langgraph[shape][1_000].us.toFixed(0)} µs/task`);
}
if (LANGGRAPH_10K) {
  for (const shape of SHAPES) {
    const n = 10_000;
    const built = performance.now();
    const c = langGraphCase(shape, n);
    const buildS = (performance.now() - built) / 1000;
    const t0 = performance.now();
    try {
      await runLangGraph(c, LANGGRAPH_CAP_S * 1000);
      langgraph[shape][n] = { us: (performance.now() - t0) * 1000 / c.tasks };
    } catch (error) {
      if (!(error instanceof DeadlineExceeded)) throw error;
      langgraph[shape][n] = { us: (performance.now() - t0) * 1000 / c.tasks, lowerBound: true };
    }
    const m = langgraph[shape][n];
    progress(
      `langgraph ${shape} ${n}: ${m.lowerBound ? ">" : ""}${m.us.toFixed(0)} µs/task` +
        ` (graph built in ${buildS.toFixed(1)} s)`,
    );
  }
}

// --- the table ---------------------------------------------------------------------------------

const fmt = (us: number) => (us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2));
const fmtLg = (m: Measured | undefined) =>
  m === undefined ? "not run" : `${m.lowerBound ? "> " : ""}${fmt(m.us)}`;
const ratio = (m: Measured | undefined, g: number) =>
  m === undefined
    ? "–"
    : `${m.lowerBound ? "> " : ""}${Math.round(m.us / g).toLocaleString("en-US")}×`;

const rows = [
  "| shape | Graflow 1k | Graflow 10k | Graflow 100k | LangGraph.js 1k | LangGraph.js 10k | LangGraph.js / Graflow (1k, 10k) |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const shape of SHAPES) {
  const g = graflow[shape];
  const l = langgraph[shape];
  rows.push(
    `| ${SHAPE_LABELS[shape]} | ${fmt(g[1_000])} | ${fmt(g[10_000])} | ${fmt(g[100_000])} | ` +
      `${fmtLg(l[1_000])} | ${fmtLg(l[10_000])} | ${ratio(l[1_000], g[1_000])}, ${
        ratio(l[10_000], g[10_000])
      } |`,
  );
}
rows.push(
  `| bare \`await\` loop (floor) | ${fmt(floor[1_000])} | ${fmt(floor[10_000])} | ${
    fmt(floor[100_000])
  } | | | |`,
);

const worst = Math.max(...SHAPES.flatMap((s) => SIZES.map((n) => graflow[s][n])));
const ratios = SHAPES.map((s) => langgraph[s][1_000].us / graflow[s][1_000]);
const cpu = (() => {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/)?.[1];
  } catch {
    return undefined;
  }
})();

const fewer = Math.max(3, Math.ceil(REPEATS / 2));
const goalTime = worst <= 2 ? "met" : "missed";
const goalRatio = Math.min(...ratios) >= 100 ? "met" : "missed";
const firstRuns = SHAPES.map((s) => `${SHAPE_LABELS[s]} ${fmt(firstRun[s])}`).join(", ");
const machine = `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ` +
  `${Deno.build.os}/${Deno.build.arch}${cpu ? `, ${cpu}` : ""}, ` +
  `${navigator.hardwareConcurrency} cores, load average ${loadBefore} before, ${loadAverage()} after`;

console.log(
  `µs per task, no-op tasks, lower is better. Graflow and floor: median of ${REPEATS} figures ` +
    `(${fewer} at 100k) after warm-up, each over ≥ 30 ms of back-to-back runs; LangGraph.js 1k: median of 3.\n`,
);
console.log(rows.join("\n"));
console.log(
  `\nParse + build of a 1,000-node template: ${parseMs.toFixed(2)} ms ` +
    `(${(parseMs * 1000 / 1_000).toFixed(1)} µs per node).`,
);
console.log(`First run of a newly built 10k flow (builds its plan too): ${firstRuns} µs per task.`);
console.log(
  `Goal ≤ 2 µs per task: ${goalTime} (worst Graflow figure ${fmt(worst)} µs). ` +
    `Goal ≥ 100× less overhead than LangGraph.js at 1k: ${goalRatio} ` +
    `(smallest ratio ${Math.round(Math.min(...ratios))}×).`,
);
console.log(
  `${machine}. LangGraph.js 10k: one run, stopped after ${LANGGRAPH_CAP_S} s ` +
    `("> x" is then a lower bound).`,
);
