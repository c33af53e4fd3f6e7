/**
 * Task mocks by name, for one run: `run({ taskHandlers: mocks.handlers })` runs the named
 * tasks' mocks in-process instead of the tasks (wherever their handler would have sent them),
 * with no change to the flow, and records every call.
 *
 * @module
 */
import { getTask, registeredTaskNames } from "../graph/task.ts";
import type { TaskContext } from "../context/task_context.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";

/** What a mock does: a function called like the task, or a value it returns. */
export type MockBehaviour =
  | ((input: unknown, ctx: TaskContext) => unknown)
  | string
  | number
  | boolean
  | null
  | object;

/** One call of a mock. */
export interface MockCall {
  /** The input the task got. */
  input: unknown;
  /** Its attempt (1-based). */
  attempt: number;
  /** Its execution count in the run (1-based). */
  cycle: number;
}

/**
 * Mocks of tasks by name. Pass `handlers` as `run({ taskHandlers })`; read `calls(name)`
 * after the run.
 *
 * @example Replacing a task that calls a remote API
 * ```ts
 * import { flow, task } from "@graflow/graflow";
 * import { TaskMocks } from "@graflow/graflow/testing";
 * const fetchRates = task("doc_mock_fetch", async () => (await fetch("https://example.com")).json());
 * const convert = task("doc_mock_convert", (rates: { eur: number }) => 100 * rates.eur);
 * const mocks = new TaskMocks({ doc_mock_fetch: { eur: 0.9 } });
 * const result = await flow`${fetchRates} >> ${convert}`.run({ taskHandlers: mocks.handlers });
 * if (result.output !== 90 || mocks.calls("doc_mock_fetch").length !== 1) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export class TaskMocks {
  /** Handlers by task name, for `run({ taskHandlers })`. */
  readonly handlers: Record<string, TaskHandler>;
  readonly #calls = new Map<string, MockCall[]>();

  /**
   * Creates the mocks.
   *
   * @param mocks Behaviour by task name: a function `(input, ctx) => result` (it may throw,
   * use `ctx`, call `ctx.next`, …), or a value to return.
   * @throws {TypeError} When a name is not a registered task (a typo would otherwise mock
   * nothing).
   */
  constructor(mocks: Record<string, MockBehaviour>) {
    this.handlers = {};
    for (const [name, behaviour] of Object.entries(mocks)) {
      if (!getTask(name)) {
        const known = registeredTaskNames().filter((n) => n.includes(name) || name.includes(n));
        throw new TypeError(
          `Cannot mock task "${name}": no task of this name is registered${
            known.length
              ? ` (did you mean ${known.slice(0, 3).map((n) => `"${n}"`).join(", ")}?)`
              : ""
          }`,
        );
      }
      const calls: MockCall[] = [];
      this.#calls.set(name, calls);
      this.handlers[name] = {
        execute: (_task, input, ctx) => {
          calls.push({ input, attempt: ctx.attempt, cycle: ctx.cycle });
          if (typeof behaviour !== "function") return Promise.resolve(behaviour);
          try {
            return Promise.resolve(behaviour(input, ctx));
          } catch (error) {
            return Promise.reject(error);
          }
        },
      };
    }
  }

  /**
   * The calls of a task's mock so far, in order.
   *
   * @param taskId The task.
   * @returns A copy of its calls.
   * @throws {TypeError} When the task has no mock here.
   */
  calls(taskId: string): MockCall[] {
    const calls = this.#calls.get(taskId);
    if (!calls) {
      throw new TypeError(`Cannot read the calls of "${taskId}": it is not mocked here`);
    }
    return [...calls];
  }
}
