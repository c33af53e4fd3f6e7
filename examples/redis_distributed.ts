// deno-lint-ignore-file no-console
/**
 * A flow whose tasks run on two worker processes through Redis.
 *
 *     deno run -A examples/redis_distributed.ts                # starts its own redis-server
 *     REDIS_URL=redis://127.0.0.1:6379 deno run -A examples/redis_distributed.ts
 *
 * The producer (this process) runs `fetch_numbers >> (sum_squares | sum_cubes) >> report` with
 * `redisBackend`; the tasks run in the workers (`workers/main.ts --module
 * examples/redis_tasks.ts`); the run's channel lives in Redis, shared by all of them.
 *
 * @module
 */
import { flow } from "../mod.ts";
import { redisBackend } from "../src/redis/mod.ts";
import { cubes, fetchNumbers, report, squares } from "./redis_tasks.ts";

const TASKS = new URL("./redis_tasks.ts", import.meta.url).href;
const MAIN = new URL("../workers/main.ts", import.meta.url).pathname;

async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = Deno.env.get("REDIS_URL");
  if (given) return { url: given, stop: async () => {} };
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

const redis = await startRedis();
const prefix = `example-${crypto.randomUUID().slice(0, 8)}`;
const workers = [1, 2].map(() =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--redis", redis.url, "--prefix", prefix, "--module", TASKS],
    stdout: "null",
  }).spawn()
);
try {
  await using backend = redisBackend({ url: redis.url, prefix });
  const result = await flow`${fetchNumbers} >> (${squares} | ${cubes}) >> ${report}`.run({
    backend,
    input: 100,
  });
  console.log("output:", result.output);
  console.log("items counted in the Redis channel:", await result.channel.get("items"));
  console.log("who ran what:", await result.channel.get("workers"));
  console.log(`producer pid ${Deno.pid}; worker pids ${workers.map((w) => w.pid).join(", ")}`);
} finally {
  for (const w of workers) w.kill("SIGTERM"); // graceful: they finish and exit 0
  await Promise.all(workers.map((w) => w.status));
  await redis.stop();
}
