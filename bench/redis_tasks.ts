/**
 * Tasks of the Redis benchmarks (imported by the benchmark and by its worker processes).
 *
 * @module
 */
import { task, type TaskContext } from "../mod.ts";

/** A no-op task. */
export const noop = task("bench_noop", () => null);
/** The latency flow: `bench_fetch >> (bench_a | bench_b) >> bench_merge`. */
export const fetch = task("bench_fetch", (n: number) => n);
/** Member of the group. */
export const a = task("bench_a", (n: number) => n + 1);
/** Member of the group. */
export const b = task("bench_b", (n: number) => n * 2);
/** The join. */
export const merge = task(
  "bench_merge",
  (r: { bench_a: number; bench_b: number }) => r.bench_a + r.bench_b,
);
/** Notes when it started (in the channel) and runs for `ms`. */
export const hold = task("bench_hold", async (ms: number, ctx: TaskContext) => {
  await ctx.channel.append("starts", { at: Date.now(), pid: Deno.pid });
  await new Promise((r) => setTimeout(r, ms));
  return Deno.pid;
});
/** URL of this module, for `--module`. */
export const TASKS_URL: string = import.meta.url;
/** 100 no-op tasks to make a group of distinct members (`bench_m0` … `bench_m99`). */
export const members = Array.from({ length: 100 }, (_, i) => task(`bench_m${i}`, () => i));
