/**
 * One trace for one run across processes, as an OpenTelemetry backend receives it: the producer
 * (a child process with Deno's built-in OpenTelemetry, `OTEL_DENO=true`), its Web Worker, a
 * process-pool subprocess, 2 Redis worker processes and a container all export to an OTLP/HTTP
 * receiver in this test (JSON). Checked: a single trace id, every span's parent present (no
 * orphans), the parent/child structure run → group → attempt → execute → the task's own spans,
 * the attributes, the retry, the context call through Redis, and Graflow's metrics through the
 * OpenTelemetry metrics API.
 *
 * @module
 */
import assert from "assert";
import { containerTest, IMAGE } from "../docker/engine.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";
import { killAll, WorkerProcess } from "../redis/workers.ts";
import { OtlpReceiver, type ReceivedSpan } from "./otlp_receiver.ts";

const PRODUCER = new URL("./fixtures/otlp_producer.ts", import.meta.url).pathname;
const TASKS = new URL("./fixtures/otlp_tasks.ts", import.meta.url).href;

function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one span "${name}", got ${found.length}`);
  return found[0];
}

containerTest(
  "one run across producer, Web Worker, subprocess, 2 Redis workers and a container is one trace",
  async (socketPath) => {
    if (NO_REDIS) return; // redis_server.ts fails the run when REQUIRE_REDIS=1
    await using receiver = new OtlpReceiver();
    await using redis = await RedisServer.start();
    const prefix = randomPrefix();
    const workers = [1, 2].map((i) =>
      new WorkerProcess(
        ["--redis", redis.url(), "--prefix", prefix, "--module", TASKS, "--concurrency", "1"],
        receiver.env(`obsx-worker-${i}`),
      )
    );
    try {
      await Promise.all(workers.map((w) => w.started()));
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          PRODUCER,
          redis.url(),
          prefix,
          socketPath,
          IMAGE,
          receiver.endpoint,
        ],
        env: { NO_COLOR: "1", ...receiver.env("obsx-producer") },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      // (1 + 1) → left 3, right 4, web 2 → 9 → boxed 10 → proc 20 → end 20
      assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), { output: 20 });
      for (const w of workers) w.signal("SIGTERM"); // they flush their spans as they exit
      await Promise.all(workers.map((w) => w.exited));
    } finally {
      await killAll(workers);
    }
    assert.deepEqual(receiver.refused, []);

    const run = one(receiver.spans, "run flow");
    const spans = receiver.spans.filter((s) => s.traceId === run.traceId);
    // Graflow's spans and the tasks' own spans of this run are all in its trace.
    const ours = receiver.spans.filter((s) =>
      /^(run|group|task|execute|ctx\.)|\.work$/.test(s.name)
    );
    assert.deepEqual(ours.filter((s) => s.traceId !== run.traceId).map((s) => s.name), []);
    // No orphans: every span but the run's has its parent in the trace.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    assert.equal(run.parentSpanId, "");
    for (const s of spans) {
      if (s !== run) assert.ok(byId.has(s.parentSpanId), `orphan ${s.name} (${s.service})`);
    }
    const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId)!;

    // run → attempts; run → group → attempts of members.
    assert.equal(run.attributes["graflow.run.id"], "obsx-run");
    assert.equal(run.attributes["graflow.run.status"], "completed");
    const group = one(spans, "group obsx_pair");
    assert.equal(parentOf(group), run);
    assert.equal(group.attributes["graflow.group.outcome"], "succeeded");
    const attempt = (task: string, n = 1) =>
      spans.find((s) => s.name === `task ${task}` && s.attributes["graflow.task.attempt"] === n)!;
    const execute = (task: string, n = 1) =>
      spans.find((s) =>
        s.name === `execute ${task}` && s.attributes["graflow.task.attempt"] === n
      )!;
    const handlers: Record<string, string> = {
      obsx_start: "direct",
      obsx_web: "worker",
      obsx_left: "redis",
      obsx_right: "redis",
      obsx_ask: "redis",
      obsx_boxed: "docker",
      obsx_proc: "process",
      obsx_end: "direct",
    };
    for (const [task, handler] of Object.entries(handlers)) {
      const a = attempt(task);
      assert.ok(a, `an attempt span of ${task}`);
      assert.equal(a.service, "obsx-producer");
      assert.equal(parentOf(a), task === "obsx_left" || task === "obsx_right" ? group : run);
      assert.deepEqual(
        [
          a.attributes["graflow.run.id"],
          a.attributes["graflow.flow"],
          a.attributes["graflow.task.id"],
          a.attributes["graflow.task.cycle"],
          a.attributes["graflow.task.handler"],
        ],
        ["obsx-run", "", task, 1, handler],
      );
    }
    // Where each remote attempt ran, and its execute span under the attempt's span.
    const where: Record<string, [string, RegExp]> = {
      obsx_web: ["worker", /^obsx-producer$/],
      obsx_left: ["redis", /^obsx-worker-[12]$/],
      obsx_ask: ["redis", /^obsx-worker-[12]$/],
      obsx_boxed: ["container", /^obsx-container$/],
      obsx_proc: ["process", /^obsx-producer$/],
    };
    for (const [task, [executor, service]] of Object.entries(where)) {
      const e = execute(task);
      assert.ok(e, `an execute span of ${task}`);
      assert.equal(parentOf(e), attempt(task));
      assert.equal(e.attributes["graflow.executor"], executor);
      assert.match(e.service, service);
      assert.equal(e.attributes["graflow.task.outcome"], "succeeded");
    }
    // The two members ran on the two Redis worker processes.
    const leftOn = execute("obsx_left").service;
    const rightOn = execute("obsx_right", 1).service;
    assert.notEqual(leftOn, rightOn, "each worker took one member");
    // The retry: a failed first attempt with a retry event, then a second attempt.
    const r1 = attempt("obsx_right", 1);
    assert.equal(r1.attributes["graflow.task.outcome"], "failed");
    assert.equal(r1.attributes["error.type"], "Error");
    assert.ok(r1.events.includes("retry"));
    assert.equal(r1.status, 2);
    assert.equal(execute("obsx_right", 1).attributes["graflow.task.outcome"], "failed");
    assert.equal(attempt("obsx_right", 2).attributes["graflow.task.outcome"], "succeeded");
    assert.equal(parentOf(execute("obsx_right", 2)), attempt("obsx_right", 2));
    // Tasks' own spans nest under the span of the attempt that ran them, wherever it ran.
    assert.equal(parentOf(one(spans, "web.work")), execute("obsx_web"));
    assert.equal(parentOf(one(spans, "left.work")), execute("obsx_left"));
    assert.equal(parentOf(one(spans, "boxed.work")), execute("obsx_boxed"));
    assert.equal(one(spans, "boxed.work").service, "obsx-container");
    // The context call went through Redis and was served in a span under the calling one.
    const call = one(spans, "ctx.result");
    assert.equal(call.service, "obsx-producer");
    assert.equal(parentOf(call), execute("obsx_ask"));
    // Redis jobs record how long they waited in the queue.
    assert.equal(typeof execute("obsx_left").attributes["graflow.queue.wait_ms"], "number");
    // Graflow's metrics also went out through the OpenTelemetry metrics API.
    for (
      const name of ["graflow.task.duration", "graflow.runs.finished", "graflow.task.queue_wait"]
    ) {
      assert.ok(receiver.metricNames.has(name), `metric ${name} in ${[...receiver.metricNames]}`);
    }
  },
);
