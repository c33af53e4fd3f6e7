/**
 * The spans of a run's parallel groups and maps: `group <id>` (or `map <id>`) is opened when its
 * first attempt starts, as a child of the span of the group it sits in (else of the run's span),
 * and ended when the group settles, with its outcome and member counts (a failed group's span
 * has an error status), or when the run ends first (`graflow.group.outcome` `"unsettled"`).
 * `RunTelemetry` owns one when the run is traced.
 *
 * @module
 */
import type { Context, Span } from "../deps/otel_api.ts";
import type { Graph } from "../graph/graph.ts";
import type { Tracing } from "./otel.ts";

const STATUS_ERROR = 2;

/** The open group spans of one run. */
export class GroupSpans {
  readonly #t: Tracing;
  readonly #graph: Graph;
  readonly #runId: string;
  readonly #runCtx: Context;
  readonly #open = new Map<string, { span: Span; ctx: Context }>();

  /**
   * No group span is open yet.
   *
   * @param t The tracing helpers.
   * @param graph The flow's graph (how groups nest, and which are groups or maps).
   * @param runId The run id (an attribute of every span).
   * @param runCtx The context of the run's span.
   */
  constructor(t: Tracing, graph: Graph, runId: string, runCtx: Context) {
    this.#t = t;
    this.#graph = graph;
    this.#runId = runId;
    this.#runCtx = runCtx;
  }

  /**
   * The context of the open span of a group (opened now when it has none).
   *
   * @param groupId The group (or the node that owns a map).
   * @returns The context.
   */
  ctxOf(groupId: string): Context {
    const open = this.#open.get(groupId);
    if (open) return open.ctx;
    const within = this.#graph.nodes.get(groupId)?.parent?.group;
    const outer = within === undefined ? this.#runCtx : this.ctxOf(within);
    const kind = this.#graph.groups.has(groupId) ? "group" : "map";
    const span = this.#t.tracer.startSpan(`${kind} ${groupId}`, {
      attributes: { "graflow.run.id": this.#runId, "graflow.group.id": groupId },
    }, outer);
    const ctx = this.#t.withSpan(outer, span);
    this.#open.set(groupId, { span, ctx });
    return ctx;
  }

  /**
   * Ends the span of a group that settled (nothing when it has none open).
   *
   * @param groupId The group.
   * @param ok Whether its policy let it succeed.
   * @param succeeded How many members succeeded.
   * @param failed How many members failed.
   */
  settled(groupId: string, ok: boolean, succeeded: number, failed: number): void {
    const open = this.#open.get(groupId);
    if (!open) return;
    this.#open.delete(groupId);
    open.span.setAttributes({
      "graflow.group.outcome": ok ? "succeeded" : "failed",
      "graflow.group.succeeded": succeeded,
      "graflow.group.failed": failed,
    });
    if (!ok) open.span.setStatus({ code: STATUS_ERROR, message: "the group's policy failed it" });
    open.span.end();
  }

  /** Ends the spans of the groups still open when the run ended. */
  endAll(): void {
    for (const [id, g] of this.#open) {
      g.span.setAttribute("graflow.group.outcome", "unsettled");
      g.span.end();
      this.#open.delete(id);
    }
  }
}
