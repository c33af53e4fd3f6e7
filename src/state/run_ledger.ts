/**
 * What a run has produced and recorded so far: the latest result of every task and group, the
 * order tasks completed in, the run's output and the task that gave it, the human-in-the-loop
 * request ids of each task cycle, and the checkpoints written. `RunState` owns one privately and
 * is its only writer; the ledger decides nothing about what runs next.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import type { MapRun } from "./map_run.ts";
import { ResultStore } from "./result_store.ts";
import type { RunStateData } from "./run_state_data.ts";
import type { RestoredFields, StateFields } from "./run_state_io.ts";

/** The ledger's part of a snapshot. */
export type LedgerFields = Pick<
  StateFields<never>,
  "results" | "completed" | "output" | "lastTask" | "feedback" | "checkpoints"
>;

/** Results, completion order, output, feedback request ids and checkpoints of a run. */
export class RunLedger {
  readonly #results = new ResultStore();
  readonly #completed: string[] = [];
  #output: unknown = undefined;
  #lastTask: string | undefined;
  #feedback: Record<string, string[]> = {};
  readonly #checkpoints: string[] = [];

  /** Task ids in completion order (read-only view). */
  get completed(): readonly string[] {
    return this.#completed;
  }

  /** The run's output so far. */
  get output(): unknown {
    return this.#output;
  }

  /** Base paths of the checkpoints written (read-only view). */
  get checkpoints(): readonly string[] {
    return this.#checkpoints;
  }

  /**
   * The latest result of a node.
   *
   * @param node The node.
   * @returns Its result, `undefined` when it has none.
   */
  resultOf(node: PlanNode): unknown {
    return this.#results.get(node);
  }

  /**
   * Every result by node id.
   *
   * @param nodes The nodes to include, in order.
   * @returns The results of the nodes that have one.
   */
  results(nodes: Iterable<PlanNode>[]): Record<string, unknown> {
    return this.#results.record(nodes);
  }

  /**
   * Feedback request ids already made by a task's cycle.
   *
   * @param taskId The task.
   * @param cycle Its cycle.
   * @returns The ids, in call order.
   */
  feedbackIds(taskId: string, cycle: number): readonly string[] {
    return this.#feedback[`${taskId}#${cycle}`] ?? [];
  }

  /**
   * Records a task that succeeded: its result is the run's output so far.
   *
   * @param node Its node.
   * @param id Its task id.
   * @param result Its result.
   */
  taskSucceeded(node: PlanNode, id: string, result: unknown): void {
    this.#results.set(node, result);
    this.#completed.push(id);
    this.#output = result;
    this.#lastTask = id;
  }

  /**
   * Records a parallel group that succeeded.
   *
   * @param fork The group's fork node.
   * @param output The group's object.
   */
  groupSucceeded(fork: PlanNode, output: Record<string, unknown>): void {
    this.#results.set(fork, output);
    // The group's object is the run's output when the flow ends with the group.
    this.#output = output;
    this.#lastTask = fork.id;
  }

  /**
   * Records a map that succeeded.
   *
   * @param run The map.
   * @param output Its array.
   */
  mapSucceeded(run: MapRun, output: unknown[]): void {
    const owner = run.owner;
    this.#results.set(owner, output);
    // A map node completes once, with its array; a task that called ctx.map completed already.
    if (owner === run.node) this.#completed.push(owner.id);
    this.#output = output;
    this.#lastTask = owner.id;
  }

  /**
   * Records a feedback request id of a task cycle.
   *
   * @param taskId The task.
   * @param cycle Its cycle.
   * @param id The request id.
   * @returns False when the cycle had made this request already (nothing changed).
   */
  feedbackRequested(taskId: string, cycle: number, id: string): boolean {
    const ids = (this.#feedback[`${taskId}#${cycle}`] ??= []);
    if (ids.includes(id)) return false;
    ids.push(id);
    return true;
  }

  /**
   * Records a written checkpoint.
   *
   * @param path Its base path.
   */
  checkpointWritten(path: string): void {
    this.#checkpoints.push(path);
  }

  /**
   * The ledger's part of a snapshot (live values; the snapshot copies what it keeps).
   *
   * @param nodes The nodes whose results to include, in order.
   * @returns The fields.
   */
  fields(nodes: Iterable<PlanNode>[]): LedgerFields {
    return {
      results: this.#results.record(nodes),
      completed: this.#completed,
      output: this.#output,
      lastTask: this.#lastTask,
      feedback: this.#feedback,
      checkpoints: this.#checkpoints,
    };
  }

  /**
   * Fills the empty ledger of a run rebuilt from data.
   *
   * @param r The data with node ids resolved.
   * @param data The data (feedback ids and checkpoints).
   */
  restore(r: RestoredFields, data: RunStateData): void {
    for (const [node, value] of r.results) this.#results.set(node, value);
    this.#completed.push(...r.completed);
    this.#output = r.output;
    this.#lastTask = r.lastTask;
    this.#feedback = structuredClone(data.feedback ?? {});
    this.#checkpoints.push(...(data.checkpoints ?? []));
  }
}
