/**
 * The nodes of a run: its plan's, then the tasks added at run time (`ctx.next()` with a task
 * the flow does not have). Each added task gets the next node index and is recorded with the
 * task that added it, so that a run rebuilt from its data adds the same nodes again. `RunState`
 * owns one privately.
 *
 * @module
 */
import type { Plan, PlanNode } from "../graph/plan.ts";
import { getTask, type Task } from "../graph/task.ts";
import { WorkflowError } from "../errors.ts";
import type { DynamicTaskRecord } from "./run_state_data.ts";

/** A run's plan nodes and the nodes added to it at run time. */
export class RunNodes {
  readonly #plan: Plan;
  readonly #admit: ((node: PlanNode) => void) | undefined;
  readonly #added = new Map<string, PlanNode>();
  readonly #records: DynamicTaskRecord[] = [];

  /**
   * Starts with the plan's nodes only.
   *
   * @param plan The run's plan.
   * @param admit Checks a task added at run time can run (e.g. its handler exists); throws if
   * not.
   */
  constructor(plan: Plan, admit?: (node: PlanNode) => void) {
    this.#plan = plan;
    this.#admit = admit;
  }

  /** The tasks added at run time, in order (read-only view). */
  get added(): readonly DynamicTaskRecord[] {
    return this.#records;
  }

  /**
   * The node with this id (of the flow, or added at run time).
   *
   * @param id The node id.
   * @returns The node, or `undefined`.
   */
  get(id: string): PlanNode | undefined {
    return this.#plan.nodes.get(id) ?? this.#added.get(id);
  }

  /**
   * Every node: the flow's, then those added at run time.
   *
   * @returns The nodes.
   */
  all(): PlanNode[] {
    return [...this.#plan.nodes.values(), ...this.#added.values()];
  }

  /**
   * The same nodes as two lists, without copying them.
   *
   * @returns The flow's nodes and the added ones.
   */
  lists(): Iterable<PlanNode>[] {
    return [this.#plan.nodes.values(), this.#added.values()];
  }

  /**
   * Adds a task at run time, as a node of its own with no edges.
   *
   * @param t The task.
   * @param by The id of the task that added it.
   * @returns Its node.
   * @throws What `admit` throws when the task cannot run.
   */
  add(t: Task, by: string): PlanNode {
    const pn: PlanNode = {
      id: t.name,
      index: this.#plan.nodes.size + this.#added.size,
      node: { id: t.name, kind: "task", task: t, dynamic: true },
      out: [],
      preds: [],
      key: t.name,
      member: -1,
    };
    this.#admit?.(pn);
    this.#added.set(t.name, pn);
    this.#records.push({ id: t.name, by });
    return pn;
  }

  /**
   * Adds the tasks a run had added, found by name in the task registry.
   *
   * @param runId The run (for the error message).
   * @param records The tasks, in the order they were added.
   * @throws {WorkflowError} `TASK_NOT_FOUND` when one is not registered in this process.
   */
  restore(runId: string, records: readonly DynamicTaskRecord[]): void {
    for (const d of records) {
      const t = getTask(d.id);
      if (!t) {
        throw new WorkflowError(
          `Cannot restore run "${runId}": task "${d.id}" (added at run time by "${d.by}") is not registered in this process: import the module that defines it`,
          { code: "TASK_NOT_FOUND" },
        );
      }
      this.add(t, d.by);
    }
  }
}
