/**
 * Which handler runs a task: its own `handler` option, else its group's (or the run's)
 * executor, else the run's backend, else `"direct"`.
 *
 * @module
 */
import type { Graph, GraphNode } from "../graph/graph.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { RunOptions } from "./run_options.ts";
import { WorkflowError } from "./errors.ts";

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
