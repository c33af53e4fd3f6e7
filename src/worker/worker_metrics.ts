/**
 * A worker's counters, gauges and task duration histogram, rendered as Prometheus text or
 * OpenMetrics text (without the final `# EOF`: the worker's metrics server adds the run and task
 * metrics of `graflowMetrics` and ends the exposition).
 *
 * @module
 */
import type { MetricsFormat } from "../observability/metrics_registry.ts";
import { TASK_BUCKETS } from "../observability/run_metrics.ts";

/** What a worker counts. */
export class WorkerMetrics {
  /** Tasks run to an outcome (succeeded or failed). */
  processed = 0;
  /** Tasks that succeeded. */
  succeeded = 0;
  /** Tasks that failed (the task threw). */
  failed = 0;
  /** Tasks run for a retry attempt (attempt > 1). */
  retried = 0;
  /** Entries reclaimed from dead workers or handed back. */
  reclaims = 0;
  /** Entries moved to the dead-letter stream. */
  deadLettered = 0;
  /** Entries handed back on shutdown. */
  handedBack = 0;
  /** Entries dropped as replays (their job already ran or runs from another entry). */
  dropped = 0;
  /** Tasks running now. */
  inFlight = 0;
  readonly #buckets = new Array<number>(TASK_BUCKETS.length).fill(0);
  #durationSum = 0;
  #durationCount = 0;

  /**
   * Records a task duration.
   *
   * @param seconds The duration.
   */
  observe(seconds: number): void {
    for (let i = 0; i < TASK_BUCKETS.length; i++) {
      if (seconds <= TASK_BUCKETS[i]) this.#buckets[i]++;
    }
    this.#durationSum += seconds;
    this.#durationCount++;
  }

  /**
   * Prometheus text exposition.
   *
   * @param labels Labels of every sample (e.g. `{ worker: "w1" }`).
   * @param queue Queue depth, when known.
   * @param format Prometheus text (0.0.4) or OpenMetrics text (no `# EOF`). @default {"prometheus"}
   * @returns The text.
   */
  render(
    labels: Record<string, string>,
    queue?: { waiting: number; pending: number },
    format: MetricsFormat = "prometheus",
  ): string {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
    const lab = (extra: string[] = []) => {
      const all = [...l, ...extra];
      return all.length ? `{${all.join(",")}}` : "";
    };
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, value: number) => {
      // OpenMetrics names a counter family without its _total suffix.
      const family = type === "counter" && format === "openmetrics"
        ? name.replace(/_total$/, "")
        : name;
      out.push(`# HELP ${family} ${help}`, `# TYPE ${family} ${type}`, `${name}${lab()} ${value}`);
    };
    metric(
      "graflow_worker_tasks_processed_total",
      "counter",
      "Tasks run to an outcome.",
      this.processed,
    );
    metric(
      "graflow_worker_tasks_succeeded_total",
      "counter",
      "Tasks that succeeded.",
      this.succeeded,
    );
    metric("graflow_worker_tasks_failed_total", "counter", "Tasks that failed.", this.failed);
    metric("graflow_worker_tasks_retried_total", "counter", "Retry attempts run.", this.retried);
    metric("graflow_worker_tasks_in_flight", "gauge", "Tasks running now.", this.inFlight);
    metric(
      "graflow_worker_lease_reclaims_total",
      "counter",
      "Entries reclaimed after their lease expired or a hand-back.",
      this.reclaims,
    );
    metric(
      "graflow_worker_dead_lettered_total",
      "counter",
      "Entries moved to the dead-letter stream.",
      this.deadLettered,
    );
    metric(
      "graflow_worker_handed_back_total",
      "counter",
      "Entries handed back on shutdown.",
      this.handedBack,
    );
    metric(
      "graflow_worker_dropped_total",
      "counter",
      "Entries dropped as replays of a job that already ran or runs elsewhere.",
      this.dropped,
    );
    const h = "graflow_worker_task_duration_seconds";
    out.push(`# HELP ${h} Task run time.`, `# TYPE ${h} histogram`);
    TASK_BUCKETS.forEach((b, i) =>
      out.push(`${h}_bucket${lab([`le="${b}"`])} ${this.#buckets[i]}`)
    );
    out.push(`${h}_bucket${lab(['le="+Inf"'])} ${this.#durationCount}`);
    out.push(`${h}_sum${lab()} ${this.#durationSum}`, `${h}_count${lab()} ${this.#durationCount}`);
    if (queue) {
      const q = "graflow_queue_depth";
      out.push(
        `# HELP ${q} Queue entries waiting for a worker or held by one.`,
        `# TYPE ${q} gauge`,
      );
      out.push(`${q}${lab(['state="waiting"'])} ${queue.waiting}`);
      out.push(`${q}${lab(['state="pending"'])} ${queue.pending}`);
    }
    return out.join("\n") + "\n";
  }
}
