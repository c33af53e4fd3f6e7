/**
 * Graflow's run and task metrics, in one process-wide place ({@linkcode graflowMetrics}): runs by
 * flow and status, run duration, task attempts and their duration by task and outcome, retries,
 * groups by outcome, time tasks waited in a queue, feedback requests waiting and their age. They
 * go to two places:
 *
 * - a Prometheus registry, once {@linkcode GraflowMetrics.enable} was called (the worker's
 *   metrics server and the operations server do; call it yourself before your runs otherwise),
 *   served by {@linkcode metricsResponse} from any HTTP server;
 * - the OpenTelemetry metrics API, whenever a meter provider is registered (Deno's built-in
 *   OpenTelemetry with `OTEL_DENO=true`, or an SDK): instruments named `graflow.*`.
 *
 * With neither, runs record nothing. Labels are task, group and flow names and outcomes, never
 * run ids; each label keeps at most 500 distinct values (see `MetricsRegistry`).
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `graflow_runs_started_total` | counter | flow |
 * | `graflow_runs_finished_total` | counter | flow, status (`completed`, `terminated`, `waiting`, `failed`) |
 * | `graflow_runs_active` | gauge | flow |
 * | `graflow_run_duration_seconds` | histogram (exemplars) | flow, status |
 * | `graflow_task_attempts_total` | counter | task, outcome (`succeeded`, `failed`, `timeout`, `cancelled`) |
 * | `graflow_task_retries_total` | counter | task |
 * | `graflow_task_duration_seconds` | histogram (exemplars) | task, outcome |
 * | `graflow_tasks_running` | gauge | |
 * | `graflow_groups_settled_total` | counter | group, outcome (`succeeded`, `failed`) |
 * | `graflow_task_queue_wait_seconds` | histogram (exemplars) | task (Redis workers: enqueue → reserve) |
 * | `graflow_feedback_requests_total` | counter | task |
 * | `graflow_feedback_waiting` | gauge | (requests tasks of this process wait for now) |
 * | `graflow_feedback_wait_seconds` | histogram | task (request → answer) |
 * | `graflow_feedback_open`, `graflow_feedback_oldest_age_seconds` | gauge | (a feedback store's pending requests; {@linkcode feedbackMetrics}) |
 *
 * @module
 */
import type {
  Attributes,
  Counter as OtelCounter,
  Histogram as OtelHistogram,
  Meter,
  MeterProvider,
  UpDownCounter,
} from "../deps/otel_api.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import {
  CONTENT_TYPES,
  type Exemplar,
  type HistogramSeries,
  MetricsRegistry,
  type MetricsRegistry as Registry,
  negotiateFormat,
  renderAll,
} from "./metrics_registry.ts";
import { INSTRUMENTATION_SCOPE, otelRegistry } from "./otel.ts";
import type { Gauge } from "./metric_families.ts";

/** Bucket bounds of task durations and queue waits (seconds). */
export const TASK_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  60,
  300,
];
/** Bucket bounds of run durations and feedback waits (seconds). */
export const RUN_BUCKETS: readonly number[] = [
  0.01,
  0.1,
  1,
  10,
  60,
  300,
  900,
  3600,
  14400,
  86400,
];

/** The series of one task and outcome (looked up once, then incremented in place). */
interface AttemptSeries {
  count: { value: number };
  duration: HistogramSeries;
}

interface OtelInstruments {
  provider: MeterProvider;
  runsStarted: OtelCounter;
  runsFinished: OtelCounter;
  runsActive: UpDownCounter;
  runDuration: OtelHistogram;
  attempts: OtelCounter;
  retries: OtelCounter;
  taskDuration: OtelHistogram;
  groups: OtelCounter;
  queueWait: OtelHistogram;
  feedbackRequests: OtelCounter;
  feedbackWaiting: UpDownCounter;
  feedbackWait: OtelHistogram;
}

