/**
 * The instrumentation of one run: spans (OpenTelemetry), metrics ({@linkcode graflowMetrics})
 * and progress reports (`run({ onProgress })`), fed by the engine through one port,
 * {@linkcode RunObserver}: every event of the run, plus the start and end of each task attempt.
 *
 * {@linkcode runTelemetry} returns `undefined` when no tracer provider is registered, no
 * metrics are recorded and nobody asked for progress: the engine then calls nothing and
 * creates nothing per task.
 *
 * Spans: `run <flow>` (a root, or a child of the context active when the run was started; a
 * resumed or taken-over run links to the run's first span), `group <id>` for each activation
 * of a parallel group, `task <id>` for each attempt (child of its group, else of the run), and
 * on the side that runs it, `execute <id>` (see `task_trace.ts`). Attributes: `graflow.run.id`,
 * `graflow.flow`, `graflow.task.id`, `graflow.task.attempt`, `graflow.task.cycle`,
 * `graflow.task.handler`, `graflow.task.outcome`, `graflow.group.id`,
 * `graflow.group.outcome`, `graflow.run.status`; errors set `error.type` (the class) and
 * `graflow.error.code`. Retries, feedback requests and answers, checkpoints, tasks added at run
 * time and waits for a worker are span events. Group and map spans are kept by
 * `group_spans.ts`.
 *
 * @module
 */
import type { Context, Span, SpanContext } from "../deps/otel_api.ts";
import type { Graph } from "../graph/graph.ts";
import type { PlanNode } from "../graph/plan.ts";
import { handlerName, type PlacementOptions } from "../engine/placement.ts";
import type { WorkflowEvent } from "./events.ts";
import type { Clock, Timer } from "../time/clock.ts";
import { parseTraceparent, toCarrier, type TraceCarrier, type Tracing, tracing } from "./otel.ts";
import { graflowMetrics } from "./run_metrics.ts";
import type { Exemplar } from "./metrics_registry.ts";
import type { RunProgress } from "./progress.ts";
import { recordError, setAttemptSpan } from "./task_trace.ts";
import { GroupSpans } from "./group_spans.ts";

/** A task attempt, as the engine describes it to observers. */
export interface AttemptInfo {
  /** The task id. */
  readonly taskId: string;
  /** 1-based attempt. */
  readonly attempt: number;
  /** 1-based cycle. */
  readonly cycle: number;
  /** The execution's number in its run (1-based, unique in the run). */
  readonly step: number;
  /** Its plan node. */
  readonly node: PlanNode;
  /** The current attempt's context (what its handler gets). */
  readonly ctx: object;
  /** For a map item: its map (the items' spans nest under the map's). */
  readonly map?: { readonly owner: PlanNode };
}

/** What the engine reports to a run's instrumentation. */
export interface RunObserver {
  /** Every event of the run. */
  event(event: WorkflowEvent): void;
  /**
   * Runs an attempt's handler call inside the attempt's trace context.
   *
   * @param attempt The attempt.
   * @param call Calls the handler.
   * @returns What `call` returns.
   */
  attempt<T>(attempt: AttemptInfo, call: () => T): T;
  /**
   * An attempt ended: succeeded (`error` unset) or failed, and whether a retry follows.
   *
   * @param attempt The attempt.
   * @param error What it failed with.
   * @param retryDelayMs Set when a retry is scheduled after this delay.
   */
  attemptEnded(attempt: AttemptInfo, error?: Error, retryDelayMs?: number): void;
}

/** Options of {@linkcode runTelemetry}. */
export interface RunTelemetryOptions {
  /** The run id. */
  runId: string;
  /** The flow's registered name (`""` when none). */
  flow: string;
  /** Its graph. */
  graph: Graph;
  /** Executor and backend (for the handler name of attempts). */
  placement: PlacementOptions;
  /** The run's clock (progress timing). */
  clock: Clock;
  /** The trace context of the run's first span, for a run that continues (resume, takeover). */
  link?: TraceCarrier;
  /** Receives progress. */
  onProgress?: (progress: RunProgress) => void;
  /** How often progress is reported. @default {1000} */
  progressIntervalMs?: number;
}

function exemplarOf(span: Span | undefined): Exemplar | undefined {
  if (!span) return undefined;
  const sc = span.spanContext();
  return sc.traceFlags & 1 ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}

function outcomeOf(error: Error | undefined): string {
  if (!error) return "succeeded";
  const code = (error as { code?: unknown }).code;
  if (code === "TASK_TIMEOUT" || error.name === "TaskTimeoutError") return "timeout";
  if (error.name === "AbortError" || code === "TASK_CANCELED" || code === "SETTLED_EARLY") {
    return "cancelled";
  }
  return "failed";
}

/**
 * The instrumentation of a run about to start, or `undefined` when nothing would be recorded.
 * Call it where the run is started: the active context then becomes the run span's parent.
 *
 * @param o The run.
 * @returns The telemetry.
 */
