/**
 * A small metrics registry: counters, gauges and histograms with labels, rendered as Prometheus
 * text (format 0.0.4) or as OpenMetrics text (1.0.0), where histogram buckets carry exemplars
 * that link a sample to its trace (`# {trace_id="…",span_id="…"} value timestamp`).
 *
 * Label values are bounded: each label name keeps at most `maxLabelValues` distinct values
 * (default 500) per registry; a value seen after that is recorded as `"_other"`, and
 * `graflow_metrics_label_overflow_total{label}` counts how often that happened. Values longer
 * than 128 characters are cut. Identifiers that grow without bound (run ids, job ids) are never
 * labels. The overflow counter counts the values folded into `"_other"` (each once while the
 * registry remembers it, up to 100,000 per family).
 *
 * @module
 */

/** The text format of an exposition. */
export type MetricsFormat = "prometheus" | "openmetrics";

/** The trace of a sample (OpenMetrics exemplar). */
export interface Exemplar {
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
}

/** Options of {@linkcode MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Distinct values kept per label name. @default {500} */
  maxLabelValues?: number;
}

/** The value past the cap of a label. */
export const OTHER = "_other";
const MAX_VALUE_LENGTH = 128;
/** Raw label values remembered per family (names past the cap included, mapped to `_other`). */
const RAW_CACHE = 100_000;

/** The types of metric families. */
export type MetricKind = "counter" | "gauge" | "histogram";

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

/** One metric family: a name, a type and its series by label values. */
export abstract class MetricFamily<S> {
  /** The family name (for counters, without `_total`). */
  readonly name: string;
  /** Its help text. */
  readonly help: string;
  /** Its label names, in order. */
  readonly labelNames: readonly string[];
  readonly #registry: MetricsRegistry;
  readonly #byRaw = new Map<string, S>();
  readonly #series = new Map<string, { values: string[]; series: S }>();

  /**
   * Defines the family (use the registry's `counter`, `gauge` and `histogram`).
   *
   * @param registry The registry that bounds its label values.
   * @param name The name.
   * @param help The help text.
   * @param labelNames The label names.
   * @throws {TypeError} When the name is not a metric name.
   */
  constructor(registry: MetricsRegistry, name: string, help: string, labelNames: string[]) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
      throw new TypeError(`Cannot define metric: bad name ${JSON.stringify(name)}`);
    }
    this.#registry = registry;
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The metric type. */
  abstract readonly kind: MetricKind;
  /** A new series. */
  protected abstract create(): S;

  /**
   * The series of these label values (in `labelNames` order), created on first use. Keep it to
   * record into it without looking it up again (hot paths).
   *
   * @param values Label values, in order.
   * @returns The series.
   */
  series(values: readonly string[]): S {
    return this.at(values);
  }

  /** The series of these label values (in `labelNames` order), created on first use. */
  protected at(values: readonly string[]): S {
    const raw = values.length === 1 ? values[0] : values.join("\u0001");
    const hit = this.#byRaw.get(raw);
    if (hit) return hit;
    const kept = values.map((v, i) => this.#registry.keep(this.labelNames[i], v));
    const key = kept.join("\u0001");
    let entry = this.#series.get(key);
    if (!entry) this.#series.set(key, entry = { values: kept, series: this.create() });
    // Remember raw values up to a bound: a flood of new values past it costs no memory.
    if (this.#byRaw.size < RAW_CACHE) this.#byRaw.set(raw, entry.series);
    return entry.series;
  }

  /** Every series with its label values. */
  entries(): Iterable<{ values: string[]; series: S }> {
    return this.#series.values();
  }

  /** `{a="x",b="y"}` for these values (plus extra pairs). */
  protected labels(values: string[], extra = ""): string {
    const parts = values.map((v, i) => `${this.labelNames[i]}="${escapeValue(v)}"`);
    if (extra) parts.push(extra);
    return parts.length ? `{${parts.join(",")}}` : "";
  }

  /**
   * Appends the family's exposition lines.
   *
   * @param format The text format.
   * @param out The lines.
   */
  abstract render(format: MetricsFormat, out: string[]): void;
}

/** A monotonic counter (exposed as `<name>_total`). */
export class Counter extends MetricFamily<{ value: number }> {
  /** `"counter"`. */
  readonly kind = "counter";
  /** A new series. */
  protected create(): { value: number } {
    return { value: 0 };
  }
  /**
   * Adds to the series of `values`.
   *
   * @param values Label values, in order.
   * @param by Amount (>= 0). @default {1}
   */
  inc(values: readonly string[], by = 1): void {
    if (by > 0) this.at(values).value += by;
  }
  /**
   * The value of a series (0 when it has none).
   *
   * @param values Label values, in order.
   * @returns The value.
   */
  value(values: readonly string[]): number {
    return this.at(values).value;
  }
  /**
   * Appends the exposition lines.
   *
   * @param format The text format.
   * @param out The lines.
   */
  render(format: MetricsFormat, out: string[]): void {
    const base = this.name.replace(/_total$/, "");
    const typeName = format === "openmetrics" ? base : `${base}_total`;
    out.push(`# HELP ${typeName} ${this.help}`, `# TYPE ${typeName} counter`);
    for (const { values, series } of this.entries()) {
      out.push(`${base}_total${this.labels(values)} ${num(series.value)}`);
    }
  }
}

/** A value that goes up and down. */
export class Gauge extends MetricFamily<{ value: number }> {
  /** `"gauge"`. */
  readonly kind = "gauge";
  /** A new series. */
  protected create(): { value: number } {
    return { value: 0 };
  }
  /**
   * Sets the series of `values`.
   *
   * @param values Label values, in order.
   * @param value The value.
   */
  set(values: readonly string[], value: number): void {
    this.at(values).value = value;
  }
  /**
   * Adds `delta` to the series of `values`.
   *
   * @param values Label values, in order.
   * @param delta The change.
   */
  add(values: readonly string[], delta: number): void {
    this.at(values).value += delta;
  }
  /**
   * The value of a series.
   *
   * @param values Label values, in order.
   * @returns The value.
   */
  value(values: readonly string[]): number {
    return this.at(values).value;
  }
  /**
   * Appends the exposition lines.
   *
   * @param _format The text format.
   * @param out The lines.
   */
  render(_format: MetricsFormat, out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const { values, series } of this.entries()) {
      out.push(`${this.name}${this.labels(values)} ${num(series.value)}`);
    }
  }
}

