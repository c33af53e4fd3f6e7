/**
 * `map()`: a node that receives an array and runs one task once per item, on the task's
 * handler (in-process, Web Workers, Redis workers, containers), with a bound on the items in
 * flight. Its successor receives the results in item order; under a tolerant policy the items
 * that failed are absent (the `group.settled` event lists them as `"<map>[<index>]"`). The
 * policies of parallel groups apply, early settling included: `strict` stops at the first
 * failed item, `atLeast(n)` at the n-th success, `firstSuccess()` at the first; the items
 * still running are aborted through `ctx.signal`.
 *
 * Items do not count against the task's `maxCycles` nor the run's `maxSteps` (the input array
 * bounds them); each activation of the map node counts one cycle. Items count in
 * `RunResult.steps`, while `completed` and `results` list the map node once, with the array.
 * A checkpoint taken during a map keeps the finished items: resuming runs only the others.
 *
 * @module
 */
import { Task } from "./task.ts";
import { checkMapOptions, type GroupPolicy } from "./policies.ts";
import type { MapSpec } from "./graph.ts";

/** Options of {@linkcode map}. */
export interface MapOptions {
  /**
   * Node id (the key of the results in `results` and in a join's input).
   * @default {the task's name}
   */
  name?: string;
  /**
   * Policy deciding the map's success from its items: `strict()`, `bestEffort()`, `atLeast(n)`,
   * `firstSuccess()` or a function (`critical()` names members, which items do not have).
   * @default {strict()}
   */
  policy?: GroupPolicy;
  /** Most items in flight at once (a whole number >= 1). @default {Infinity} */
  concurrency?: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** A map node description, made by {@linkcode map} and interpolated into flows. */
export class MapNode {
  /** The task run per item. */
  readonly task: Task;
  /** The node id. */
  readonly id: string;
  /** @internal Policy, concurrency. */
  readonly spec: MapSpec;

  /** @internal Use {@linkcode map}. */
  constructor(t: Task, options: MapOptions) {
    this.task = t;
    this.id = options.name ?? t.name;
    this.spec = Object.freeze({
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      named: options.name !== undefined,
    });
  }
}

/**
 * Describes a map node to interpolate into a flow: it receives an array, runs `task` once per
 * item on the task's handler, and passes the results, in item order, to its successor.
 *
 * @param task The task to run per item (it receives the item as its input).
 * @param options Name, policy, concurrency.
 * @returns The map node.
 * @throws {TypeError} When `task` is not a Task, the name is malformed, or the policy is not a
 * function (or is `critical()`).
 * @throws {RangeError} When `concurrency` is not a whole number >= 1.
 *
 * @example Scoring a list decided at run time, eight at a time
 * ```ts
 * import { flow, map, task } from "@graflow/graflow";
 * const list = task("doc_map_list", () => [3, 1, 2]);
 * const score = task("doc_map_score", (n: number) => n * 10);
 * const rank = task("doc_map_rank", (scores: number[]) => scores.toSorted((a, b) => b - a));
 * const result = await flow`${list} >> ${map(score, { concurrency: 8 })} >> ${rank}`.run();
 * if (JSON.stringify(result.output) !== "[30,20,10]") throw new Error("unexpected");
 * ```
 */
export function map(task: Task, options: MapOptions = {}): MapNode {
  if (!(task instanceof Task)) {
    throw new TypeError(`Cannot create map: task must be a Task, got ${kindOf(task)}`);
  }
  if (
    options.name !== undefined && (typeof options.name !== "string" || !NAME.test(options.name))
  ) {
    throw new TypeError(
      `Cannot create map(${task.name}): name must match [A-Za-z_][A-Za-z0-9_.-]*, got ${
        JSON.stringify(options.name)
      }`,
    );
  }
  checkMapOptions(`map(${task.name})`, options);
  return new MapNode(task, options);
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}
