/**
 * What a task asked for during a successful attempt, applied to the run state in priority
 * order: cancel > terminate > goto (`ctx.next` to a node of the flow, or `{ goto: true }`) and
 * iterations > next of a new task (which keeps the static successors). Tasks are named; a name
 * is resolved in the flow, then in this process's task registry — never by importing code.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import { getTask, type Task } from "../graph/task.ts";
import { WorkflowCanceledError, WorkflowError } from "../errors.ts";
import type { ExecState } from "./exec_state.ts";
import type { Routing } from "./routing.ts";
import type { Directives, Stop } from "./run_state_data.ts";

/** What applying directives needs of the run state. */
export interface DirectivePort {
  /** Stops the run. */
  halt(stop: Stop): unknown;
  /** A node of the run by id. */
  node(id: string): PlanNode | undefined;
  /** Adds a task at run time; throws when it cannot run (e.g. no such handler). */
  addDynamic(task: Task, by: string): PlanNode;
  /** Where activations go. */
  readonly routing: Routing;
  /** Emits an event (absent when nobody listens). */
  note?(type: "task.added", fields: Record<string, unknown>): void;
}

/**
 * Applies the directives of an execution that succeeded.
 *
 * @param port The run state.
 * @param exec The execution.
 * @param d What it asked for.
 * @param result Its result (the default input of what it activates).
 * @returns Whether its static successors get the result now (`propagate`; not while it
 * iterates), and whether they are skipped (`skipStatic`: a jump) — member exits still settle.
 */
export function applyDirectives(
  port: DirectivePort,
  exec: ExecState,
  d: Directives,
  result: unknown,
): { propagate: boolean; skipStatic: boolean } {
  const id = exec.task.name;
  const stop = { propagate: false, skipStatic: true };
  if (d.cancel) {
    port.halt({ kind: "failed", error: new WorkflowCanceledError(id, d.cancel.reason) });
    return stop;
  }
  if (d.terminate) {
    port.halt({ kind: "terminated" });
    return stop;
  }
  let skipStatic = false;
  if (d.iterate) {
    skipStatic = true;
    port.routing.iterate(exec.node, d.iterate.hasInput ? d.iterate.input : result);
  }
  for (const call of d.next ?? []) {
    const name = typeof call.task === "string" ? call.task : call.task.name;
    let node = port.node(name);
    const target = typeof call.task === "string" ? node?.node.task ?? getTask(name) : call.task;
    if (!target) {
      port.halt({
        kind: "failed",
        error: new WorkflowError(
          `Cannot add task "${name}" from "${id}": no task of this name is registered in the process running the flow`,
          { code: "TASK_NOT_FOUND" },
        ),
      });
      return stop;
    }
    if (node && node.node.task !== target) {
      port.halt({
        kind: "failed",
        error: new TypeError(
          `Cannot add task "${name}" from "${id}": the flow has another node with this id`,
        ),
      });
      return stop;
    }
    const jump = call.goto ?? (node !== undefined && !node.node.dynamic);
    if (!node) {
      try {
        node = port.addDynamic(target, id);
      } catch (error) {
        port.halt({ kind: "failed", error });
        return stop;
      }
    }
    if (jump) skipStatic = true;
    port.note?.("task.added", { taskId: name, by: id, goto: jump });
    port.routing.activate(
      node,
      call.hasInput ? call.input : result,
      id,
      jump ? "goto" : "next",
    );
  }
  return { propagate: !d.iterate, skipStatic };
}
