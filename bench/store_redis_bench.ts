// deno-lint-ignore-file no-console
/**
 * Recording runs on the Redis backend: throughput with no store, with `redisRunStore` and with
 * `localRunStore`, on one redis-server and 2 worker processes, interleaved, median of the
 * repeats, and the ratio to no store (goal ≥ 0.8). Two shapes: runs of one no-op task (the
 * worst case: recording is per run) and runs of a 100-member fan-out.
 *
 *     deno run -A bench/store_redis_bench.ts [--runs 400] [--repeats 5] [--concurrency 50]
 *
 * @module
 */
import { flow, localRunStore, parallel, registerFlow, type RunStore } from "../mod.ts";
import { redisBackend, redisRunStore } from "../src/redis/mod.ts";
import { RedisServer } from "../tests/redis/redis_server.ts";
import * as B from "./redis_tasks.ts";

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const RUNS = option("runs", 400);
const REPEATS = option("repeats", 5);
const CONCURRENCY = option("concurrency", 50);
const MAIN = new URL("../workers/main.ts", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

await using server = await RedisServer.start();
const prefix = `bench-${crypto.randomUUID().slice(0, 6)}`;
const workers = [0, 1].map(() =>
  new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN,
      "--redis",
      server.url(),
      "--prefix",
      prefix,
      "--module",
      B.TASKS_URL,
      "--concurrency",
      String(CONCURRENCY),
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn()
);
const dir = await Deno.makeTempDir({ prefix: "graflow_store_redis_bench_" });
const stores: [string, RunStore | undefined][] = [
  ["no store", undefined],
  ["redisRunStore", redisRunStore({ url: server.url(), prefix: `${prefix}-store` })],
  ["localRunStore", localRunStore({ dir })],
];
await using backend = redisBackend({ url: server.url(), prefix, pollMs: 200 });
const shapes = [
  {
    name: "1 task per run",
    flow: registerFlow("bench_store_one", flow`${B.noop}`),
    runs: RUNS,
    tasks: 1,
  },
  {
    name: "100-task fan-out",
    flow: registerFlow("bench_store_fan", flow`${parallel(B.members)}`),
    runs: Math.max(4, Math.round(RUNS / 25)),
    tasks: 100,
  },
];
try {
  await shapes[0].flow.run({ backend }); // workers up
  console.log("| shape | store | tasks/s (median) | ratio to no store |");
  console.log("| --- | --- | ---: | ---: |");
  for (const shape of shapes) {
    const times: number[][] = stores.map(() => []);
    for (let r = 0; r < REPEATS + 1; r++) {
      for (const [k, [, store]] of stores.entries()) {
        const t0 = performance.now();
        for (let done = 0; done < shape.runs; done += 100) {
          await Promise.all(
            Array.from(
              { length: Math.min(100, shape.runs - done) },
              () => shape.flow.run({ backend, ...(store ? { store } : {}) }),
            ),
          );
        }
        const dt = performance.now() - t0;
        if (r > 0) times[k].push((shape.runs * shape.tasks) / (dt / 1000));
      }
    }
    const m = times.map(median);
    for (const [k, [name]] of stores.entries()) {
      console.log(`| ${shape.name} | ${name} | ${m[k].toFixed(0)} | ${(m[k] / m[0]).toFixed(2)} |`);
    }
  }
} finally {
  for (const [, store] of stores) await store?.close();
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.status));
  await Deno.remove(dir, { recursive: true });
}
