/**
 * An in-memory tracer provider for the tests: every span it starts is kept with its parent,
 * attributes, events, links and status; registered through the real `@opentelemetry/api`
 * (with an AsyncLocalStorage context manager, as an SDK would register one).
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Attributes,
  type Context,
  context,
  type ContextManager,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";

/** A finished or open span as recorded. */
export interface RecordedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind?: number;
  attributes: Attributes;
  events: { name: string; attributes?: Attributes }[];
  links: Link[];
  status?: SpanStatus;
  exceptions: unknown[];
  ended: boolean;
}

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

class RecordingSpan implements Span {
  readonly #sc: SpanContext;
  readonly record: RecordedSpan;
  constructor(record: RecordedSpan) {
    this.record = record;
    this.#sc = { traceId: record.traceId, spanId: record.spanId, traceFlags: 1 };
  }
  spanContext(): SpanContext {
    return this.#sc;
  }
  setAttribute(key: string, value: unknown): this {
    this.record.attributes[key] = value as never;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.record.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributes?: Attributes): this {
    this.record.events.push({ name, attributes });
    return this;
  }
  addLink(link: Link): this {
    this.record.links.push(link);
    return this;
  }
  addLinks(links: Link[]): this {
    this.record.links.push(...links);
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(name: string): this {
    this.record.name = name;
    return this;
  }
  end(): void {
    this.record.ended = true;
  }
  isRecording(): boolean {
    return true;
  }
  recordException(exception: unknown): void {
    this.record.exceptions.push(exception);
  }
}

/** Records spans; counts every call made to it. */
export class RecordingTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];
  calls = 0;
  getTracer(): Tracer {
    this.calls++;
    const spans = this.spans;
    const tracer: Tracer = {
      startSpan: (name: string, options: SpanOptions = {}, ctx?: Context): Span => {
        this.calls++;
        const parent = trace.getSpan(ctx ?? context.active())?.spanContext();
        const record: RecordedSpan = {
          name,
          traceId: parent?.traceId ?? hex(16),
          spanId: hex(8),
          ...(parent ? { parentSpanId: parent.spanId } : {}),
          kind: options.kind,
          attributes: { ...options.attributes },
          events: [],
          links: [...(options.links ?? [])],
          exceptions: [],
          ended: false,
        };
        spans.push(record);
        return new RecordingSpan(record);
      },
      startActiveSpan(name: string, ...args: unknown[]) {
        const fn = args.at(-1) as (span: Span) => unknown;
        const span = tracer.startSpan(
          name,
          typeof args[0] === "object" ? args[0] as SpanOptions : {},
        );
        return context.with(trace.setSpan(context.active(), span), () => fn(span));
      },
    } as Tracer;
    return tracer;
  }
  /** The spans named so. */
  named(name: string): RecordedSpan[] {
    return this.spans.filter((s) => s.name === name);
  }
}

class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    return ((...args: unknown[]) =>
      this.with(ctx, target as (...a: unknown[]) => unknown, undefined, ...args)) as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

/**
 * Registers a recording provider (and a context manager) for the duration of `fn`.
 *
 * @param fn The test body.
 * @returns What `fn` returns.
 */
export async function withRecordingTracer<T>(
  fn: (provider: RecordingTracerProvider) => Promise<T>,
): Promise<T> {
  const provider = new RecordingTracerProvider();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AlsContextManager());
  try {
    return await fn(provider);
  } finally {
    trace.disable();
    context.disable();
  }
}
