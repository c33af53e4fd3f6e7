/**
 * A task on a Redis worker that throws or returns something hostile (a revoked Proxy, an error
 * whose getters throw, values that cannot be sent) fails with a clear error: the worker records
 * the outcome once, keeps running, and nothing is delivered again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow, task, TaskFailedError } from "../../mod.ts";
import { redisBackend } from "../../src/redis/mod.ts";
import { runWorker } from "../../src/worker/mod.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "./redis_helpers.ts";

function revoked(): object {
  const r = Proxy.revocable({}, {});
  r.revoke();
  return r.proxy;
}

class HostileError extends Error {
  override get message(): string {
    throw new Error("message getter refuses");
  }
}

const hostile: [string, () => unknown, RegExp][] = [
  ["sec_throw_revoked", () => {
    throw revoked();
  }, /cannot be (read|inspected).*revoked/],
  ["sec_throw_getter", () => {
    throw new HostileError();
  }, /message cannot be read/],
  ["sec_throw_getter_name", () => {
    const e = new Error("x");
    Object.defineProperty(e, "name", {
      get() {
        throw new Error("name getter refuses");
      },
    });
    throw e;
  }, /^x$|name, message or stack cannot be read/],
  ["sec_throw_cyclic_props", () => {
    const e = new Error("cyclic") as Error & { self?: unknown; big?: bigint };
    e.self = e;
    e.big = 10n;
    throw e;
  }, /cyclic/],
  ["sec_return_revoked", () => revoked(), /revoked/],
  ["sec_return_function", () => () => 1, /function/],
  ["sec_return_getter", () => ({
    get bad() {
      throw new Error("result getter refuses");
    },
  }), /result getter refuses/],
  ["sec_return_sparse", () => [1, , 3], /sparse/],
  ["sec_throw_symbol", () => {
    throw Symbol("thrown");
  }, /threw a non-Error value: "Symbol\(thrown\)"/],
];
const tasks = hostile.map(([name, fn]) => task(name, fn));
const fine = task("sec_fine_after", () => "still running");

Deno.test({
  name:
    "Hostile throws and results fail their run clearly; the worker survives, nothing is redelivered",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    const prefix = randomPrefix();
    const url = server.url();
    await using worker = await runWorker({ url, prefix, blockMs: 50, leaseMs: 500 });
    await using backend = redisBackend({ url, prefix });
    for (const [i, t] of tasks.entries()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hang = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("hangs"), 10_000);
      });
      const error = await Promise.race([flow`${t}`.run({ backend }).catch((e) => e), hang]);
      clearTimeout(timer);
      assert.ok(error instanceof TaskFailedError, `${t.name}: ${error}`);
      assert.match(
        String((error.cause as Error).message),
        hostile[i][2],
        `${t.name}: ${(error.cause as Error).message}`,
      );
    }
    assert.equal((await flow`${fine}`.run({ backend })).output, "still running");
    // Wait past a lease: nothing comes back.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(worker.metrics.processed, tasks.length + 1);
    assert.equal(worker.metrics.reclaims, 0);
    assert.equal(worker.metrics.deadLettered, 0);
  },
});
