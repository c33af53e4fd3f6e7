/**
 * Without a secret nothing that crosses Redis is authenticated, so producers, workers and
 * feedback stores refuse to start against a Redis that is not on this machine, unless told
 * `insecure: true`; they warn whenever messages are not authenticated. The worker's metrics
 * server listens on 127.0.0.1 unless told otherwise.
 *
 * @module
 */
import assert from "node:assert/strict";
import { flow } from "../../mod.ts";
import { redisBackend, type RedisBackendEvent, RedisFeedbackStore } from "../../src/redis/mod.ts";
import { runWorker, type WorkerEvent } from "../../src/worker/mod.ts";
import * as T from "../redis/fixtures/tasks.ts";
import { externalAddress, NO_REDIS, RedisServer } from "./redis_helpers.ts";
import { randomPrefix } from "../redis/redis_server.ts";

const EXTERNAL = externalAddress();
const MAIN = new URL("../../workers/main.ts", import.meta.url).pathname;

Deno.test({
  name:
    "Without a secret, a Redis that is not on loopback is refused by producer, worker and store",
  ignore: NO_REDIS || !EXTERNAL,
  async fn() {
    await using server = await RedisServer.start({ bind: ["127.0.0.1", EXTERNAL!] });
    const remote = `redis://${EXTERNAL}:${server.port}`;
    const refused = /not on this machine and no secret is set/;
    assert.throws(() => redisBackend({ url: remote }), refused);
    assert.throws(() => new RedisFeedbackStore({ url: remote }), refused);
    await assert.rejects(runWorker({ url: remote, blockMs: 50 }), refused);
    const cli = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "--redis", remote],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(cli.code, 2);
    const said = new TextDecoder().decode(cli.stderr) + new TextDecoder().decode(cli.stdout);
    assert.match(said, refused);
    // With insecure: it runs, and both sides say that messages are not authenticated.
    const prefix = randomPrefix();
    const backendEvents: RedisBackendEvent[] = [];
    const workerEvents: WorkerEvent[] = [];
    await using _w = await runWorker({
      url: remote,
      prefix,
      insecure: true,
      blockMs: 50,
      onEvent: (e) => workerEvents.push(e),
    });
    await using backend = redisBackend({
      url: remote,
      prefix,
      insecure: true,
      onEvent: (e) => backendEvents.push(e),
    });
    const r = await flow`${T.fetch}`.run({ backend, input: 5 });
    assert.equal((r.output as { n: number }).n, 5);
    assert.match(backendEvents.find((e) => e.code === "UNSIGNED")!.message, /insecure: true/);
    const warned = workerEvents.find((e) => e.type === "warning") as { message: string };
    assert.match(warned.message, /not authenticated/);
    // With a secret: no refusal, no warning.
    const quiet: RedisBackendEvent[] = [];
    await using signed = redisBackend({ url: remote, secret: "s", onEvent: (e) => quiet.push(e) });
    assert.equal(quiet.length, 0);
    void signed;
  },
});

Deno.test({
  name: "Without a secret, loopback Redis is accepted with a warning",
  ignore: NO_REDIS,
  async fn() {
    await using server = await RedisServer.start();
    for (const host of ["127.0.0.1", "localhost", "127.1.2.3"]) {
      const events: RedisBackendEvent[] = [];
      await using backend = redisBackend({
        url: `redis://${host}:${server.port}`,
        onEvent: (e) => events.push(e),
      });
      assert.match(events[0]?.message ?? "", /allowed because Redis .* is on this machine/);
      void backend;
    }
  },
});

Deno.test({
  name: "The worker's metrics server listens on 127.0.0.1 unless told otherwise",
  ignore: NO_REDIS || !EXTERNAL,
  async fn() {
    await using server = await RedisServer.start();
    await using worker = await runWorker({ url: server.url(), metricsPort: 0, blockMs: 50 });
    const local = await fetch(`http://127.0.0.1:${worker.port}/health`);
    assert.equal(local.status, 200);
    await local.body?.cancel();
    await assert.rejects(
      Deno.connect({ hostname: EXTERNAL!, port: worker.port! }),
      /refused|ECONNREFUSED/i,
      "the metrics server is reachable from other machines",
    );
    await using open = await runWorker({
      url: server.url(),
      metricsPort: 0,
      metricsHostname: "0.0.0.0",
      blockMs: 50,
    });
    const conn = await Deno.connect({ hostname: EXTERNAL!, port: open.port! });
    conn.close();
  },
});
