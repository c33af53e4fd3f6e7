import assert from "assert";
import { NO_REDIS, RedisServer } from "./redis_server.ts";

Deno.test({
  name: "examples/redis_distributed.ts runs its flow on two worker processes through Redis",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../examples/redis_distributed.ts", import.meta.url).pathname],
      env: { REDIS_URL: server.url(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    // 1² + … + 100² and 1³ + … + 100³, computed in the workers, joined in `report`.
    assert.match(stdout, /sum_squares: 338350, sum_cubes: 25502500/);
    assert.match(stdout, /items counted in the Redis channel: 100/);
    const pids = stdout.match(/producer pid (\d+); worker pids (\d+), (\d+)/);
    assert.ok(pids, stdout);
    const ran = [...stdout.matchAll(/sum_\w+@(\d+)/g)].map((m) => m[1]);
    assert.equal(ran.length, 2);
    for (const pid of ran) {
      assert.notEqual(pid, pids![1], "a task ran in the producer instead of a worker");
      assert.ok([pids![2], pids![3]].includes(pid), `ran on ${pid}, not a worker`);
    }
  },
});
