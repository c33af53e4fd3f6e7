/**
 * What a task asked for during a successful attempt, applied in priority order:
 * cancel > terminate > goto (`ctx.next` to a node of the flow, or `{ goto: true }`) and
 * iterations > normal (`ctx.next` of a new task keeps the static successors).
 *
 * @module
 */
import type { Engine, Execution } from "./engine.ts";
import { WorkflowCanceledError } from "../errors.ts";
import type { Directives } from "../context/task_context.ts";

/**
 * Applies the directives of a finished task.
 *
 * @param engine The run.
 * @param exec The execution that succeeded.
 * @param d What it asked for.
 * @param result Its result (the default input of what it activates).
 * @returns Whether the static successors get the result now (`propagate`; not while the task
 * iterates), and whether they are skipped (`skipStatic`: a goto) — member exits still settle.
 */
export function applyDirectives(
  engine: Engine,
  exec: Execution,
  d: Directives,
  result: unknown,
): { propagate: boolean; skipStatic: boolean } {
  const id = exec.task.name;
  const stop = { propagate: false, skipStatic: true };
  if (d.cancel) {
    engine.halt({ kind: "failed", error: new WorkflowCanceledError(id, d.cancel.reason) });
    return stop;
  }
  if (d.terminate) {
    engine.halt({ kind: "terminated" });
    return stop;
  }
  let skipStatic = false;
  if (d.iterate) {
    skipStatic = true;
    engine.ready.push({
      node: exec.node,
      input: d.iterate.hasInput ? d.iterate.input : result,
      from: id,
      kind: "iterate",
    });
    engine.trace.iterate(exec.node);
  }
  for (const call of d.next ?? []) {
    const target = call.task;
    let node = engine.node(target.name);
    if (node && node.node.task !== target) {
      engine.halt({
        kind: "failed",
        error: new TypeError(
          `Cannot add task "${target.name}" from "${id}": the flow has another node with this id`,
        ),
      });
      return stop;
    }
    const jump = call.goto ?? (node !== undefined && !node.node.dynamic);
    if (!node) {
      try {
        node = engine.addDynamic(target, id);
      } catch (error) {
        engine.halt({ kind: "failed", error });
        return stop;
      }
    }
    if (jump) skipStatic = true;
    engine.note("task.added", { taskId: target.name, by: id, goto: jump });
    engine.activate(node, call.hasInput ? call.input : result, id, jump ? "goto" : "next");
  }
  return { propagate: !d.iterate, skipStatic };
}
