/**
 * Task handlers decide where a task runs: in-process, in a Web Worker, in a container, or
 * anywhere a custom handler sends it.
 *
 * @module
 */
import type { Task } from "../graph/task.ts";
import { RUN_NOTICE, type RunNotice, type TaskContext } from "../context/task_context.ts";

/**
 * Runs a task. Register with `run({ handlers: { name: handler } })`; a task picks one with
 * `{ handler: "name" }`. A handler that runs the task elsewhere carries the calls the task makes
 * on its context (`channel`, `next`, `terminate`, …) back to `ctx`.
 *
 * @example A handler that logs and delegates
 * ```ts
 * import { type TaskHandler, directHandler } from "@graflow/graflow";
 * const seen: string[] = [];
 * const logging: TaskHandler = {
 *   execute(task, input, ctx) {
 *     seen.push(task.name);
 *     return directHandler.execute(task, input, ctx);
 *   },
 * };
 * ```
 */
export interface TaskHandler {
  /**
   * Runs `task` with `input`.
   *
   * @param task The task.
   * @param input Its input.
   * @param ctx Its context (honour `ctx.signal`).
   * @returns The task's result.
   */
  execute(task: Task, input: unknown, ctx: TaskContext): Promise<unknown>;
}

/** The built-in `"direct"` handler: calls the task function in this process. */
export const directHandler: TaskHandler = {
  execute(task: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    return task.invoke(input, ctx) as Promise<unknown>;
  },
};

/**
 * Tells the run of `ctx` something about its task while a handler runs it (for example that its
 * job waits with no live worker): the run emits it as an event. A no-op for contexts that are
 * not a run's (tests, custom callers).
 *
 * @param ctx The context the handler was given.
 * @param notice What to report.
 */
export function notifyRun(ctx: TaskContext, notice: RunNotice): void {
  const sink = (ctx as { [RUN_NOTICE]?: (n: RunNotice) => void })[RUN_NOTICE];
  if (typeof sink === "function") sink.call(ctx, notice);
}
