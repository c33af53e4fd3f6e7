/**
 * A real Prometheus server scrapes a producer's `/metrics` (`metricsResponse`) and a Redis
 * worker's `/metrics` after known runs, and PromQL over its HTTP API returns the expected
 * values: runs by flow and status, attempts by outcome, retries, groups, worker jobs, queue
 * waits; and the task duration buckets carry exemplars with trace ids (OpenMetrics scrape with
 * exemplar storage), the producer being traced by Deno's built-in OpenTelemetry.
 *
 * Skipped with a message when `prometheus` is not installed, unless REQUIRE_PROMETHEUS=1 (CI).
 *
 * @module
 */
import assert from "assert";
import { freePort, NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";
import { WorkerProcess } from "../redis/workers.ts";
import { OtlpReceiver } from "./otlp_receiver.ts";

const PRODUCER = new URL("./fixtures/prom_producer.ts", import.meta.url).pathname;
const TASKS = new URL("./fixtures/prom_flow.ts", import.meta.url).href;
const REQUIRED = Deno.env.get("REQUIRE_PROMETHEUS") === "1";

function hasPrometheus(): boolean {
  try {
    return new Deno.Command("prometheus", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const HAVE = hasPrometheus();
if (!HAVE && !REQUIRED) {
  // deno-lint-ignore no-console
  console.warn(
    "Skipping the Prometheus test: prometheus is not installed (apt-get install prometheus)",
  );
}

/** A Prometheus server on a free loopback port, scraping `targets` every second. */
async function startPrometheus(targets: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "graflow-prom-" });
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: graflow",
      "    static_configs:",
      `      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--enable-feature=exemplar-storage",
      "--log.level=warn",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const api = `http://127.0.0.1:${port}/api/v1`;
  return {
    api,
    async query(promql: string): Promise<number | undefined> {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
      const body = await res.json();
      if (body.status !== "success") throw new Error(`${promql}: ${JSON.stringify(body)}`);
      const r = body.data.result;
      return r.length ? Number(r[0].value[1]) : undefined;
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.stderr.cancel();
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Reads stdout lines of a child until one matches. */
async function lineMatching(
  lines: AsyncIterator<string>,
  re: RegExp,
): Promise<RegExpMatchArray> {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error(`the process ended before printing ${re}`);
    const m = next.value.match(re);
    if (m) return m;
  }
}

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
}

Deno.test({
  name: "Prometheus scrapes a producer and a worker: PromQL gives the counts of known runs",
  ignore: (!HAVE && !REQUIRED) || NO_REDIS,
  async fn() {
    if (!HAVE) throw new Error("REQUIRE_PROMETHEUS=1 but prometheus is not installed");
    await using receiver = new OtlpReceiver();
    await using redis = await RedisServer.start();
    const prefix = randomPrefix();
    await using worker = new WorkerProcess([
      "--redis",
      redis.url(),
      "--prefix",
      prefix,
      "--module",
      TASKS,
      "--metrics-port",
      "0",
    ]);
    const workerPort = (await worker.started()).port as number;
    const producer = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", PRODUCER, redis.url(), prefix],
      env: { NO_COLOR: "1", ...receiver.env("obsp-producer") },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const lines = splitLines(producer.stdout);
      const producerPort = Number((await lineMatching(lines, /^port (\d+)$/))[1]);
      await lineMatching(lines, /^done$/);
      await using prom = await startPrometheus([
        `127.0.0.1:${producerPort}`,
        `127.0.0.1:${workerPort}`,
      ]);
      const expected: [string, number][] = [
        ['sum(up{job="graflow"})', 2],
        ['sum(graflow_runs_finished_total{flow="obsp_flow",status="completed"})', 3],
        ['sum(graflow_runs_finished_total{flow="obsp_flow",status="failed"})', 1],
        ['sum(graflow_runs_started_total{flow="obsp_flow"})', 4],
        ['sum(graflow_runs_active{flow="obsp_flow"})', 0],
        ['sum(graflow_task_attempts_total{task="obsp_a",outcome="succeeded"})', 4],
        ['sum(graflow_task_attempts_total{task="obsp_flaky",outcome="failed"})', 4],
        ['sum(graflow_task_attempts_total{task="obsp_flaky",outcome="succeeded"})', 4],
        ['sum(graflow_task_attempts_total{task="obsp_end",outcome="failed"})', 1],
        ['sum(graflow_task_retries_total{task="obsp_flaky"})', 4],
        ['sum(graflow_groups_settled_total{group="obsp_pair",outcome="succeeded"})', 4],
        ['sum(graflow_run_duration_seconds_count{flow="obsp_flow"})', 4],
        ['sum(graflow_task_duration_seconds_count{task="obsp_b"})', 4],
        ["sum(graflow_worker_tasks_processed_total)", 16],
        ["sum(graflow_worker_tasks_failed_total)", 4],
        ["sum(graflow_task_queue_wait_seconds_count)", 16],
        ['sum(graflow_task_queue_wait_seconds_count{task="obsp_flaky"})', 8],
        ["sum(graflow_tasks_running)", 0],
      ];
      const deadline = Date.now() + 60_000;
      let last: [string, number | undefined][] = [];
      for (;;) {
        last = [];
        for (const [q, want] of expected) {
          const got = await prom.query(q).catch(() => undefined);
          if (got !== want) last.push([q, got]);
        }
        if (!last.length) break;
        if (Date.now() > deadline) assert.fail(`PromQL mismatches: ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      // Exemplars: the duration buckets of traced attempts link to their traces.
      const now = Date.now() / 1000;
      const res = await fetch(
        `${prom.api}/query_exemplars?query=${
          encodeURIComponent('graflow_task_duration_seconds_bucket{task="obsp_a"}')
        }&start=${now - 600}&end=${now + 60}`,
      );
      const body = await res.json();
      const exemplars = (body.data ?? []).flatMap((s: { exemplars: unknown[] }) => s.exemplars);
      assert.ok(exemplars.length > 0, `no exemplars: ${JSON.stringify(body)}`);
      const ids = (exemplars as { labels: { trace_id: string } }[]).map((e) => e.labels.trace_id);
      for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
      // They name traces the producer exported (its batch exporter sends them within seconds).
      const until = Date.now() + 30_000;
      while (!receiver.spans.some((s) => ids.includes(s.traceId) && s.name === "task obsp_a")) {
        if (Date.now() > until) assert.fail(`no exported trace has the ids ${ids}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      try {
        producer.kill("SIGKILL");
      } catch { /* gone */ }
      await producer.status;
      await producer.stdout.cancel().catch(() => {});
    }
  },
});
