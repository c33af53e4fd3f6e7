/**
 * The metric families of a `MetricsRegistry`: counters, gauges and histograms with labels, and
 * their exposition lines in Prometheus text (0.0.4) and OpenMetrics text (1.0.0, with exemplars
 * on histogram buckets).
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

/** What bounds the label values of a family (its registry). */
export interface LabelKeeper {
  /**
   * The value kept for a label: itself, or `"_other"` past the label's cap.
   *
   * @param name The label name.
   * @param value The value.
   * @returns The value to record.
   */
  keep(name: string, value: string): string;
}

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
  readonly #registry: LabelKeeper;
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
  constructor(registry: LabelKeeper, name: string, help: string, labelNames: string[]) {
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
    registry: LabelKeeper,
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
