/**
 * Where a task runs: one mechanism, handler names. A task's own `handler` option wins; else
 * the `executor` of the innermost group it belongs to that has one; else, for group members,
 * the run's `executor`; else the run's backend (which contributes its handler under its own
 * name, e.g. `"redis"`); else `"direct"`. The executor names `"inline"` and `"workers"` are the
 * built-in handlers `"direct"` and `"worker"`. {@linkcode RunHandlers} resolves each node's
 * handler once per run, and checks up front that every handler the flow needs exists.
 *
 * @module
 */
import type { Graph, GraphNode } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import { WorkflowError } from "../errors.ts";

/** What placement needs of the run options. */
export interface PlacementOptions {
  /** The run's executor for group members. */
  executor?: string;
  /** The run's backend, by name. */
  backend?: { readonly name: string };
}

const ALIASES: Record<string, string> = { inline: "direct", workers: "worker" };

/**
 * The handler name of an executor name (`"inline"` → `"direct"`, `"workers"` → `"worker"`).
 *
 * @param executor An executor or handler name.
 * @returns The handler name.
 */
export function handlerOf(executor: string): string {
  return ALIASES[executor] ?? executor;
}

/**
 * The name of the handler that runs a task node.
 *
 * @param graph The flow graph.
 * @param node The task node.
 * @param options The run's executor and backend.
 * @returns The handler name.
 */
export function handlerName(graph: Graph, node: GraphNode, options: PlacementOptions): string {
  const own = node.task!.options.handler;
  if (own !== undefined) return handlerOf(own);
  for (let p = node.parent; p; p = graph.nodes.get(p.group)?.parent) {
    const executor = graph.groups.get(p.group)?.executor;
    if (executor !== undefined) return handlerOf(executor);
  }
  if (node.parent && options.executor !== undefined) return handlerOf(options.executor);
  return options.backend?.name ?? "direct";
}

const names = new WeakMap<Graph, Map<string, string[]>>();
/** Handler names by plan node index, per plan and placement (see {@linkcode RunHandlers}). */
const planNames = new WeakMap<Plan, Map<string, (string | undefined)[]>>();

function placementKey(options: PlacementOptions): string {
  return `${options.executor ?? ""}\u0000${options.backend?.name ?? ""}`;
}

/**
 * Every handler name a run of `graph` needs (cached per graph and options).
 *
 * @param graph The flow graph.
 * @param options The run's executor and backend.
 * @returns The distinct handler names.
 */
export function handlerNames(graph: Graph, options: PlacementOptions): string[] {
  let byOptions = names.get(graph);
  if (!byOptions) names.set(graph, byOptions = new Map());
  const key = placementKey(options);
  let list = byOptions.get(key);
  if (!list) {
    const seen = new Set<string>();
    for (const node of graph.nodes.values()) {
      if (node.task) seen.add(handlerName(graph, node, options));
    }
    byOptions.set(key, list = [...seen]);
  }
  return list;
}

/**
 * Looks a handler up by name.
 *
 * @param handlers The run's handlers.
 * @param name The handler name.
 * @param taskId The task that needs it (for the message).
 * @returns The handler.
 * @throws {WorkflowError} `HANDLER_NOT_FOUND` when no handler has this name.
 */
export function findHandler(
  handlers: ReadonlyMap<string, TaskHandler>,
  name: string,
  taskId: string,
): TaskHandler {
  const handler = handlers.get(name);
  if (handler) return handler;
  const hint = name === "redis" ? ": pass run({ backend: redisBackend(...) })" : "";
  throw new WorkflowError(
    `Cannot run task "${taskId}": handler "${name}" is not registered (known: ${
      [...handlers.keys()].map((k) => `"${k}"`).join(", ")
    })${hint}`,
    { code: "HANDLER_NOT_FOUND" },
  );
}

/** What {@linkcode RunHandlers} needs to know of a run. */
export interface RunHandlersOptions {
  /** The flow graph. */
  graph: Graph;
  /** Handlers by name. */
  handlers: ReadonlyMap<string, TaskHandler>;
  /** The run's executor and backend. */
  placement: PlacementOptions;
  /** Handlers by task name, consulted before placement (the test kit's mocks). */
  taskHandlers?: ReadonlyMap<string, TaskHandler>;
  /** The run's plan. */
  plan: Plan;
}

/** The handler of each task node of a run, resolved once per node. */
export class RunHandlers {
  readonly #options: RunHandlersOptions;
  readonly #at: (TaskHandler | undefined)[] = [];
  /** Handler names by plan node index, shared by the runs of a plan with this placement. */
  readonly #names: (string | undefined)[];

  /**
   * Checks that every handler the flow needs exists, before anything runs.
   *
   * @param options The run's graph, handlers and placement.
   * @throws {WorkflowError} `HANDLER_NOT_FOUND` when a task's handler is not registered.
   */
  constructor(options: RunHandlersOptions) {
    this.#options = options;
    const key = placementKey(options.placement);
    let byKey = planNames.get(options.plan);
    if (!byKey) planNames.set(options.plan, byKey = new Map());
    let names = byKey.get(key);
    if (!names) byKey.set(key, names = []);
    this.#names = names;
    for (const name of handlerNames(options.graph, options.placement)) {
      if (options.handlers.has(name)) continue; // the common case: no scan of the graph
      const taskId = this.#taskUsing(name);
      if (taskId !== undefined) findHandler(options.handlers, name, taskId);
    }
  }

  /**
   * The handler of a task node (of the flow, or added at run time).
   *
   * @param node The node.
   * @returns Its handler.
   * @throws {WorkflowError} `HANDLER_NOT_FOUND` when it is not registered.
   */
  of(node: PlanNode): TaskHandler {
    return this.#at[node.index] ?? this.#resolve(node);
  }

  #resolve(node: PlanNode): TaskHandler {
    const { graph, handlers, placement, taskHandlers } = this.#options;
    // A node of the plan has the same handler name in every run with this placement (nodes
    // added at run time, past the plan's, are resolved per run).
    let name = this.#names[node.index];
    if (name === undefined) {
      name = handlerName(graph, node.node, placement);
      if (this.#options.plan.nodes.get(node.id) === node) this.#names[node.index] = name;
    }
    return this.#at[node.index] = taskHandlers?.get(node.node.task!.name) ??
      findHandler(handlers, name, node.id);
  }

  /** A task that runs on handler `name` (none when every such task has a task handler). */
  #taskUsing(name: string): string | undefined {
    const { graph, placement, taskHandlers } = this.#options;
    for (const node of graph.nodes.values()) {
      if (
        node.task && !taskHandlers?.has(node.task.name) &&
        handlerName(graph, node, placement) === name
      ) {
        return node.id;
      }
    }
    return undefined;
  }
}
