// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { flow } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { RedisKeys } from "../../src/redis/keys.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_server.ts";
import { WorkerProcess } from "./workers.ts";
import * as T from "./fixtures/tasks.ts";

Deno.test({
  name: "Crash: 1,000 tasks on 3 workers, one SIGKILLed every 200 ms, every result exactly once",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const keys = new RedisKeys(prefix);
    const args = [
      "--redis",
      server.url(),
      "--prefix",
      prefix,
      "--module",
      T.TASKS_URL,
      "--lease-ms",
      "1000",
      "--concurrency",
      "20",
      "--max-deliveries",
      "1000",
    ];
    const workers = [0, 1, 2].map(() => new WorkerProcess(args));
    await Promise.all(workers.map((w) => w.started()));
    await using backend = redisBackend({ url: server.url(), prefix, pollMs: 200 });
    let settled = false;
    const run = flow`${T.manyGroup} >> ${T.manyDone}`.run({ backend }).finally(() => {
      settled = true;
    });
    let kills = 0;
    const t0 = performance.now();
    try {
      while (!settled && performance.now() - t0 < 90_000) {
        await new Promise((r) => setTimeout(r, 200));
        if (settled) break;
        // A random worker among those that are up (a kill during start-up tests nothing).
        const up = workers.map((w, i) => (w.isStarted ? i : -1)).filter((i) => i >= 0);
        if (!up.length) continue;
        const i = up[Math.floor(Math.random() * up.length)];
        workers[i].signal("SIGKILL");
        await workers[i].exited;
        kills++;
        workers[i] = new WorkerProcess(args);
      }
      const result = await run;
      assert.equal(result.status, "completed");
      assert.equal(result.output, 1000);
      const group = result.results.r_many as Record<string, number>;
      for (let i = 0; i < 1000; i++) assert.equal(group[`r_many_${i}`], i);
      const counts = new Map<string, number>();
      for (const id of result.completed) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (let i = 0; i < 1000; i++) assert.equal(counts.get(`r_many_${i}`), 1, `r_many_${i}`);
      assert.ok(kills >= 5, `only ${kills} kills`);
      // Some tasks ran more than once (their worker died before it acknowledged); each result
      // still counts once. Nothing is left waiting or in the pending entries list.
      const redis = new Redis(server.url());
      try {
        assert.equal((await redis.xpending(keys.queue(), "graflow"))[0], 0);
        assert.equal(await redis.xlen(keys.queue()), 0);
        assert.equal(await redis.xlen(keys.dead()), 0);
        let reruns = 0;
        for (let i = 0; i < 1000; i++) {
          const n = await result.channel.get<number>(`ran_${i}`);
          assert.ok(n !== undefined && n >= 1, `ran_${i}`);
          reruns += n - 1;
        }
        assert.ok(reruns >= 1, "no task was cut short by a kill");
        console.log(
          `crash test: ${kills} kills, ${reruns} re-runs, ${Math.round(performance.now() - t0)} ms`,
        );
      } finally {
        redis.disconnect();
      }
    } finally {
      for (const w of workers) w.signal("SIGKILL");
      await Promise.all(workers.map((w) => w.exited));
    }
  },
});