export function runTelemetry(o: RunTelemetryOptions): RunTelemetry | undefined {
  const t = tracing();
  const metrics = graflowMetrics.active();
  if (!t && !metrics && !o.onProgress) return undefined;
  return new RunTelemetry(o, t, metrics);
}

/** Spans, metrics and progress of one run (see {@linkcode runTelemetry}). */
export class RunTelemetry implements RunObserver {
  readonly #o: RunTelemetryOptions;
  readonly #t: Tracing | undefined;
  readonly #metrics: boolean;
  readonly #span: Span | undefined;
  readonly #ctx: Context | undefined;
  readonly #started = performance.now();
  readonly #clockStart: number;
  // Open attempts by step (dense small integers: array slots, no hashing, nothing allocated).
  readonly #open: (AttemptInfo | undefined)[] = [];
  readonly #startedAt: number[] = [];
  readonly #spans: (Span | undefined)[] = [];
  #openCount = 0;
  readonly #groups: GroupSpans | undefined;
  readonly #feedback = new Map<string, { taskId: string; started: number }>();
  readonly #names = new Map<PlanNode, string>();
  #done = 0;
  #failed = 0;
  #retrying = 0;
  #timer: Timer | undefined;
  #ended = false;

  /** @internal Use {@linkcode runTelemetry}. */
  constructor(o: RunTelemetryOptions, t: Tracing | undefined, metrics: boolean) {
    this.#o = o;
    this.#t = t;
    this.#metrics = metrics;
    this.#clockStart = o.clock.now();
    if (t) {
      const parent = t.active();
      let link: SpanContext | undefined;
      try {
        link = o.link ? parseTraceparent(o.link) : undefined;
      } catch { /* a malformed stored trace context only loses the link */ }
      this.#span = t.tracer.startSpan(`run ${o.flow || "flow"}`, {
        attributes: { "graflow.run.id": o.runId, "graflow.flow": o.flow },
        ...(link
          ? { links: [{ context: link, attributes: { "graflow.link": "continues" } }] }
          : {}),
      }, parent);
      this.#ctx = t.withSpan(parent, this.#span);
      this.#groups = new GroupSpans(t, o.graph, o.runId, this.#ctx);
    }
  }

  /** The trace context of the run's span (to keep with the run, for later links). */
  get carrier(): TraceCarrier | undefined {
    return this.#span ? toCarrier(this.#span.spanContext()) : undefined;
  }

  event(e: WorkflowEvent): void {
    switch (e.type) {
      case "run.started":
        this.#span?.setAttribute("graflow.run.resumed", e.resumed);
        if (this.#metrics) graflowMetrics.runStarted(this.#o.flow);
        if (this.#o.onProgress) {
          this.#report("running");
          this.#tick();
        }
        return;
      case "run.finished":
        return this.#end(e.status, e.steps);
      case "run.failed":
        return this.#end("failed", e.steps, e.error);
      case "group.settled":
        if (this.#metrics) graflowMetrics.group(e.groupId, e.ok ? "succeeded" : "failed");
        return this.#groups?.settled(e.groupId, e.ok, e.succeeded.length, e.failed.length);
      case "feedback.requested": {
        this.#feedback.set(e.feedbackId, { taskId: e.taskId, started: performance.now() });
        if (this.#metrics) graflowMetrics.feedbackWaiting(e.taskId, 1);
        this.#spanOfTask(e.taskId)?.addEvent("feedback.requested", {
          "graflow.feedback.id": e.feedbackId,
        });
        return;
      }
      case "feedback.received": {
        const f = this.#feedback.get(e.feedbackId);
        this.#feedback.delete(e.feedbackId);
        if (f && this.#metrics) {
          graflowMetrics.feedbackWaiting(e.taskId, -1);
          graflowMetrics.feedbackAnswered(e.taskId, (performance.now() - f.started) / 1000);
        }
        this.#spanOfTask(e.taskId)?.addEvent("feedback.received", {
          "graflow.feedback.id": e.feedbackId,
        });
        return;
      }
      case "task.waiting":
        this.#spanOfTask(e.taskId)?.addEvent("waiting", {
          "graflow.wait.reason": e.reason,
          "graflow.wait.ms": e.waitedMs,
        });
        return;
      case "task.added":
        this.#span?.addEvent("task.added", {
          "graflow.task.id": e.taskId,
          "graflow.task.added_by": e.by,
          "graflow.task.goto": e.goto,
        });
        return;
      case "checkpoint.written":
        this.#span?.addEvent("checkpoint", {
          "graflow.run.steps": e.steps,
          ...(e.taskId ? { "graflow.task.id": e.taskId } : {}),
        });
        return;
    }
  }

  attempt<T>(a: AttemptInfo, call: () => T): T {
    if (a.attempt > 1 && this.#retrying > 0) this.#retrying--;
    const step = a.step;
    if (this.#open[step] === undefined) this.#openCount++;
    this.#open[step] = a;
    if (this.#metrics) {
      graflowMetrics.running(1);
      this.#startedAt[step] = performance.now();
    }
    const t = this.#t;
    if (!t) return call();
    const group = a.map ? a.map.owner.id : a.node.node.parent?.group;
    const parent = group === undefined ? this.#ctx! : this.#groups!.ctxOf(group);
    const handler = this.#handler(a.node);
    const span = t.tracer.startSpan(`task ${a.taskId}`, {
      attributes: {
        "graflow.run.id": this.#o.runId,
        "graflow.flow": this.#o.flow,
        "graflow.task.id": a.taskId,
        "graflow.task.attempt": a.attempt,
        "graflow.task.cycle": a.cycle,
        "graflow.task.handler": handler,
      },
    }, parent);
    // Handlers that run tasks elsewhere find the span from the ctx (traceHeaders); the
    // in-process handler never does.
    if (handler !== "direct") setAttemptSpan(a.ctx, span);
    this.#spans[step] = span;
    // The attempt's span is the active one while the task runs in this process (spans the task
    // makes nest under it); without a context manager nothing is ever active.
    return t.managed ? t.with(t.withSpan(parent, span), call) : call();
  }

  attemptEnded(a: AttemptInfo, error?: Error, retryDelayMs?: number): void {
    const step = a.step;
    if (this.#open[step] === undefined) return;
    this.#open[step] = undefined;
    this.#openCount--;
    const outcome = outcomeOf(error);
    const span = this.#spans[step];
    if (this.#metrics) {
      graflowMetrics.running(-1);
      const seconds = (performance.now() - this.#startedAt[step]) / 1000;
      graflowMetrics.attempt(a.taskId, outcome, seconds, exemplarOf(span));
      if (retryDelayMs !== undefined) graflowMetrics.retry(a.taskId);
    }
    if (!error) this.#done++;
    else if (retryDelayMs !== undefined) this.#retrying++;
    else if (outcome !== "cancelled") this.#failed++;
    if (!span) return;
    this.#spans[step] = undefined;
    span.setAttribute("graflow.task.outcome", outcome);
    if (error) recordError(span, error);
    if (retryDelayMs !== undefined) {
      span.addEvent("retry", { "graflow.retry.delay_ms": retryDelayMs });
    }
    span.end();
  }

  #handler(node: PlanNode): string {
    let name = this.#names.get(node);
    if (name === undefined) {
      name = node.node.task ? handlerName(this.#o.graph, node.node, this.#o.placement) : "?";
      this.#names.set(node, name);
    }
    return name;
  }

  #spanOfTask(taskId: string): Span | undefined {
    if (!this.#t) return undefined;
    for (let step = this.#spans.length - 1; step > 0; step--) {
      const span = this.#spans[step];
      if (span && this.#open[step]?.taskId === taskId) return span;
    }
    return this.#span;
  }

  #progress(status: RunProgress["status"]): RunProgress {
    const waitingFeedback = this.#feedback.size;
    return {
      runId: this.#o.runId,
      flow: this.#o.flow,
      done: this.#done,
      running: Math.max(0, this.#openCount - waitingFeedback),
      failed: this.#failed,
      waiting: waitingFeedback + this.#retrying,
      elapsedMs: this.#o.clock.now() - this.#clockStart,
      status,
    };
  }

  #report(status: RunProgress["status"]): void {
    try {
      this.#o.onProgress!(this.#progress(status));
    } catch { /* a failing listener must not break the run */ }
  }

  #tick(): void {
    if (this.#ended) return;
    this.#timer = this.#o.clock.setTimer(() => {
      this.#report("running");
      this.#tick();
    }, this.#o.progressIntervalMs ?? 1000);
  }

  #end(status: RunProgress["status"], steps: number, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#timer?.clear();
    // Attempts still open were abandoned with the run.
    for (const a of this.#open) if (a) this.attemptEnded(a, abandoned(status));
    for (const f of this.#feedback.values()) {
      if (this.#metrics) graflowMetrics.feedbackWaiting(f.taskId, -1);
    }
    this.#groups?.endAll();
    const span = this.#span;
    if (this.#metrics) {
      graflowMetrics.runFinished(
        this.#o.flow,
        status,
        (performance.now() - this.#started) / 1000,
        exemplarOf(span),
      );
    }
    if (this.#o.onProgress) this.#report(status);
    this.#feedback.clear();
    if (!span) return;
    span.setAttributes({ "graflow.run.status": status, "graflow.run.steps": steps });
    if (error !== undefined) recordError(span, error);
    span.end();
  }

  /**
   * Ends the run's span for a run that never started (refused options, an idempotency key
   * that found an earlier run).
   *
   * @param reason Why.
   */
  discard(reason: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#timer?.clear();
    if (!this.#span) return;
    if (reason instanceof Error) recordError(this.#span, reason);
    else this.#span.setAttribute("graflow.run.status", String(reason));
    this.#span.end();
  }
}

function abandoned(status: string): Error {
  const e = new Error(`Task abandoned: the run ended (${status}) while it ran`);
  e.name = "AbortError";
  return e;
}