function instruments(provider: MeterProvider, running: () => number): OtelInstruments {
  const m: Meter = provider.getMeter(INSTRUMENTATION_SCOPE);
  m.createObservableUpDownCounter("graflow.tasks.running", { description: "Attempts running." })
    .addCallback((r) => r.observe(running()));
  const seconds = (name: string, description: string, buckets: readonly number[]) =>
    m.createHistogram(name, {
      description,
      unit: "s",
      advice: { explicitBucketBoundaries: [...buckets] },
    });
  return {
    provider,
    runsStarted: m.createCounter("graflow.runs.started", { description: "Runs started." }),
    runsFinished: m.createCounter("graflow.runs.finished", { description: "Runs ended." }),
    runsActive: m.createUpDownCounter("graflow.runs.active", { description: "Runs going on." }),
    runDuration: seconds("graflow.run.duration", "Run duration.", RUN_BUCKETS),
    attempts: m.createCounter("graflow.task.attempts", { description: "Task attempts ended." }),
    retries: m.createCounter("graflow.task.retries", { description: "Retries scheduled." }),
    taskDuration: seconds("graflow.task.duration", "Task attempt duration.", TASK_BUCKETS),
    groups: m.createCounter("graflow.groups.settled", { description: "Groups settled." }),
    queueWait: seconds("graflow.task.queue_wait", "Time a task waited in a queue.", TASK_BUCKETS),
    feedbackRequests: m.createCounter("graflow.feedback.requests", {
      description: "Feedback requests made.",
    }),
    feedbackWaiting: m.createUpDownCounter("graflow.feedback.waiting", {
      description: "Feedback requests waited for now.",
    }),
    feedbackWait: seconds("graflow.feedback.wait", "Request to answer.", RUN_BUCKETS),
  };
}

/** Graflow's metrics (use the process-wide {@linkcode graflowMetrics}). */
export class GraflowMetrics {
  /** The Prometheus registry. */
  readonly registry: MetricsRegistry;
  #enabled = false;
  #otel: OtelInstruments | undefined;
  /** Attempts running now in this process (read at each scrape). */
  #runningNow = 0;
  readonly #byTask = new Map<string, Record<string, AttemptSeries>>();
  readonly #runsStarted;
  readonly #runsFinished;
  readonly #runsActive;
  readonly #runDuration;
  readonly #attempts;
  readonly #retries;
  readonly #taskDuration;
  readonly #running;
  readonly #groups;
  readonly #queueWait;
  readonly #feedbackRequests;
  readonly #feedbackWaiting;
  readonly #feedbackWait;

