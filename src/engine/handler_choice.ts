/**
 * Which handler runs a task: its own `handler` option, else its group's (or the run's)
 * executor, else the run's backend, else `"direct"`.
 *
 * @module
 */
import type { Graph, GraphNode } from "../graph/graph.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { RunOptions } from "./run_options.ts";
import { WorkflowError } from "../errors.ts";

/**
 * Picks the handler of a task node.
 *
 * @param graph The flow graph.
 * @param node The task node.
 * @param options The run options (executor, backend).
 * @param handlers Handlers by name.
 * @returns The handler.
 * @throws {WorkflowError} `HANDLER_NOT_FOUND` when the handler is not registered.
 */
export function pickHandler(
  graph: Graph,
  node: GraphNode,
  options: RunOptions,
  handlers: Map<string, TaskHandler>,
): TaskHandler {
  const t = node.task!;
  let name = t.handler;
  if (name === "direct") {
    const group = node.parent ? graph.groups.get(node.parent.group) : undefined;
    const executor = group?.executor ?? (node.parent ? options.executor : undefined);
    if (executor === "workers") name = "worker";
    else if (executor === "redis" || (executor !== "inline" && options.backend)) {
      if (!options.backend) {
        throw new WorkflowError(
          `Cannot run task "${t.name}": its group uses executor "redis" but the run has no backend`,
          { code: "HANDLER_NOT_FOUND" },
        );
      }
      return options.backend.handler;
    }
  }
  const handler = handlers.get(name);
  if (!handler) {
    throw new WorkflowError(
      `Cannot run task "${t.name}": handler "${name}" is not registered (known: ${
        [...handlers.keys()].map((k) => `"${k}"`).join(", ")
      })`,
      { code: "HANDLER_NOT_FOUND" },
    );
  }
  return handler;
}

const representatives = new WeakMap<Graph, GraphNode[]>();

/**
 * One task node per distinct (handler name, group executor) combination of a graph, so that a
 * run can check every handler it will need before it starts, in time independent of graph size.
 *
 * @param graph The graph.
 * @returns The representative nodes (cached per graph).
 */
export function handlerRepresentatives(graph: Graph): GraphNode[] {
  let nodes = representatives.get(graph);
  if (!nodes) {
    const seen = new Map<string, GraphNode>();
    for (const node of graph.nodes.values()) {
      if (node.kind !== "task") continue;
      const group = node.parent ? graph.groups.get(node.parent.group) : undefined;
      const key = `${node.task!.handler}\u0000${node.parent ? "member" : "top"}\u0000${
        group?.executor ?? ""
      }`;
      if (!seen.has(key)) seen.set(key, node);
    }
    nodes = [...seen.values()];
    representatives.set(graph, nodes);
  }
  return nodes;
}

/**
 * The facts that decide a task node's handler, as a key: nodes with equal keys get the same
 * handler in a run.
 *
 * @param graph The graph.
 * @param node A task node.
 * @returns The key.
 */
export function handlerKey(graph: Graph, node: GraphNode): string {
  const group = node.parent ? graph.groups.get(node.parent.group) : undefined;
  return `${node.task?.handler}\u0000${node.parent ? "member" : "top"}\u0000${
    group?.executor ?? ""
  }`;
}
