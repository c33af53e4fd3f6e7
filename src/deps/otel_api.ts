/**
 * The types of `@opentelemetry/api` that Graflow uses, pinned once. Types only: nothing is
 * loaded at run time (Graflow reaches the API through its process-wide registry, see
 * `src/observability/otel.ts`), so containers and other places that cannot fetch npm packages
 * run Graflow's modules unchanged, and projects that import Graflow need no import map entry.
 *
 * @module
 */
export type {
  Attributes,
  Context,
  ContextManager,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  Span,
  SpanContext,
  Tracer,
  TracerProvider,
  TraceState,
  UpDownCounter,
} from "npm:@opentelemetry/api@1.9.0";
