/**
 * What a task asks for during one attempt (`ctx.next`, `ctx.nextIteration`, `ctx.map`,
 * `ctx.terminate`, `ctx.cancel`, deferred checkpoints), recorded as {@linkcode Directives} and
 * applied by the run state when the attempt succeeds. {@linkcode DirectiveRecorder} checks and
 * records the calls; it is the base of the engine's context and of the contexts of tasks that
 * run elsewhere.
 *
 * @module
 */
import type { Task } from "../graph/task.ts";
import { checkMapOptions, type PolicySpec } from "../graph/policies.ts";
import type { CheckpointOptions, MapCallOptions, NextOptions } from "./task_context.ts";

/** A `ctx.next` call recorded during an attempt. */
export interface NextCall {
  /** The task, or its name (resolved by name in the flow, then the task registry). */
  task: Task | string;
  /** Its input, when given. */
  input: unknown;
  /** Whether an input was given (else it gets the caller's result). */
  hasInput: boolean;
  /** `{ goto }` as given. */
  goto: boolean | undefined;
}

/** A `ctx.map` call recorded during an attempt. */
export interface MapCall {
  /** The task, or its name (resolved in the flow, then the task registry). */
  task: Task | string;
  /** The items. */
  items: unknown[];
  /** The policy as data (built-in policies only). */
  policy?: PolicySpec;
  /** The bound, when finite. */
  concurrency?: number;
}

/** What a task asked for during one attempt; applied when the attempt succeeds. */
export interface Directives {
  /** `ctx.next` calls. */
  next?: NextCall[];
  /** `ctx.map`. */
  map?: MapCall;
  /** `ctx.nextIteration`. */
  iterate?: { input: unknown; hasInput: boolean };
  /** `ctx.terminate`. */
  terminate?: { reason?: string };
  /** `ctx.cancel`. */
  cancel?: { reason?: string };
  /** Deferred `ctx.checkpoint` calls (written by the run's persistence, not the state). */
  checkpoints?: CheckpointOptions[];
}

/**
 * Records what a task asks for (`next`, `nextIteration`, `terminate`, `cancel`, deferred
 * checkpoints) so that it is applied when the attempt succeeds. Base of the engine's context
 * and of the contexts of tasks running elsewhere.
 */
export abstract class DirectiveRecorder {
  /** The task id. */
  abstract readonly taskId: string;
  /** @internal Calls recorded during this attempt. */
  directives: Directives | undefined;

  /**
   * Adds a task at run time (see {@linkcode TaskContext.next}).
   *
   * @param task The task to run.
   * @param args Its input, then options.
   */
  next(task: Task, ...args: [input?: unknown, options?: NextOptions]): void {
    if (!task || typeof (task as Task).invoke !== "function") {
      throw new TypeError(
        `Cannot call next() from task "${this.taskId}": expected a Task, got ${typeof task}`,
      );
    }
    const d = (this.directives ??= {});
    (d.next ??= []).push({ task, input: args[0], hasInput: args.length > 0, goto: args[1]?.goto });
  }

  /**
   * Runs this task again (see {@linkcode TaskContext.nextIteration}).
   *
   * @param args The input of the next execution.
   */
  nextIteration(...args: [input?: unknown]): void {
    if (this.directives?.map) {
      throw new TypeError(
        `Cannot call nextIteration() from task "${this.taskId}": it already called map()`,
      );
    }
    (this.directives ??= {}).iterate = { input: args[0], hasInput: args.length > 0 };
  }

  /**
   * Maps `task` over `items` after this task (see {@linkcode TaskContext.map}).
   *
   * @param task The task run per item.
   * @param items The items.
   * @param options Policy, concurrency.
   */
  map(task: Task, items: unknown[], options: MapCallOptions = {}): void {
    const what = `map() from task "${this.taskId}"`;
    if (!task || typeof (task as Task).invoke !== "function") {
      throw new TypeError(`Cannot call ${what}: expected a Task, got ${typeof task}`);
    }
    if (!Array.isArray(items)) {
      throw new TypeError(
        `Cannot call ${what}: items must be an array, got ${
          items === null ? "null" : typeof items
        }`,
      );
    }
    if (this.directives?.map) throw new TypeError(`Cannot call ${what}: it was already called`);
    if (this.directives?.iterate) {
      throw new TypeError(`Cannot call ${what}: the task already called nextIteration()`);
    }
    checkMapOptions(`${what} over "${task.name}"`, options);
    const policy = options.policy;
    if (policy !== undefined && policy.spec === undefined) {
      throw new TypeError(
        `Cannot call ${what}: a custom policy function cannot be kept in checkpoints nor sent from workers; use strict(), bestEffort(), atLeast(n) or firstSuccess()`,
      );
    }
    const c = options.concurrency;
    (this.directives ??= {}).map = {
      task,
      items: [...items],
      ...(policy ? { policy: structuredClone(policy.spec!) } : {}),
      ...(c !== undefined && c !== Infinity ? { concurrency: c } : {}),
    };
  }

  /**
   * Finishes the run after this task.
   *
   * @param reason Why.
   */
  terminate(reason?: string): void {
    (this.directives ??= {}).terminate = { reason };
  }

  /**
   * Fails the run with `WorkflowCanceledError` after this task.
   *
   * @param reason Why.
   */
  cancel(reason?: string): void {
    (this.directives ??= {}).cancel = { reason };
  }
}
