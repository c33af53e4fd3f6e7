/**
 * Spans of runs in this process, through a recording tracer provider registered with the real
 * `@opentelemetry/api`: structure (run → group → task attempt), attributes, errors with class
 * and code, retries and feedback as events, the trace context handed to remote handlers, task
 * code's own spans nested under its attempt, links of resumed and taken-over runs, and nothing
 * created at all when no provider is registered.
 *
 * @module
 */
import assert from "assert";
import { trace } from "@opentelemetry/api";
import {
  flow,
  graflowMetrics,
  localRunStore,
  MemoryFeedbackStore,
  parallel,
  registerFlow,
  resume,
  task,
  type TaskContext,
  type TaskHandler,
  traceHeaders,
  WorkflowError,
} from "../../mod.ts";
import { runOrchestrator } from "../../src/worker/mod.ts";
import { runTelemetry } from "../../src/observability/instrumentation.ts";
import { systemClock } from "../../src/time/clock.ts";
import { toRemoteMessage } from "../../src/context/remote_context.ts";
import {
  type RecordedSpan,
  RecordingTracerProvider,
  withRecordingTracer,
} from "./recording_tracer.ts";
import { tempDir } from "../checkpoint/helpers.ts";

// Task names are process-global: everything in this file starts with "obstr_".
const tracer = () => trace.getTracer("task-code");

const fetchT = task("obstr_fetch", () => 1);
const clean = task("obstr_clean", (n: number) => {
  // Task code's own span: it must nest under the attempt's span.
  const s = tracer().startSpan("clean.inner");
  s.end();
  return n + 1;
});
let flakyCalls = 0;
const flaky = task("obstr_flaky", (n: number) => {
  if (++flakyCalls === 1) throw new WorkflowError("not yet", { code: "FLAKY" });
  return n * 10;
}, { retries: { maxRetries: 2, initialDelayMs: 1 } });
const merge = task("obstr_merge", (x: Record<string, number>) => x.obstr_clean + x.obstr_flaky);
const etl = flow`${fetchT} >> ${parallel([clean, flaky], { name: "obstr_group" })} >> ${merge}`;

function byId(spans: RecordedSpan[]): Map<string, RecordedSpan> {
  return new Map(spans.map((s) => [s.spanId, s]));
}

Deno.test("a traced run has one trace: run, group and attempt spans with their attributes", async () => {
  await withRecordingTracer(async (p) => {
    flakyCalls = 0;
    const result = await etl.run({ runId: "obstr-run-1" });
    assert.equal(result.output, 12);
    const [run] = p.named("run flow");
    assert.ok(run, `no run span in ${p.spans.map((s) => s.name)}`);
    assert.equal(run.parentSpanId, undefined);
    assert.ok(p.spans.every((s) => s.traceId === run.traceId), "one trace id");
    assert.ok(p.spans.every((s) => s.ended), "every span ended");
    const spans = byId(p.spans);
    for (const s of p.spans) {
      if (s !== run) assert.ok(spans.has(s.parentSpanId!), `${s.name} has no parent here`);
    }
    assert.deepEqual(run.attributes["graflow.run.id"], "obstr-run-1");
    assert.equal(run.attributes["graflow.run.status"], "completed");
    const [group] = p.named("group obstr_group");
    assert.equal(group.parentSpanId, run.spanId);
    assert.equal(group.attributes["graflow.group.outcome"], "succeeded");
    const [f] = p.named("task obstr_fetch");
    assert.equal(f.parentSpanId, run.spanId);
    assert.deepEqual(
      {
        task: f.attributes["graflow.task.id"],
        attempt: f.attributes["graflow.task.attempt"],
        cycle: f.attributes["graflow.task.cycle"],
        handler: f.attributes["graflow.task.handler"],
        outcome: f.attributes["graflow.task.outcome"],
        run: f.attributes["graflow.run.id"],
      },
      {
        task: "obstr_fetch",
        attempt: 1,
        cycle: 1,
        handler: "direct",
        outcome: "succeeded",
        run: "obstr-run-1",
      },
    );
    const flakySpans = p.named("task obstr_flaky");
    assert.equal(flakySpans.length, 2);
    assert.ok(flakySpans.every((s) => s.parentSpanId === group.spanId));
    const [first, second] = flakySpans;
    assert.equal(first.attributes["graflow.task.outcome"], "failed");
    assert.equal(first.attributes["error.type"], "WorkflowError");
    assert.equal(first.attributes["graflow.error.code"], "FLAKY");
    assert.equal(first.status?.code, 2);
    assert.deepEqual(first.events.map((e) => e.name), ["retry"]);
    assert.equal(second.attributes["graflow.task.attempt"], 2);
    assert.equal(second.attributes["graflow.task.outcome"], "succeeded");
    const [inner] = p.named("clean.inner");
    assert.equal(inner.parentSpanId, p.named("task obstr_clean")[0].spanId);
  });
});

Deno.test("a failed run's span records the error class and code", async () => {
  const bad = task("obstr_bad", () => {
    throw new WorkflowError("no", { code: "NOPE" });
  });
  await withRecordingTracer(async (p) => {
    await assert.rejects(flow`${bad}`.run());
    const [run] = p.named("run flow");
    assert.equal(run.attributes["graflow.run.status"], "failed");
    assert.equal(run.attributes["error.type"], "TaskFailedError");
    assert.equal(run.status?.code, 2);
    assert.equal(p.named("task obstr_bad")[0].attributes["graflow.error.code"], "NOPE");
  });
});