/** The state of one histogram series. */
export interface HistogramSeries {
  /** Observations per bucket (not cumulative), the last for `+Inf`. */
  counts: number[];
  /** Sum of the observations. */
  sum: number;
  /** Number of observations. */
  count: number;
  /** The latest exemplar per bucket. */
  exemplars: ({ ex: Exemplar; value: number; at: number } | undefined)[];
}

/** A histogram with fixed bucket bounds (seconds, by convention). */
export class Histogram extends MetricFamily<HistogramSeries> {
  /** `"histogram"`. */
  readonly kind = "histogram";
  /** Upper bounds of the buckets, ascending (`+Inf` is implicit). */
  readonly buckets: readonly number[];

  /**
   * Defines the histogram (use the registry's `histogram`).
   *
   * @param registry The registry.
   * @param name The name.
   * @param help The help text.
   * @param labelNames The label names.
   * @param buckets Upper bounds, ascending.
   * @throws {RangeError} When the bounds are not finite and ascending.
   */
  constructor(
    registry: MetricsRegistry,
    name: string,
    help: string,
    labelNames: string[],
    buckets: readonly number[],
  ) {
    super(registry, name, help, labelNames);
    if (!buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > buckets[i - 1]))) {
      throw new RangeError(
        `Cannot define histogram "${name}": buckets must ascend, got ${buckets}`,
      );
    }
    this.buckets = buckets;
  }
  /** A new series. */
  protected create(): HistogramSeries {
    const n = this.buckets.length + 1;
    return { counts: new Array(n).fill(0), sum: 0, count: 0, exemplars: new Array(n) };
  }
  /**
   * Records a value in the series of `values`.
   *
   * @param values Label values, in order.
   * @param value The observation.
   * @param exemplar The trace it belongs to (kept as the bucket's latest exemplar).
   */
  observe(values: readonly string[], value: number, exemplar?: Exemplar): void {
    this.observeIn(this.at(values), value, exemplar);
  }
  /**
   * Records a value in a series got from {@linkcode MetricFamily.series}.
   *
   * @param s The series.
   * @param value The observation.
   * @param exemplar The trace it belongs to.
   */
  observeIn(s: HistogramSeries, value: number, exemplar?: Exemplar): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    s.counts[i]++;
    s.sum += value;
    s.count++;
    if (exemplar) s.exemplars[i] = { ex: exemplar, value, at: Date.now() };
  }
  /**
   * Count and sum of a series.
   *
   * @param values Label values, in order.
   * @returns Count and sum.
   */
  value(values: readonly string[]): { count: number; sum: number } {
    const s = this.at(values);
    return { count: s.count, sum: s.sum };
  }
  /**
   * Appends the exposition lines (bucket exemplars in OpenMetrics only).
   *
   * @param format The text format.
   * @param out The lines.
   */
  render(format: MetricsFormat, out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const { values, series } of this.entries()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += series.counts[i];
        const le = i < this.buckets.length ? num(this.buckets[i]) : "+Inf";
        let line = `${this.name}_bucket${this.labels(values, `le="${le}"`)} ${cumulative}`;
        const e = format === "openmetrics" ? series.exemplars[i] : undefined;
        if (e) {
          line += ` # {trace_id="${e.ex.traceId}",span_id="${e.ex.spanId}"} ${num(e.value)} ${
            (e.at / 1000).toFixed(3)
          }`;
        }
        out.push(line);
      }
      out.push(`${this.name}_sum${this.labels(values)} ${num(series.sum)}`);
      out.push(`${this.name}_count${this.labels(values)} ${series.count}`);
    }
  }
}

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
