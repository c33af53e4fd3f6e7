// deno-lint-ignore-file no-console
/**
 * The tasks of `docker_multi_image.ts` (run that file; this one only defines tasks). Containers
 * import this module to find their task by name, so it imports only graflow's core: the image
 * has neither network nor a package cache.
 *
 * @module
 */
import { task, type TaskContext } from "../mod.ts";

/** Where a task ran, as it sees it. */
export interface Place {
  handler: string;
  role: string;
  uid: number;
  network: string[];
}

function place(): Place {
  return {
    handler: Deno.env.get("GRAFLOW_HANDLER") ?? "(host)",
    role: Deno.env.get("GRAFLOW_IMAGE_ROLE") ?? "(none)",
    uid: Deno.uid() ?? -1,
    network: [...new Set(Deno.networkInterfaces().map((i) => i.name))],
  };
}

/** Host: makes the numbers. */
export const prepare = task(
  "mi_prepare",
  (n: number) => Array.from({ length: n }, (_, i) => ((i * 7919) % 1000 + (i * 104729) % 997) >> 1),
);

/** Image A: summary statistics. */
export const stats = task("mi_stats", async (xs: number[], ctx: TaskContext) => {
  await ctx.channel.increment("containers");
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, min: Math.min(...xs), max: Math.max(...xs), where: place() };
}, { handler: "analysis" });

/** Image A: a histogram in ten buckets. */
export const histogram = task("mi_histogram", async (xs: number[], ctx: TaskContext) => {
  await ctx.channel.increment("containers");
  const buckets = new Array(10).fill(0);
  for (const x of xs) buckets[Math.floor(x / 100)]++;
  return { buckets, where: place() };
}, { handler: "analysis" });

type Stats = { mean: number; min: number; max: number; where: Place };
type Histogram = { buckets: number[]; where: Place };

/** Image B: the report, from both results. */
export const report = task(
  "mi_report",
  async (r: { mi_stats: Stats; mi_histogram: Histogram }, ctx: TaskContext) => {
    await ctx.channel.increment("containers");
    const bars = r.mi_histogram.buckets.map((n, i) =>
      `  ${String(i * 100).padStart(3)}-${String(i * 100 + 99).padStart(3)} ${"#".repeat(n / 5)}`
    );
    return {
      text: [
        `mean ${r.mi_stats.mean.toFixed(1)}, range ${r.mi_stats.min}..${r.mi_stats.max}`,
        ...bars,
      ]
        .join("\n"),
      where: { stats: r.mi_stats.where, histogram: r.mi_histogram.where, report: place() },
    };
  },
  { handler: "reporting" },
);

/** Host: prints. */
export const publish = task("mi_publish", (r: { text: string; where: Record<string, Place> }) => {
  console.log(r.text);
  return r.where;
});
