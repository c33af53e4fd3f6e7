/**
 * The OpenTelemetry API as Graflow uses it: through the API's process-wide registry.
 *
 * Every copy of `npm:@opentelemetry/api` in a process shares one registry, the object at
 * `globalThis[Symbol.for("opentelemetry.js.api.1")]`: `trace.setGlobalTracerProvider()` (or an
 * SDK's `register()`) puts the tracer provider there, and Deno's built-in OpenTelemetry
 * (`OTEL_DENO=true`) registers its tracer provider, context manager and meter provider there
 * before any user code runs. Graflow reads that registry directly and takes only the API's
 * types: nothing is loaded and nothing is allocated when nothing is registered (tracing off),
 * and the same code works where the npm package cannot be loaded at all (a container with no
 * network and an empty package cache still exports its spans through Deno's built-in
 * OpenTelemetry). Spans are put into contexts under the API's own span key, so spans made by
 * task code with the API nest under Graflow's.
 *
 * Trace context crosses processes as W3C `traceparent` / `tracestate` text
 * ({@linkcode TraceCarrier}), checked by {@linkcode parseTraceparent}.
 *
 * @module
 */
import type {
  Context,
  ContextManager,
  MeterProvider,
  Span,
  SpanContext,
  Tracer,
  TracerProvider,
  TraceState,
} from "../deps/otel_api.ts";

/** W3C trace context of a span, as it travels in messages. */
export interface TraceCarrier {
  /** `00-<trace id>-<span id>-<flags>`. */
  traceparent: string;
  /** Vendor state, when the span has any. */
  tracestate?: string;
}

/** What the API's registry may hold. */
interface OtelRegistry {
  trace?: TracerProvider;
  context?: ContextManager;
  metrics?: MeterProvider;
}

const REGISTRY = Symbol.for("opentelemetry.js.api.1");
/** The API's context key of the active span (`createContextKey("OpenTelemetry Context Key SPAN")`). */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
/** Name and version of Graflow's tracer and meter. */
export const INSTRUMENTATION_SCOPE = "@graflow/graflow";

/**
 * The API's registry, when anything is registered in it.
 *
 * @returns The registry or `undefined`.
 */
export function otelRegistry(): OtelRegistry | undefined {
  return (globalThis as Record<symbol, OtelRegistry | undefined>)[REGISTRY];
}

