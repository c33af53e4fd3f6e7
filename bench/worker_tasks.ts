/**
 * Tasks for `bench/workers.ts`. Web Workers import this module to find them by name, so it only
 * defines tasks.
 *
 * @module
 */
import { type Task, task } from "../mod.ts";

/**
 * A fixed amount of CPU work (no timers, no clock): `rounds` rounds of an integer hash.
 *
 * @param rounds How much work.
 * @returns A checksum (so the work cannot be optimised away).
 */
export function work(rounds: number): number {
  let h = 2166136261;
  for (let i = 0; i < rounds; i++) {
    h ^= i & 0xff;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

/** Eight CPU-bound tasks: input is the number of rounds. */
export const cpuTasks: Task<number, number>[] = Array.from(
  { length: 8 },
  (_, i) => task(`bench_cpu_${i}`, (rounds: number) => work(rounds), { module: import.meta.url }),
);

/** No-op tasks for the dispatch figures. */
export const noops: Task<unknown, null>[] = Array.from(
  { length: 10_000 },
  (_, i) => task(`bench_noop_${i}`, () => null, { module: import.meta.url }),
);

/** Small tasks for the memory figure: a little input and output each. */
export const smalls: Task<number, { i: number; square: number }>[] = Array.from(
  { length: 10_000 },
  (_, i) =>
    task(`bench_small_${i}`, (n: number) => ({ i, square: (n + i) * (n + i) }), {
      module: import.meta.url,
    }),
);