Deno.test("a remote handler gets the attempt's trace context in its message", async () => {
  const seen: unknown[] = [];
  const remote: TaskHandler = {
    async execute(t, input, ctx) {
      seen.push(toRemoteMessage(t, input, ctx).trace, traceHeaders(ctx));
      return t.invoke(input, ctx);
    },
  };
  const hop = task("obstr_hop", (x: number) => x, { handler: "remote" });
  await withRecordingTracer(async (p) => {
    await flow`${hop}`.run({ input: 1, handlers: { remote } });
    const [attempt] = p.named("task obstr_hop");
    const want = { traceparent: `00-${attempt.traceId}-${attempt.spanId}-01` };
    assert.deepEqual(seen, [want, want]);
    assert.equal(attempt.attributes["graflow.task.handler"], "remote");
  });
  seen.length = 0;
  await flow`${hop}`.run({ input: 1, handlers: { remote } });
  assert.deepEqual(seen, [undefined, undefined], "no trace context when tracing is off");
});

Deno.test("the run span is a child of the span active where the run was started", async () => {
  const one = task("obstr_one", () => 1);
  await withRecordingTracer(async (p) => {
    await tracer().startActiveSpan("request", async (span) => {
      await flow`${one}`.run();
      span.end();
    });
    const [request] = p.named("request");
    assert.equal(p.named("run flow")[0].parentSpanId, request.spanId);
  });
});

Deno.test("feedback requests and answers are events of the asking attempt", async () => {
  const store = new MemoryFeedbackStore();
  const ask = task("obstr_ask", async (_: unknown, ctx: TaskContext) => {
    const r = await ctx.requestFeedback({ type: "approval", prompt: "ok?", timeoutMs: 5000 });
    return r.approved;
  });
  await withRecordingTracer(async (p) => {
    const run = flow`${ask}`.start({ feedbackStore: store });
    let pending;
    while (!(pending = (await store.list({ pending: true }))[0])) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await store.respond(pending.id, { approved: true, respondedAt: new Date().toISOString() });
    assert.equal((await run.result).output, true);
    const events = p.named("task obstr_ask")[0].events.map((e) => e.name);
    assert.deepEqual(events, ["feedback.requested", "feedback.received"]);
  });
});

Deno.test("a resumed run links to the first run's span; its checkpoints keep that context", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  let fail = true;
  const a = task("obstr_cp_a", (_: unknown, ctx: TaskContext) => {
    ctx.checkpoint();
    return 1;
  });
  const b = task("obstr_cp_b", (n: number) => {
    if (fail) throw new Error("crash");
    return n + 1;
  });
  await withRecordingTracer(async (p) => {
    await assert.rejects(flow`${a} >> ${b}`.run({ checkpointDir: dir, runId: "obstr-cp" }));
    const [first] = p.named("run flow");
    const base = `${dir}/obstr-cp/step_1`;
    const state = JSON.parse(await Deno.readTextFile(`${base}.state.json`));
    assert.deepEqual(state.options.trace, {
      traceparent: `00-${first.traceId}-${first.spanId}-01`,
    });
    fail = false;
    const result = await resume(base, { checkpointDir: dir });
    assert.equal(result.output, 2);
    const [, second] = p.named("run flow");
    assert.notEqual(second.traceId, first.traceId);
    assert.equal(second.links.length, 1);
    assert.equal(second.links[0].context.traceId, first.traceId);
    assert.equal(second.links[0].context.spanId, first.spanId);
    assert.equal(second.attributes["graflow.run.resumed"], true);
  });
});

Deno.test("a run continued by an orchestrator links to the trace kept in its record", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const step = task("obstr_orch_step", (n: number) => n + 1);
  const registered = registerFlow("obstr_orch", flow`${step}`);
  await using store = localRunStore({ dir });
  const original = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
  await store.create({
    runId: "obstr-queued",
    flow: "obstr_orch",
    version: registered.version!,
    graph: null,
    input: 1,
    status: "queued",
    trace: original,
  });
  assert.deepEqual((await store.get("obstr-queued"))?.trace, original);
  await withRecordingTracer(async (p) => {
    await using orchestrator = await runOrchestrator({ store, intervalMs: 20 });
    while ((await store.get("obstr-queued"))?.status !== "completed") {
      await new Promise((r) => setTimeout(r, 10));
    }
    await orchestrator.stop();
    const [run] = p.named("run obstr_orch");
    assert.equal(run.links[0].context.traceId, "0af7651916cd43dd8448eb211c80319c");
    assert.equal(run.links[0].context.spanId, "b7ad6b7169203331");
  });
});

Deno.test("with no tracer provider registered, a run makes no span and calls no tracer", async () => {
  const counting = new RecordingTracerProvider();
  trace.setGlobalTracerProvider(counting);
  trace.disable(); // registered once, then removed: the provider must never be asked again
  const before = counting.calls;
  const tasks = Array.from({ length: 50 }, (_, i) => task(`obstr_off_${i}`, (x: number) => x + 1));
  const chain = tasks.map((t) => t.name).join(" >> ");
  const f = flow(Object.assign([chain], { raw: [chain] }) as unknown as TemplateStringsArray);
  assert.equal((await f.run({ input: 0 })).output, 50);
  assert.equal(counting.calls, before);
  assert.equal(counting.spans.length, 0);
  // And the run's instrumentation is skipped altogether when nothing else records either.
  if (!graflowMetrics.active()) {
    const telemetry = runTelemetry({
      runId: "x",
      flow: "",
      graph: f.graph,
      placement: {},
      clock: systemClock,
    });
    assert.equal(telemetry, undefined);
  }
});
