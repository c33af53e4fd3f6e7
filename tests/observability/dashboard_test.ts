/**
 * The Grafana dashboard in `examples/`: valid JSON, every query names only metrics that Graflow
 * exposes, and every query is valid PromQL (`promtool check rules`, when Prometheus's tools are
 * installed; REQUIRE_PROMETHEUS=1 makes them required).
 *
 * @module
 */
import assert from "assert";
import {
  feedbackMetrics,
  GraflowMetrics,
  MemoryFeedbackStore,
  MetricsRegistry,
} from "../../mod.ts";
import { WorkerMetrics } from "../../src/worker/worker_metrics.ts";

const FILE = new URL("../../examples/grafana_dashboard.json", import.meta.url);

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

async function queries(): Promise<{ title: string; expr: string }[]> {
  const dash = JSON.parse(await Deno.readTextFile(FILE));
  assert.equal(dash.uid, "graflow-overview");
  return (dash.panels as Panel[]).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr }))
  );
}

/** Every sample name Graflow exposes (run metrics, a feedback store's, a worker's). */
async function exposed(): Promise<Set<string>> {
  const m = new GraflowMetrics(new MetricsRegistry());
  m.enable();
  m.runStarted("f");
  m.runFinished("f", "completed", 1);
  m.attempt("t", "succeeded", 0.1);
  m.retry("t");
  m.group("g", "failed");
  m.queueWait("t", 0.01);
  m.feedbackWaiting("t", 1);
  m.feedbackAnswered("t", 3);
  m.registry.counter("graflow_metrics_label_overflow", "x", ["label"]).inc(["task"]);
  feedbackMetrics(new MemoryFeedbackStore(), m.registry);
  const worker = new WorkerMetrics();
  worker.observe(0.2);
  const text = await m.registry.render() +
    worker.render({ worker: "w" }, { waiting: 1, pending: 0 });
  return new Set(
    text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]),
  );
}

Deno.test("the Grafana dashboard queries only metrics that Graflow exposes", async () => {
  const names = await exposed();
  const list = await queries();
  assert.ok(list.length >= 15);
  for (const { title, expr } of list) {
    const used = expr.match(/graflow_[a-z_]+/g) ?? [];
    assert.ok(used.length > 0, `${title}: no graflow metric`);
    for (const name of used) assert.ok(names.has(name), `${title}: ${name} is not exposed`);
  }
});

function hasPromtool(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "every query of the Grafana dashboard is valid PromQL (promtool)",
  ignore: !hasPromtool() && Deno.env.get("REQUIRE_PROMETHEUS") !== "1",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // Grafana's variables, as Grafana would put them in.
      const rules = (await queries()).map(({ expr }, i) =>
        `      - record: graflow_dashboard_query_${i}\n        expr: ${
          JSON.stringify(
            expr.replaceAll("$__rate_interval", "1m").replaceAll("$flow", ".*").replaceAll(
              "$task",
              ".*",
            ),
          )
        }`
      );
      await Deno.writeTextFile(
        `${dir}/rules.yml`,
        `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`,
      );
      const out = await new Deno.Command("promtool", {
        args: ["check", "rules", `${dir}/rules.yml`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
