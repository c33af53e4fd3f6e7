/**
 * The metrics registry (Prometheus and OpenMetrics text, exemplars, escaping, the label cap)
 * and Graflow's run and task metrics after known runs.
 *
 * @module
 */
import assert from "assert";
import {
  feedbackMetrics,
  flow,
  GraflowMetrics,
  graflowMetrics,
  MemoryFeedbackStore,
  MetricsRegistry,
  metricsResponse,
  parallel,
  task,
  WorkflowError,
} from "../../mod.ts";
import { bestEffort } from "../../mod.ts";
import { withRecordingTracer } from "./recording_tracer.ts";

// Task names are process-global: everything in this file starts with "obsme_".

/** The value of the sample `line` (a metric name with labels) in an exposition. */
function sample(text: string, line: string): number | undefined {
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  return found === undefined ? undefined : Number(found.slice(line.length + 1).split(" ")[0]);
}

Deno.test("MetricsRegistry renders counters, gauges and histograms in both formats", async () => {
  const r = new MetricsRegistry();
  const c = r.counter("t_jobs_total", "Jobs.", ["kind"]);
  const g = r.gauge("t_depth", "Depth.");
  const h = r.histogram("t_seconds", "Time.", ["kind"], [0.1, 1]);
  c.inc(["a"]);
  c.inc(["a"], 2);
  c.inc(["a"], -5); // ignored: counters only go up
  g.set([], 7);
  h.observe(["a"], 0.05);
  h.observe(["a"], 0.5, { traceId: "a".repeat(32), spanId: "b".repeat(16) });
  h.observe(["a"], 5);
  const prom = await r.render("prometheus");
  assert.match(prom, /^# TYPE t_jobs_total counter$/m);
  assert.equal(sample(prom, 't_jobs_total{kind="a"}'), 3);
  assert.equal(sample(prom, "t_depth"), 7);
  assert.equal(sample(prom, 't_seconds_bucket{kind="a",le="0.1"}'), 1);
  assert.equal(sample(prom, 't_seconds_bucket{kind="a",le="1"}'), 2);
  assert.equal(sample(prom, 't_seconds_bucket{kind="a",le="+Inf"}'), 3);
  assert.equal(sample(prom, 't_seconds_sum{kind="a"}'), 5.55);
  assert.equal(sample(prom, 't_seconds_count{kind="a"}'), 3);
  assert.ok(!prom.includes("# {"), "no exemplars in the Prometheus text format");
  assert.ok(!prom.includes("# EOF"));
  const om = await r.render("openmetrics");
  assert.match(om, /^# TYPE t_jobs counter$/m);
  assert.equal(sample(om, 't_jobs_total{kind="a"}'), 3);
  assert.match(
    om,
    /^t_seconds_bucket\{kind="a",le="1"\} 2 # \{trace_id="a{32}",span_id="b{16}"\} 0\.5 \d+\.\d{3}$/m,
  );
  assert.ok(om.endsWith("# EOF\n"));
});

Deno.test("MetricsRegistry escapes label values and caps distinct values per label", async () => {
  const r = new MetricsRegistry({ maxLabelValues: 2 });
  const c = r.counter("t_by_task", "By task.", ["task"]);
  c.inc(['we"ird\\\nname']);
  c.inc(["b"]);
  c.inc(["c"]); // past the cap
  c.inc(["d"]); // past the cap
  c.inc(["b"]); // known: kept
  const text = await r.render();
  assert.equal(sample(text, 't_by_task_total{task="we\\"ird\\\\\\nname"}'), 1);
  assert.equal(sample(text, 't_by_task_total{task="b"}'), 2);
  assert.equal(sample(text, 't_by_task_total{task="_other"}'), 2);
  assert.equal(sample(text, 'graflow_metrics_label_overflow_total{label="task"}'), 2);
  assert.throws(() => new MetricsRegistry({ maxLabelValues: 0 }), RangeError);
  assert.throws(() => r.counter("bad name", "x"), TypeError);
  assert.throws(() => r.counter("t_by_task", "again"), TypeError);
  assert.throws(() => r.histogram("t_h", "x", [], [1, 0.5]), RangeError);
});

Deno.test("runs record runs, attempts, retries, groups and durations by flow, task and outcome", async () => {
  const m = graflowMetrics;
  m.enable();
  let calls = 0;
  const a = task("obsme_a", () => 1);
  const flaky = task("obsme_flaky", () => {
    if (++calls === 1) throw new Error("once");
    return 2;
  }, { retries: { maxRetries: 1, initialDelayMs: 1 } });
  const broken = task("obsme_broken", () => {
    throw new WorkflowError("no", { code: "BROKEN" });
  });
  const f = flow`${a} >> ${parallel([flaky, broken], { name: "obsme_g", policy: bestEffort() })}`;
  const text0 = await m.registry.render();
  const before = (line: string) => sample(text0, line) ?? 0;
  await f.run();
  await f.run();
  const text = await m.registry.render();
  const delta = (line: string) => (sample(text, line) ?? 0) - before(line);
  assert.equal(delta('graflow_task_attempts_total{task="obsme_a",outcome="succeeded"}'), 2);
  assert.equal(delta('graflow_task_attempts_total{task="obsme_flaky",outcome="failed"}'), 1);
  assert.equal(delta('graflow_task_attempts_total{task="obsme_flaky",outcome="succeeded"}'), 2);
  assert.equal(delta('graflow_task_attempts_total{task="obsme_broken",outcome="failed"}'), 2);
  assert.equal(delta('graflow_task_retries_total{task="obsme_flaky"}'), 1);
  assert.equal(delta('graflow_groups_settled_total{group="obsme_g",outcome="succeeded"}'), 2);
  assert.equal(delta('graflow_runs_finished_total{flow="",status="completed"}') >= 2, true);
  assert.equal(
    delta('graflow_task_duration_seconds_count{task="obsme_a",outcome="succeeded"}'),
    2,
  );
  assert.equal(sample(text, "graflow_tasks_running"), 0);
});

Deno.test("a traced run's duration buckets carry its trace id as exemplar", async () => {
  graflowMetrics.enable();
  const t = task("obsme_ex", () => 1);
  await withRecordingTracer(async (p) => {
    await flow`${t}`.run();
    const [span] = p.named("task obsme_ex");
    const om = await graflowMetrics.registry.render("openmetrics");
    const line = om.split("\n").find((l) =>
      l.startsWith('graflow_task_duration_seconds_bucket{task="obsme_ex"') && l.includes("# {")
    );
    assert.ok(line, "an exemplar on a bucket of obsme_ex");
    assert.ok(line.includes(`trace_id="${span.traceId}",span_id="${span.spanId}"`));
  });
});

Deno.test("metricsResponse negotiates OpenMetrics from the Accept header", async () => {
  const plain = await metricsResponse(new Request("http://x/metrics"));
  assert.equal(plain.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.ok(!(await plain.text()).includes("# EOF"));
  const om = await metricsResponse(
    new Request("http://x/metrics", {
      headers: { accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5" },
    }),
  );
  assert.match(om.headers.get("content-type")!, /^application\/openmetrics-text; version=1\.0\.0/);
  assert.ok((await om.text()).endsWith("# EOF\n"));
});

Deno.test("feedbackMetrics exposes the open requests of a store and the oldest one's age", async () => {
  const store = new MemoryFeedbackStore();
  const m = new GraflowMetrics(new MetricsRegistry());
  const stop = feedbackMetrics(store, m.registry);
  const at = new Date(Date.now() - 60_000).toISOString();
  const request = { type: "approval" as const, prompt: "ok?", timeoutMs: 1000 };
  await store.create({ id: "f1", runId: "r", taskId: "t", request, createdAt: at });
  await store.create({
    id: "f2",
    runId: "r",
    taskId: "t",
    request,
    createdAt: new Date().toISOString(),
  });
  await store.respond("f2", { approved: true, respondedAt: new Date().toISOString() });
  const text = await m.registry.render();
  assert.equal(sample(text, "graflow_feedback_open"), 1);
  const age = sample(text, "graflow_feedback_oldest_age_seconds")!;
  assert.ok(age >= 59 && age < 120, `age ${age}`);
  stop();
});