  /**
   * Creates the metrics in a registry.
   *
   * @param registry Where they are kept. @default {a new registry}
   */
  constructor(registry: Registry = new MetricsRegistry()) {
    const r = this.registry = registry;
    this.#runsStarted = r.counter("graflow_runs_started", "Runs started (or continued).", ["flow"]);
    this.#runsFinished = r.counter("graflow_runs_finished", "Runs ended, by status.", [
      "flow",
      "status",
    ]);
    this.#runsActive = r.gauge("graflow_runs_active", "Runs going on in this process.", ["flow"]);
    this.#runDuration = r.histogram(
      "graflow_run_duration_seconds",
      "Run duration in this process.",
      ["flow", "status"],
      RUN_BUCKETS,
    );
    this.#attempts = r.counter("graflow_task_attempts", "Task attempts ended, by outcome.", [
      "task",
      "outcome",
    ]);
    this.#retries = r.counter("graflow_task_retries", "Retries scheduled.", ["task"]);
    this.#taskDuration = r.histogram(
      "graflow_task_duration_seconds",
      "Task attempt duration as the run sees it (queue and transport included).",
      ["task", "outcome"],
      TASK_BUCKETS,
    );
    this.#running = r.gauge("graflow_tasks_running", "Task attempts running now.");
    r.collect(() => this.#running.set([], this.#runningNow));
    this.#groups = r.counter("graflow_groups_settled", "Parallel groups settled, by outcome.", [
      "group",
      "outcome",
    ]);
    this.#queueWait = r.histogram(
      "graflow_task_queue_wait_seconds",
      "Time a task waited in the Redis queue (enqueue to reserve, first delivery).",
      ["task"],
      TASK_BUCKETS,
    );
    this.#feedbackRequests = r.counter("graflow_feedback_requests", "Feedback requests made.", [
      "task",
    ]);
    this.#feedbackWaiting = r.gauge(
      "graflow_feedback_waiting",
      "Feedback requests that tasks of this process wait for now.",
    );
    this.#feedbackWait = r.histogram(
      "graflow_feedback_wait_seconds",
      "Time from a feedback request to its answer.",
      ["task"],
      RUN_BUCKETS,
    );
  }

  /** Starts recording into the Prometheus registry (idempotent). */
  enable(): void {
    this.#enabled = true;
  }

  /** Stops recording into the Prometheus registry (what it holds stays). */
  disable(): void {
    this.#enabled = false;
  }

  /** Whether the Prometheus registry records. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Whether anything records (the registry, or a registered meter provider); binds the
   * OpenTelemetry instruments to the provider registered now. Checked at each run start.
   *
   * @returns True when metrics are recorded.
   */
  active(): boolean {
    const provider = otelRegistry()?.metrics;
    if (!provider) this.#otel = undefined;
    else if (this.#otel?.provider !== provider) {
      this.#otel = instruments(provider, () => this.#runningNow);
    }
    return this.#enabled || this.#otel !== undefined;
  }

  #keep(label: string, value: string): string {
    return this.registry.keep(label, value);
  }

  /** A run started. */
  runStarted(flow: string): void {
    if (this.#enabled) {
      this.#runsStarted.inc([flow]);
      this.#runsActive.add([flow], 1);
    }
    const o = this.#otel;
    if (o) {
      const a = { "graflow.flow": this.#keep("flow", flow) };
      o.runsStarted.add(1, a);
      o.runsActive.add(1, a);
    }
  }

  /** A run ended. */
  runFinished(flow: string, status: string, seconds: number, exemplar?: Exemplar): void {
    if (this.#enabled) {
      this.#runsFinished.inc([flow, status]);
      this.#runsActive.add([flow], -1);
      this.#runDuration.observe([flow, status], seconds, exemplar);
    }
    const o = this.#otel;
    if (o) {
      const f = this.#keep("flow", flow);
      const a: Attributes = { "graflow.flow": f, "graflow.run.status": status };
      o.runsFinished.add(1, a);
      o.runsActive.add(-1, { "graflow.flow": f });
      o.runDuration.record(seconds, a);
    }
  }

  /** A task attempt started (`+1`) or ended (`-1`). */
  running(delta: number): void {
    this.#runningNow += delta;
  }

  /** A task attempt ended. */
  attempt(task: string, outcome: string, seconds: number, exemplar?: Exemplar): void {
    if (this.#enabled) {
      let byOutcome = this.#byTask.get(task);
      if (!byOutcome) {
        byOutcome = {};
        // Past the label cap, names share "_other" series: stop remembering new ones.
        if (this.#byTask.size < 100_000) this.#byTask.set(task, byOutcome);
      }
      const s = byOutcome[outcome] ??= {
        count: this.#attempts.series([task, outcome]),
        duration: this.#taskDuration.series([task, outcome]),
      };
      s.count.value++;
      this.#taskDuration.observeIn(s.duration, seconds, exemplar);
    }
    const o = this.#otel;
    if (o) {
      const a = { "graflow.task.id": this.#keep("task", task), "graflow.task.outcome": outcome };
      o.attempts.add(1, a);
      o.taskDuration.record(seconds, a);
    }
  }

  /** A retry was scheduled. */
  retry(task: string): void {
    if (this.#enabled) this.#retries.inc([task]);
    this.#otel?.retries.add(1, { "graflow.task.id": this.#keep("task", task) });
  }

  /** A group settled. */
  group(group: string, outcome: "succeeded" | "failed"): void {
    if (this.#enabled) this.#groups.inc([group, outcome]);
    this.#otel?.groups.add(1, {
      "graflow.group.id": this.#keep("group", group),
      "graflow.group.outcome": outcome,
    });
  }

  /** A task waited this long in a queue before a worker reserved it. */
  queueWait(task: string, seconds: number, exemplar?: Exemplar): void {
    this.active(); // a worker process records this outside any run: bind the meter here
    if (this.#enabled) this.#queueWait.observe([task], seconds, exemplar);
    this.#otel?.queueWait.record(seconds, { "graflow.task.id": this.#keep("task", task) });
  }

  /** A feedback request is waited for (`+1`), or no longer (`-1`). */
  feedbackWaiting(task: string, delta: number): void {
    if (delta > 0) {
      if (this.#enabled) this.#feedbackRequests.inc([task]);
      this.#otel?.feedbackRequests.add(1, { "graflow.task.id": this.#keep("task", task) });
    }
    if (this.#enabled) this.#feedbackWaiting.add([], delta);
    this.#otel?.feedbackWaiting.add(delta);
  }

  /** A feedback request was answered after this long. */
  feedbackAnswered(task: string, seconds: number): void {
    if (this.#enabled) this.#feedbackWait.observe([task], seconds);
    this.#otel?.feedbackWait.record(seconds, { "graflow.task.id": this.#keep("task", task) });
  }
}

/**
 * The process-wide metrics of every run in this process.
 *
 * @example Serving the metrics of this process's runs
 * ```ts
 * import { flow, graflowMetrics, metricsResponse, task } from "@graflow/graflow";
 * graflowMetrics.enable();
 * const hello = task("doc_metrics_hello", () => "hi");
 * await flow`${hello}`.run();
 * const res = await metricsResponse(new Request("http://localhost/metrics"));
 * console.log((await res.text()).includes('graflow_task_attempts_total{task="doc_metrics_hello",outcome="succeeded"}')); // true
 * ```
 */
export const graflowMetrics: GraflowMetrics = new GraflowMetrics();

/**
 * A `/metrics` response for any HTTP server (`Deno.serve`, Hono, …): Prometheus text, or
 * OpenMetrics with exemplars when the scraper's `Accept` header asks for
 * `application/openmetrics-text` (Prometheus does). Enables {@linkcode graflowMetrics}.
 *
 * @param request The scrape request.
 * @param extra More registries to expose with Graflow's (names must not clash).
 * @returns The response.
 */
export async function metricsResponse(
  request: Request,
  extra: readonly Registry[] = [],
): Promise<Response> {
  graflowMetrics.enable();
  const format = negotiateFormat(request.headers.get("accept"));
  const text = await renderAll([...extra, graflowMetrics.registry], format);
  return new Response(text, { headers: { "content-type": CONTENT_TYPES[format] } });
}

/** The feedback gauges of each registry (defined once; one store per process sets them). */
const feedbackGauges = new WeakMap<Registry, { open: Gauge; age: Gauge }>();

/**
 * Exposes the pending requests of a feedback store (checked at each scrape, at most 10,000):
 * `graflow_feedback_open` and `graflow_feedback_oldest_age_seconds`.
 *
 * @param store The store.
 * @param registry Where the gauges go. @default {graflowMetrics.registry}
 * @returns A function that stops it.
 */
export function feedbackMetrics(
  store: FeedbackStore,
  registry: Registry = graflowMetrics.registry,
): () => void {
  let gauges = feedbackGauges.get(registry);
  if (!gauges) {
    gauges = {
      open: registry.gauge("graflow_feedback_open", "Feedback requests nobody answered yet."),
      age: registry.gauge(
        "graflow_feedback_oldest_age_seconds",
        "Age of the oldest feedback request nobody answered yet (0 when none).",
      ),
    };
    feedbackGauges.set(registry, gauges);
  }
  const { open, age } = gauges;
  return registry.collect(async () => {
    const pending = await store.list({ pending: true, limit: 10_000 });
    const now = Date.now();
    const oldest = pending.reduce((m, r) => Math.min(m, Date.parse(r.createdAt)), now);
    open.set([], pending.length);
    age.set([], Math.max(0, (now - oldest) / 1000));
  });
}
