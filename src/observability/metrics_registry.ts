/**
 * A small metrics registry: counters, gauges and histograms with labels, rendered as Prometheus
 * text (format 0.0.4) or as OpenMetrics text (1.0.0), where histogram buckets carry exemplars
 * that link a sample to its trace (`# {trace_id="…",span_id="…"} value timestamp`).
 *
 * Label values are bounded: each label name keeps at most `maxLabelValues` distinct values
 * (default 500) per registry; a value seen after that is recorded as `"_other"`, and
 * `graflow_metrics_label_overflow_total{label}` counts the values folded so (each once while a
 * family remembers it, up to 100,000 raw values per family). Values longer than 128 characters
 * are cut. Identifiers that grow without bound (run ids, job ids) are never labels. The families
 * themselves are in `metric_families.ts`.
 *
 * @module
 */

import { Counter, Gauge, Histogram, type MetricFamily } from "./metric_families.ts";

export {
  Counter,
  Gauge,
  Histogram,
  type HistogramSeries,
  MetricFamily,
  type MetricKind,
} from "./metric_families.ts";
import type { Exemplar, MetricsFormat } from "./metric_families.ts";
export type { Exemplar, MetricsFormat };

/** Options of {@linkcode MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Distinct values kept per label name. @default {500} */
  maxLabelValues?: number;
}

/** The value past the cap of a label. */
export const OTHER = "_other";
const MAX_VALUE_LENGTH = 128;

/**
 * Metric families and the collectors that refresh them before each exposition.
 *
 * @example A counter in Prometheus text
 * ```ts
 * import { MetricsRegistry } from "@graflow/graflow";
 * const registry = new MetricsRegistry();
 * const jobs = registry.counter("my_jobs", "Jobs done.", ["kind"]);
 * jobs.inc(["export"]);
 * const text = await registry.render("prometheus");
 * console.log(text.includes('my_jobs_total{kind="export"} 1')); // true
 * ```
 */
export class MetricsRegistry {
  readonly #families = new Map<string, MetricFamily<unknown>>();
  readonly #values = new Map<string, Set<string>>();
  readonly #collectors = new Set<() => void | Promise<void>>();
  readonly #max: number;
  #overflow: Counter | undefined;

  /**
   * Creates an empty registry.
   *
   * @param options The label value cap.
   * @throws {RangeError} When `maxLabelValues` is not a whole number >= 1.
   */
  constructor(options: MetricsRegistryOptions = {}) {
    const max = options.maxLabelValues ?? 500;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create metrics registry: maxLabelValues must be >= 1, got ${max}`,
      );
    }
    this.#max = max;
  }

  #define<F extends MetricFamily<unknown>>(family: F): F {
    if (this.#families.has(family.name)) {
      throw new TypeError(`Cannot define metric "${family.name}": it exists`);
    }
    this.#families.set(family.name, family);
    return family;
  }

  /** Defines a counter (`name` without `_total`; the exposition adds it). */
  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return this.#define(new Counter(this, name.replace(/_total$/, ""), help, labelNames));
  }

  /** Defines a gauge. */
  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return this.#define(new Gauge(this, name, help, labelNames));
  }

  /** Defines a histogram with these bucket upper bounds. */
  histogram(
    name: string,
    help: string,
    labelNames: string[],
    buckets: readonly number[],
  ): Histogram {
    return this.#define(new Histogram(this, name, help, labelNames, buckets));
  }

  /**
   * Adds a function run before each exposition (to set gauges from a live source).
   *
   * @param collect The collector; its failure leaves the gauges as they were.
   * @returns A function that removes it.
   */
  collect(collect: () => void | Promise<void>): () => void {
    this.#collectors.add(collect);
    return () => this.#collectors.delete(collect);
  }

  /** @internal The value kept for label `name`: itself, or `"_other"` past the cap. */
  keep(name: string, value: string): string {
    const v = value.length > MAX_VALUE_LENGTH ? value.slice(0, MAX_VALUE_LENGTH) : value;
    let seen = this.#values.get(name);
    if (!seen) this.#values.set(name, seen = new Set());
    if (seen.has(v)) return v;
    if (seen.size < this.#max) {
      seen.add(v);
      return v;
    }
    this.#overflow ??= this.counter(
      "graflow_metrics_label_overflow",
      "Samples recorded under the label value _other because the label reached its cap of distinct values.",
      ["label"],
    );
    if (name !== "label") this.#overflow.inc([name]);
    return OTHER;
  }

  /**
   * The exposition of every family, without the final `# EOF` of OpenMetrics.
   *
   * @param format The text format.
   * @returns The lines, joined, ending with a newline (empty when there is nothing).
   */
  async body(format: MetricsFormat): Promise<string> {
    for (const c of this.#collectors) {
      try {
        await c();
      } catch { /* a failing collector leaves its gauges as they were */ }
    }
    const out: string[] = [];
    for (const f of this.#families.values()) f.render(format, out);
    return out.length ? out.join("\n") + "\n" : "";
  }

  /**
   * The full exposition in `format`.
   *
   * @param format The text format. @default {"prometheus"}
   * @returns The text.
   */
  async render(format: MetricsFormat = "prometheus"): Promise<string> {
    return await this.body(format) + (format === "openmetrics" ? "# EOF\n" : "");
  }
}

/** Content types of the two formats. */
export const CONTENT_TYPES: Record<MetricsFormat, string> = {
  prometheus: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/**
 * The format a scraper asked for (OpenMetrics when its `Accept` header names it).
 *
 * @param accept The request's `Accept` header.
 * @returns The format.
 */
export function negotiateFormat(accept: string | null | undefined): MetricsFormat {
  return accept?.includes("application/openmetrics-text") ? "openmetrics" : "prometheus";
}

/**
 * One exposition of several registries (their families must not share names).
 *
 * @param registries The registries.
 * @param format The text format.
 * @returns The text.
 */
export async function renderAll(
  registries: readonly MetricsRegistry[],
  format: MetricsFormat,
): Promise<string> {
  const bodies = await Promise.all(registries.map((r) => r.body(format)));
  return bodies.join("") + (format === "openmetrics" ? "# EOF\n" : "");
}
