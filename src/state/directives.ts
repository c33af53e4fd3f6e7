/**
 * Where the outcome of a settled execution goes. A success passes its result on as the task
 * asked during its attempt, applied to the run state in priority order: cancel > terminate >
 * goto (`ctx.next` to a node of the flow, or `{ goto: true }`) and iterations > next of a new
 * task (which keeps the static successors) > `ctx.map` (whose results go to the static
 * successors once the items settled). Tasks are named; a name is resolved in the flow, then in
 * this process's task registry — never by importing code. A failure for good fails its map
 * item, its group member (the group's policy decides), or the run.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import { policyFromSpec } from "../graph/policies.ts";
import { getTask, type Task } from "../graph/task.ts";
import {
  RetryLimitExceededError,
  TaskFailedError,
  WorkflowCanceledError,
  WorkflowError,
} from "../errors.ts";
import type { ExecState } from "./exec_state.ts";
import type { Routing } from "./routing.ts";
import type { Directives, Stop } from "./run_state_data.ts";
import type { MapCall } from "../context/directive_recorder.ts";

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
 * Passes on the result of a task execution that succeeded (not a map item): to its static
 * successors (joins, group barriers), unless its directives iterate, jump, map or stop the run.
 *
 * @param port The run state.
 * @param exec The execution.
 * @param result Its result.
 * @param d What it asked for, if anything.
 */
export function taskSucceeded(
  port: DirectivePort,
  exec: ExecState,
  result: unknown,
  d: Directives | undefined,
): void {
  if (d === undefined) return port.routing.propagate(exec.node, result, false);
  const { propagate, skipStatic } = applyDirectives(port, exec, d, result);
  if (propagate) port.routing.propagate(exec.node, result, skipStatic);
}

/**
 * Applies an execution that failed for good: it fails its map item or its group member (the
 * policy decides), or the run.
 *
 * @param port The run state.
 * @param exec The execution.
 * @param error What its last attempt threw.
 */
export function execFailed(port: DirectivePort, exec: ExecState, error: unknown): void {
  const t = exec.task;
  // Retries ran out (not a non-retryable error, which stops them early).
  const exhausted = t.retry.maxRetries > 0 && exec.attempt > t.retry.maxRetries;
  const wrapped = exhausted
    ? new RetryLimitExceededError(t.name, exec.attempt, error)
    : new TaskFailedError(t.name, error);
  // In a group or map the failure record keeps what the task threw; outside, the run fails
  // with the wrapper (TaskFailedError / RetryLimitExceededError) whose cause it is.
  if (exec.map) port.routing.itemFailed(exec.map, exec.item, exhausted ? wrapped : error);
  else if (!port.routing.memberFailed(exec.node, exhausted ? wrapped : error)) {
    port.halt({ kind: "failed", error: wrapped });
  }
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
    const found = resolve(port, id, call.task, "next");
    if (!found) return stop;
    const target = found.target;
    let node = found.node;
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
  if (d.map) {
    if (skipStatic) {
      port.halt({
        kind: "failed",
        error: new TypeError(
          `Cannot map from task "${id}": it also ${
            d.iterate ? "called nextIteration()" : "jumps (goto)"
          }, so nothing would receive the results`,
        ),
      });
      return stop;
    }
    return openMap(port, exec, d.map) ? { propagate: false, skipStatic: false } : stop;
  }
  return { propagate: !d.iterate, skipStatic };
}

/** Opens the map of a `ctx.map` call; false when it stopped the run. */
function openMap(port: DirectivePort, exec: ExecState, call: MapCall): boolean {
  const id = exec.task.name;
  const name = typeof call.task === "string" ? call.task : call.task.name;
  const found = resolve(port, id, call.task, "map");
  if (!found) return false;
  let node = found.node;
  try {
    node ??= port.addDynamic(found.target, id);
  } catch (error) {
    port.halt({ kind: "failed", error });
    return false;
  }
  let policy;
  try {
    policy = call.policy ? policyFromSpec(call.policy) : undefined;
  } catch (error) {
    port.halt({ kind: "failed", error });
    return false;
  }
  port.note?.("task.added", { taskId: name, by: id, goto: false });
  port.routing.openMap(exec.node, node, found.target, call.items, exec.cycle, {
    policy,
    concurrency: call.concurrency,
    data: {
      ...(call.policy ? { policy: call.policy } : {}),
      ...(call.concurrency !== undefined ? { concurrency: call.concurrency } : {}),
    },
  });
  return true;
}

/**
 * Finds the task of a `next` or `map` call: in the flow, then in the registry.
 *
 * @returns The task and its node (if the run has one), or `undefined` when it stopped the run.
 */
function resolve(
  port: DirectivePort,
  id: string,
  task: Task | string,
  call: "next" | "map",
): { target: Task; node: PlanNode | undefined } | undefined {
  const name = typeof task === "string" ? task : task.name;
  const node = port.node(name);
  const target = typeof task === "string" ? node?.node.task ?? getTask(name) : task;
  if (!target) {
    port.halt({
      kind: "failed",
      error: new WorkflowError(
        `Cannot ${
          call === "next" ? "add" : "map"
        } task "${name}" from "${id}": no task of this name is registered in the process running the flow`,
        { code: "TASK_NOT_FOUND" },
      ),
    });
    return undefined;
  }
  if (node && node.node.task !== target) {
    port.halt({
      kind: "failed",
      error: new TypeError(
        `Cannot ${
          call === "next" ? "add" : "map"
        } task "${name}" from "${id}": the flow has another node with this id`,
      ),
    });
    return undefined;
  }
  return { target, node };
}

/**
 * Applies the outcome of a map item that succeeded: `terminate` and `cancel` apply to the run;
 * `next`, `nextIteration` and `map` fail the item (an item only returns a result).
 *
 * @param port The run state.
 * @param exec The item's execution.
 * @param result Its result.
 * @param d What it asked for.
 */
export function itemSucceeded(
  port: DirectivePort,
  exec: ExecState,
  result: unknown,
  d: Directives | undefined,
): void {
  const run = exec.map!;
  if (d) {
    const bad = d.next ? "next" : d.iterate ? "nextIteration" : d.map ? "map" : undefined;
    if (bad) {
      const error = new TypeError(
        `Cannot apply ctx.${bad}() from item ${exec.item} of ${
          run.owner === run.node ? "map" : "the ctx.map() of"
        } "${run.owner.id}": a map item returns a result; terminate() and cancel() apply to the run`,
      );
      port.routing.itemFailed(run, exec.item, error);
      return;
    }
    if (d.cancel || d.terminate) {
      applyDirectives(port, exec, d, result);
      return;
    }
  }
  port.routing.itemOk(run, exec.item, result);
}
