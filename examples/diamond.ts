// deno-lint-ignore-file no-console
/**
 * A diamond: one task fans out to two, and a fourth joins them.
 *
 *          fetch
 *         /     \
 *     stats    histogram
 *         \     /
 *          report
 *
 * Written two ways: as a parallel group (`fetch >> (stats | histogram) >> report`, a barrier
 * after the group) and as two statements sharing nodes by name (a plain join). Either way
 * `report` runs once, after both branches, and receives `{ stats, histogram }`. Run it with:
 *
 *     deno run -A examples/diamond.ts
 *
 * @module
 */
import { flow, task } from "../mod.ts";

const fetch = task("fetch", (n: number) => Array.from({ length: n }, (_, i) => (i * 37) % 101));

const stats = task("stats", async (xs: number[]) => {
  await new Promise((r) => setTimeout(r, 20)); // the two branches overlap in time
  const sum = xs.reduce((a, b) => a + b, 0);
  return { count: xs.length, mean: sum / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
});

const histogram = task("histogram", async (xs: number[]) => {
  await new Promise((r) => setTimeout(r, 20));
  const buckets = [0, 0, 0, 0];
  for (const x of xs) buckets[Math.min(3, Math.floor(x / 25))]++;
  return buckets;
});

type Stats = { count: number; mean: number; min: number; max: number };

const report = task("report", (inputs: { stats: Stats; histogram: number[] }) => {
  const { stats: s, histogram: h } = inputs;
  console.log(`  report received keys: ${Object.keys(inputs).join(", ")}`);
  return `${s.count} values, mean ${s.mean.toFixed(1)}, range ${s.min}..${s.max}, ` +
    `quartile counts ${h.join("/")}`;
});

// 1. A parallel group: `|` inside parentheses, with interpolated Task objects.
const grouped = flow`${fetch} >> (${stats} | ${histogram}) >> ${report}`;

// 2. Two statements (lines) that share nodes by name: `report` joins `stats` and `histogram`.
const joined = flow`
  fetch >> stats >> report
  fetch >> histogram >> report
`;

for (const [label, f] of [["parallel group", grouped], ["two statements", joined]] as const) {
  console.log(`== ${label} ==`);
  console.log(f.toAscii());
  const t0 = performance.now();
  const result = await f.run({ input: 1000 });
  const ms = performance.now() - t0;
  console.log(`completed: ${result.completed.join(" -> ")} (${ms.toFixed(0)} ms)`);
  console.log(`output: ${result.output}\n`);
}

console.log("Mermaid source of the two-statement diamond:");
console.log(joined.toMermaid());
