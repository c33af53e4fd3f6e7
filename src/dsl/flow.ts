/**
 * The `flow` tagged template and the `Flow` it returns.
 *
 * @module
 */
import { parse, type Program } from "./parser.ts";
import { buildGraph, suggest } from "./build.ts";
import { BARRIER, type Graph } from "../graph/graph.ts";
import { type Plan, planGraph } from "../graph/plan.ts";
import { staticModel } from "../graph/executed_graph.ts";
import { toAscii, toDot, toMermaid } from "../graph/render.ts";
import { graphVersion } from "../graph/graph_version.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import { WorkflowRun } from "../run/workflow_run.ts";

const programs = new WeakMap<TemplateStringsArray, Program>();

/** A workflow: a graph of tasks bound to their functions, ready to run. */
export class Flow {
  /** @internal The graph (task nodes; fork and barrier nodes for parallel groups). */
  readonly graph: Graph;
  /** The name given with `registerFlow`, if any. */
  readonly name: string | undefined;
  readonly #plans = new Map<string, Plan>();
  #defaultPlan: Plan | undefined;
  #version: string | undefined;

  /** @internal Use the {@linkcode flow} tag or `registerFlow`. */
  constructor(graph: Graph, name?: string) {
    this.graph = graph;
    this.name = name;
  }

  /** Hash of the flow's graph: runs record it, and continue only with the same version. */
  get version(): string {
    return this.#version ??= graphVersion(this.graph);
  }

  /**
   * The task (and map) ids of the flow, in order of first appearance.
   *
   * @returns The task (and map) ids of the flow, in order of first appearance.
   */
  get tasks(): string[] {
    return [...this.graph.nodes.values()].filter((n) => n.task).map((n) => n.id);
  }

  /** @internal The scheduling plan for a start set. */
  plan(start?: string | string[]): Plan {
    if (start === undefined && this.#defaultPlan) return this.#defaultPlan;
    const starts = start === undefined ? this.#defaultStarts() : [start].flat();
    const key = starts.join("\u0000");
    let plan = this.#plans.get(key);
    if (!plan) {
      for (const s of starts) {
        const node = this.graph.nodes.get(s);
        if (!node || s.endsWith(BARRIER)) {
          const close = suggest(s, this.tasks);
          throw new TypeError(
            `Cannot start flow at "${s}": no such task or group` +
              (close.length ? ` (did you mean ${close.map((n) => `"${n}"`).join(", ")}?)` : ""),
          );
        }
        if (node.parent) {
          // Its group would never settle, so the work after the group would silently not run.
          throw new TypeError(
            `Cannot start flow at "${s}": it is a member of group "${node.parent.group}"; start at the group or at a task outside groups`,
          );
        }
      }
      plan = planGraph(this.graph, starts);
      this.#plans.set(key, plan);
    }
    if (start === undefined) this.#defaultPlan = plan;
    return plan;
  }

  #defaultStarts(): string[] {
    const roots = this.graph.roots();
    if (roots.length) return roots;
    // Every node is on a cycle: start at the first node written.
    const first = this.graph.nodes.keys().next();
    return first.done ? [] : [first.value];
  }

  /**
   * Starts a run and returns its handle (to await, abort, or checkpoint from the host).
   *
   * @param options Run options.
   * @returns The run handle.
   */
  start(options: RunOptions = {}): WorkflowRun {
    return new WorkflowRun(this, options);
  }

  /**
   * Runs the flow to the end.
   *
   * @param options Input, start, limits, channel, handlers, backend, events.
   * @returns The run result.
   * @throws {WorkflowError} When the run fails (a subclass says how).
   *
   * @example Running a flow
   * ```ts
   * import { flow, task } from "@graflow/graflow";
   * const add1 = task("doc_run_add1", (n: number) => n + 1);
   * const twice = task("doc_run_twice", (n: number) => n * 2);
   * const result = await flow`doc_run_add1 >> doc_run_twice`.run({ input: 1 });
   * if (result.output !== 4) throw new Error("unexpected");
   * ```
   */
  run(options: RunOptions = {}): Promise<RunResult> {
    return this.start(options).result;
  }

  /**
   * Mermaid `flowchart` source of the flow.
   *
   * @returns Mermaid `flowchart` source of the flow.
   */
  toMermaid(): string {
    return toMermaid(staticModel(this.graph));
  }

  /**
   * A plain-text picture of the flow.
   *
   * @returns A plain-text picture of the flow.
   */
  toAscii(): string {
    return toAscii(staticModel(this.graph));
  }

  /**
   * Graphviz DOT source of the flow.
   *
   * @returns Graphviz DOT source of the flow.
   */
  toDot(): string {
    return toDot(staticModel(this.graph));
  }
}

/**
 * Builds a flow from a template: `>>` is sequence, `|` a parallel group, parentheses group,
 * names come from the task registry and `${}` interpolates tasks, groups and flows. Several
 * statements (lines or `;`) share nodes by name. Each template is parsed once.
 *
 * @param strings The template strings.
 * @param values Interpolated tasks, groups (`parallel(...)`) and flows.
 * @returns The flow.
 * @throws {FlowSyntaxError} When the template is malformed or names an unknown task.
 *
 * @example A diamond
 * ```ts
 * import { flow, task } from "@graflow/graflow";
 * const fetch = task("doc_fetch", () => [1, 2, 3]);
 * const sum = task("doc_sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
 * const max = task("doc_max", (xs: number[]) => Math.max(...xs));
 * const report = task("doc_report", (r: { doc_sum: number; doc_max: number }) => r);
 * const f = flow`${fetch} >> (doc_sum | doc_max) >> ${report}`;
 * const { output } = await f.run();
 * ```
 */
export function flow(strings: TemplateStringsArray, ...values: unknown[]): Flow {
  let program = programs.get(strings);
  if (!program) {
    program = parse(strings);
    programs.set(strings, program);
  }
  return new Flow(buildGraph(program, values));
}

/**
 * Whether a template's parse is cached (for tests of the parse-once guarantee).
 *
 * @param strings A template.
 * @returns `true` once the template was parsed.
 */
export function isParsed(strings: TemplateStringsArray): boolean {
  return programs.has(strings);
}
