/**
 * Tasks of the distributed example: imported by the producer (examples/redis_distributed.ts)
 * and by every worker (`workers/main.ts --module examples/redis_tasks.ts`).
 *
 * @module
 */
import { task, type TaskContext } from "../mod.ts";

/** Makes the numbers to work on. */
export const fetchNumbers = task("fetch_numbers", (n: number) => {
  return Array.from({ length: n }, (_, i) => i + 1);
});

/** Sums the squares (and counts the work in the shared channel). */
export const squares = task("sum_squares", async (xs: number[], ctx: TaskContext) => {
  await ctx.channel.increment("items", xs.length);
  await ctx.channel.append("workers", `sum_squares@${Deno.pid}`);
  return xs.reduce((s, x) => s + x * x, 0);
});

/** Sums the cubes. */
export const cubes = task("sum_cubes", async (xs: number[], ctx: TaskContext) => {
  await ctx.channel.append("workers", `sum_cubes@${Deno.pid}`);
  return xs.reduce((s, x) => s + x ** 3, 0);
});

/** Joins both sums; reads an earlier result through `ctx.result`. */
export const report = task(
  "report",
  async (r: { sum_squares: number; sum_cubes: number }, ctx: TaskContext) => {
    const numbers = await ctx.result<number[]>("fetch_numbers");
    return { n: numbers?.length, ...r, ranOn: Deno.pid };
  },
);
