// deno-lint-ignore-file no-console
/**
 * Per-item overhead of a map node in-process, next to a plain parallel group of the same size
 * (`source >> (n members) >> sink`) and to LangGraph.js `Send` (a conditional edge that sends
 * one `Send` per item to a node, results gathered by a reducer), measured side by side in this
 * one process run, printed as a markdown table.
 *
 *     deno run -A bench/map_bench.ts [--repeats 7] [--langgraph-cap 15]
 *
 * Items are no-ops, so the figures are pure orchestration cost: whole-run time divided by the
 * number of items, median of several timed runs after warm-up runs. LangGraph.js: median of
 * 3 runs at 1k, one run each at 10k and 100k, stopped after `--langgraph-cap` seconds (the
 * table then shows a lower bound "> x"). Progress goes to stderr, the table to stdout.
 *
 * @module
 */
import { type Flow, flow, map, task } from "../mod.ts";
import { graflowCase, runGraflow } from "./shapes.ts";

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(Deno.args[i + 1]);
  if (!(value > 0)) throw new RangeError(`Cannot run bench: --${name} needs a positive number`);
  return value;
}

const REPEATS = option("repeats", 7);
const LANGGRAPH_CAP_S = option("langgraph-cap", 15);
const SIZES = [1_000, 10_000, 100_000];
const progress = (text: string) => console.error(text);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// --- Graflow: a map node, and a plain group ----------------------------------------------------

const MODULE = import.meta.url;
const source = task("mapb_source", (n: number) => Array.from({ length: n }, (_, i) => i), {
  module: MODULE,
});
const item = task("mapb_item", (x: number) => x, { module: MODULE });
const sink = task("mapb_sink", (xs: number[]) => xs.length, { module: MODULE });
const mapFlow: Flow = flow`${source} >> ${map(item)} >> ${sink}`;

async function runMap(n: number): Promise<number> {
  const r = await mapFlow.run({ input: n });
  if (r.output !== n) throw new Error(`the map returned ${r.output} results, expected ${n}`);
  return n;
}

// --- LangGraph.js: Send, in a Web Worker that is terminated at the cap --------------------------

/** µs per item of LangGraph.js `Send` over n items, or a lower bound when it passed the cap. */
function runSend(n: number, runs: number, capMs: number): Promise<Figure> {
  const worker = new Worker(new URL("./send_worker.ts", import.meta.url), { type: "module" });
  const started = performance.now();
  return new Promise<Figure>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      resolve({ us: (performance.now() - started) * 1000 / n, lowerBound: true });
    }, capMs);
    worker.onmessage = (e: MessageEvent<{ us?: number; error?: string }>) => {
      clearTimeout(timer);
      worker.terminate();
      if (e.data.error) reject(new Error(e.data.error));
      else resolve({ us: e.data.us! });
    };
    worker.postMessage({ n, runs });
  });
}

// --- measuring ---------------------------------------------------------------------------------

/** µs per item of each runner, measured round-robin at size n. */
async function measure(
  n: number,
  runners: [string, () => Promise<number>][],
  repeats: number,
): Promise<Record<string, number>> {
  // Warm-up in the same round-robin (each runner's code paths settle after the other's).
  const warmup = Math.max(2, Math.round(20_000 / n));
  for (let i = 0; i < warmup; i++) for (const [, run] of runners) await run();
  const samples = new Map<string, number[]>(runners.map(([name]) => [name, []]));
  for (let r = 0; r < repeats; r++) {
    for (const [name, run] of runners) {
      const t0 = performance.now();
      const items = await run();
      samples.get(name)!.push((performance.now() - t0) * 1000 / items);
    }
  }
  return Object.fromEntries(runners.map(([name]) => [name, median(samples.get(name)!)]));
}

// JIT warm-up at a small size.
for (let i = 0; i < 30; i++) await runMap(1_000);
const warmGroup = graflowCase("fanout", 1_000);
for (let i = 0; i < 10; i++) await runGraflow(warmGroup);

/** A figure: µs per item, or a lower bound when the run was stopped. */
interface Figure {
  us: number;
  lowerBound?: boolean;
}

const figures: Record<string, Record<number, Figure>> = {
  map: {},
  group: {},
  send: {},
};
for (const n of SIZES) {
  const group = graflowCase("fanout", n);
  const runners: [string, () => Promise<number>][] = [
    ["map", () => runMap(n)],
    ["group", async () => (await runGraflow(group), n)],
  ];
  const repeats = n >= 100_000
    ? Math.max(3, Math.ceil(REPEATS / 2))
    : n <= 1_000
    ? REPEATS * 3
    : REPEATS;
  const m = await measure(n, runners, repeats);
  for (const [name, us] of Object.entries(m)) {
    figures[name][n] = { us };
    progress(`${name} ${n}: ${us.toFixed(2)} µs/item`);
  }
}
// LangGraph.js: median of 3 runs at 1k; one run at 10k and 100k; stopped at the cap.
for (const n of SIZES) {
  const previous = figures.send[n / 10];
  if (previous?.lowerBound) break; // ten times more items would not finish either
  figures.send[n] = await runSend(n, n === 1_000 ? 3 : 1, LANGGRAPH_CAP_S * 1000);
  const f = figures.send[n];
  progress(`send ${n}: ${f.lowerBound ? ">" : ""}${f.us.toFixed(1)} µs/item`);
}

// --- the table ---------------------------------------------------------------------------------

const fmt = (f: Figure | undefined) =>
  f === undefined
    ? "not run"
    : `${f.lowerBound ? "> " : ""}${
      f.us >= 100 ? f.us.toFixed(0) : f.us >= 10 ? f.us.toFixed(1) : f.us.toFixed(2)
    }`;
const LABELS: Record<string, string> = {
  map: "Graflow `map(task)`",
  group: "Graflow `parallel()` of n members",
  send: "LangGraph.js `Send` × n",
};
const rows = [
  "| µs per item | 1k | 10k | 100k |",
  "| --- | ---: | ---: | ---: |",
  ...Object.keys(LABELS).map((k) =>
    `| ${LABELS[k]} | ${SIZES.map((n) => fmt(figures[k][n])).join(" | ")} |`
  ),
];
const worst = Math.max(...SIZES.map((n) => figures.map[n].us));
const growth = figures.map[100_000].us / figures.map[1_000].us;
console.log(
  `No-op items, whole-run time / items, lower is better; Graflow: median of ${REPEATS} runs ` +
    `(${REPEATS * 3} at 1k, fewer at 100k) after warm-up, round-robin; LangGraph.js 1k: median ` +
    `of 3.\n`,
);
console.log(rows.join("\n"));
console.log(
  `\nGoal ≤ 2 µs per item: ${worst <= 2 ? "met" : "missed"} (worst map figure ${
    worst.toFixed(2)
  } µs; 100k / 1k = ${growth.toFixed(2)}). Deno ${Deno.version.deno}, ` +
    `${navigator.hardwareConcurrency} cores. LangGraph.js 10k and 100k: one run, in a Web ` +
    `Worker terminated after ${LANGGRAPH_CAP_S} s ("> x" is then a lower bound; "not run" when ` +
    `the smaller size already passed the cap).`,
);
