/**
 * The trace context of task attempts where it crosses a boundary: the host side finds the span
 * of an attempt from its `ctx` ({@linkcode traceOf}, put in every remote task message), the
 * remote side runs the task inside a span whose parent is that one and makes it the active
 * span, so that spans the task makes itself nest under it ({@linkcode runTraced}), and the host
 * serves `ctx` calls inside spans of their own ({@linkcode tracedCall}). All of it does nothing
 * when tracing is off; nothing here loads a package (containers import it).
 *
 * @module
 */
import type { Attributes, Span } from "../deps/otel_api.ts";
import { remoteContext, toCarrier, type TraceCarrier, tracing } from "./otel.ts";

/** OpenTelemetry span kinds and status codes (the API's enum values). */
export const SPAN_KIND = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 } as const;
const STATUS_ERROR = 2;

const attemptSpans = new WeakMap<object, Span>();

/**
 * Remembers the span of a task attempt (host side).
 *
 * @param ctx The attempt's context.
 * @param span Its span.
 */
export function setAttemptSpan(ctx: object, span: Span): void {
  attemptSpans.set(ctx, span);
}

/**
 * The span of a task attempt, if it has one.
 *
 * @param ctx The attempt's context.
 * @returns The span.
 */
export function attemptSpan(ctx: object): Span | undefined {
  return attemptSpans.get(ctx);
}

/**
 * The W3C trace context of a task attempt, to send with it to wherever it runs (a custom
 * handler that runs tasks elsewhere puts it in its messages, as the built-in ones do).
 *
 * @param ctx The attempt's `ctx`, as the handler got it.
 * @returns `{ traceparent, tracestate? }`, or `undefined` when the run is not traced.
 *
 * @example In a custom handler
 * ```ts
 * import { type TaskHandler, traceHeaders } from "@graflow/graflow";
 * const handler: TaskHandler = {
 *   async execute(task, input, ctx) {
 *     const headers = traceHeaders(ctx); // send along with the task
 *     return await task.invoke(input, ctx);
 *   },
 * };
 * ```
 */
export function traceHeaders(ctx: object): TraceCarrier | undefined {
  const span = attemptSpans.get(ctx);
  return span ? toCarrier(span.spanContext()) : undefined;
}

/**
 * Records an error on a span: an exception event, the error status, and the attributes
 * `error.type` (its class) and `graflow.error.code`.
 *
 * @param span The span.
 * @param error What was thrown.
 */
export function recordError(span: Span, error: unknown): void {
  const e = error as { name?: unknown; message?: unknown; code?: unknown; stack?: unknown };
  const name = typeof e?.name === "string" ? e.name : typeof error;
  const message = typeof e?.message === "string" ? e.message : String(error);
  span.recordException({
    name,
    message,
    ...(typeof e?.stack === "string" ? { stack: e.stack } : {}),
  });
  span.setAttribute("error.type", name);
  if (typeof e?.code === "string") span.setAttribute("graflow.error.code", e.code);
  span.setStatus({ code: STATUS_ERROR, message: message.slice(0, 500) });
}

/** What the remote side knows of the task it runs. */
export interface TracedTask {
  /** The run. */
  runId: string;
  /** The task. */
  taskId: string;
  /** 1-based attempt. */
  attempt: number;
  /** 1-based cycle. */
  cycle: number;
  /** The trace context it came with. */
  trace?: TraceCarrier;
}

/**
 * Runs a task that came from another process inside a span (`execute <task>`) whose parent is
 * the attempt's span there, with that span active so that the task's own spans nest under it.
 * Without a trace context or with tracing off, just runs it.
 *
 * @param message The task.
 * @param where Where it runs (`"worker"`, `"process"`, `"container"`, `"redis"`).
 * @param fn Runs the task.
 * @param attributes More span attributes.
 * @returns What `fn` returns.
 */
export async function runTraced<T>(
  message: TracedTask,
  where: string,
  fn: () => Promise<T>,
  attributes?: Attributes,
): Promise<T> {
  const t = message.trace ? tracing() : undefined;
  const parent = t && remoteContext(t, message.trace);
  if (!t || !parent) return await fn();
  const span = t.tracer.startSpan(`execute ${message.taskId}`, {
    kind: SPAN_KIND.consumer,
    attributes: {
      "graflow.run.id": message.runId,
      "graflow.task.id": message.taskId,
      "graflow.task.attempt": message.attempt,
      "graflow.task.cycle": message.cycle,
      "graflow.executor": where,
      ...attributes,
    },
  }, parent);
  try {
    const value = await t.with(t.withSpan(parent, span), fn);
    span.setAttribute("graflow.task.outcome", "succeeded");
    return value;
  } catch (error) {
    span.setAttribute("graflow.task.outcome", "failed");
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Serves a `ctx` call of a remote task inside a span (`ctx.<op>`), child of the caller's span
 * when the call carried one (Redis), else of the attempt's span.
 *
 * @param ctx The attempt's host context.
 * @param op The call's operation, e.g. `"channel.get"`.
 * @param carrier The caller's trace context, if the call carried one.
 * @param fn Serves it.
 * @returns What `fn` returns.
 */
export async function tracedCall<T>(
  ctx: object,
  op: string,
  carrier: TraceCarrier | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const attempt = attemptSpans.get(ctx);
  const t = attempt || carrier ? tracing() : undefined;
  if (!t) return await fn();
  const parent = (carrier && remoteContext(t, carrier)) ??
    (attempt ? t.withSpan(t.active(), attempt) : undefined);
  if (!parent) return await fn();
  const span = t.tracer.startSpan(`ctx.${op}`, {
    kind: carrier ? SPAN_KIND.server : SPAN_KIND.internal,
    attributes: { "graflow.ctx.op": op },
  }, parent);
  try {
    return await t.with(t.withSpan(parent, span), fn);
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}