/** A context with no values, for when no context manager is registered. */
class PlainContext implements Context {
  readonly #values: Map<symbol, unknown>;
  constructor(values?: Map<symbol, unknown>) {
    this.#values = values ?? new Map();
  }
  getValue(key: symbol): unknown {
    return this.#values.get(key);
  }
  setValue(key: symbol, value: unknown): Context {
    return new PlainContext(new Map(this.#values).set(key, value));
  }
  deleteValue(key: symbol): Context {
    const values = new Map(this.#values);
    values.delete(key);
    return new PlainContext(values);
  }
}

const ROOT = new PlainContext();

/** Tracing through the registered provider and context manager. */
export interface Tracing {
  /** Graflow's tracer. */
  readonly tracer: Tracer;
  /** Whether a context manager is registered (else no context is ever active). */
  readonly managed: boolean;
  /** The active context (the root context when no context manager is registered). */
  active(): Context;
  /** Runs `fn` with `ctx` active (just runs it when no context manager is registered). */
  with<T>(ctx: Context, fn: () => T): T;
  /** `ctx` with `span` as its span. */
  withSpan(ctx: Context, span: Span): Context;
  /** The span of `ctx`, if any. */
  spanOf(ctx: Context): Span | undefined;
}

let cached: { provider: TracerProvider; manager?: ContextManager; tracing: Tracing } | undefined;

/**
 * Tracing, when a tracer provider is registered (else `undefined`: tracing is off).
 *
 * @returns The tracing helpers, cached while the registry holds the same provider.
 */
export function tracing(): Tracing | undefined {
  const registry = otelRegistry();
  const provider = registry?.trace;
  if (!provider) return undefined;
  const manager = registry.context;
  if (cached?.provider === provider && cached.manager === manager) return cached.tracing;
  const tracer = provider.getTracer(INSTRUMENTATION_SCOPE);
  const t: Tracing = {
    tracer,
    managed: manager !== undefined,
    active: manager ? () => manager.active() : () => ROOT,
    with: manager ? (ctx, fn) => manager.with(ctx, fn) : (_ctx, fn) => fn(),
    withSpan: (ctx, span) => ctx.setValue(SPAN_KEY, span),
    spanOf: (ctx) => ctx.getValue(SPAN_KEY) as Span | undefined,
  };
  cached = { provider, manager, tracing: t };
  return t;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** A tracestate: at most 32 comma-separated `key=value` members, printable ASCII. */
const TRACESTATE = /^[\x20-\x2b\x2d-\x7e]+(,[\x20-\x2b\x2d-\x7e]+){0,31}$/;

/**
 * The W3C trace context of a span context.
 *
 * @param sc The span context.
 * @returns The carrier, or `undefined` for an invalid span context (a non-recording no-op).
 */
export function toCarrier(sc: SpanContext): TraceCarrier | undefined {
  if (
    !/^[0-9a-f]{32}$/.test(sc.traceId) || sc.traceId === ZERO_TRACE ||
    !/^[0-9a-f]{16}$/.test(sc.spanId) || sc.spanId === ZERO_SPAN
  ) {
    return undefined;
  }
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
  const state = sc.traceState?.serialize();
  return {
    traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`,
    ...(state ? { tracestate: state } : {}),
  };
}

/**
 * Checks a W3C trace context that arrived as data.
 *
 * @param value The carrier (any value).
 * @returns The remote span context.
 * @throws {TypeError} Naming what is wrong.
 */
export function parseTraceparent(value: unknown): SpanContext {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError("trace context must be an object with a traceparent");
  }
  const { traceparent, tracestate } = value as Record<string, unknown>;
  const m = typeof traceparent === "string" ? TRACEPARENT.exec(traceparent) : null;
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) {
    throw new TypeError(
      `traceparent must be "00-<32 hex>-<16 hex>-<2 hex>" with non-zero ids, got ${
        JSON.stringify(traceparent)?.slice(0, 80)
      }`,
    );
  }
  if (
    tracestate !== undefined &&
    (typeof tracestate !== "string" || tracestate.length > 512 || !TRACESTATE.test(tracestate))
  ) {
    throw new TypeError("tracestate must be W3C tracestate text of at most 512 characters");
  }
  return {
    traceId: m[1],
    spanId: m[2],
    traceFlags: parseInt(m[3], 16),
    isRemote: true,
    ...(tracestate ? { traceState: new RawTraceState(tracestate) } : {}),
  };
}

/** A tracestate kept as received (`serialize()` gives it back). */
class RawTraceState implements TraceState {
  readonly #members: [string, string][];
  constructor(text: string | [string, string][]) {
    this.#members = typeof text === "string"
      ? text.split(",").map((m) => m.trim()).filter(Boolean).map((m) => {
        const i = m.indexOf("=");
        return [m.slice(0, i), m.slice(i + 1)] as [string, string];
      })
      : text;
  }
  get(key: string): string | undefined {
    return this.#members.find(([k]) => k === key)?.[1];
  }
  set(key: string, value: string): TraceState {
    return new RawTraceState([[key, value], ...this.#members.filter(([k]) => k !== key)]);
  }
  unset(key: string): TraceState {
    return new RawTraceState(this.#members.filter(([k]) => k !== key));
  }
  serialize(): string {
    return this.#members.map(([k, v]) => `${k}=${v}`).join(",");
  }
}

/** A span that only carries a remote span context (a parent from another process). */
class RemoteParent implements Span {
  readonly #sc: SpanContext;
  constructor(sc: SpanContext) {
    this.#sc = sc;
  }
  spanContext(): SpanContext {
    return this.#sc;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(): void {}
}

/**
 * A context whose parent span is the remote one of `carrier` (checked first).
 *
 * @param t Tracing.
 * @param carrier The trace context from a message.
 * @returns The context, or `undefined` when the carrier is malformed.
 */
export function remoteContext(t: Tracing, carrier: unknown): Context | undefined {
  try {
    return t.withSpan(t.active(), new RemoteParent(parseTraceparent(carrier)));
  } catch {
    return undefined;
  }
}

/**
 * The trace context of the active span, for a message sent from here.
 *
 * @returns The carrier, or `undefined` when tracing is off or no span is active.
 */
export function activeCarrier(): TraceCarrier | undefined {
  const t = tracing();
  if (!t) return undefined;
  const span = t.spanOf(t.active());
  return span ? toCarrier(span.spanContext()) : undefined;
}
