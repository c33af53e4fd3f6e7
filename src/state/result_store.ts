/**
 * The latest result of every node of a run, in an array by node index: writing one costs no
 * hashing however large the graph; the `results` record is built only when someone reads it.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";

/** Marks "no result" (a task may return `undefined`). */
const UNSET: unique symbol = Symbol("unset");

/** Results by node. */
export class ResultStore {
  readonly #at: unknown[] = [];

  /**
   * Records a node's latest result.
   *
   * @param node The node.
   * @param value Its result.
   */
  set(node: PlanNode, value: unknown): void {
    this.#at[node.index] = value;
  }

  /**
   * A node's latest result.
   *
   * @param node The node.
   * @returns The result, or `undefined` when it has none.
   */
  get(node: PlanNode): unknown {
    const value = node.index in this.#at ? this.#at[node.index] : UNSET;
    return value === UNSET ? undefined : value;
  }

  /**
   * The results as a record by node id.
   *
   * @param nodes The nodes to include, in order.
   * @returns Results of the nodes that have one.
   */
  record(nodes: Iterable<PlanNode>[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const list of nodes) {
      for (const node of list) if (node.index in this.#at) out[node.id] = this.#at[node.index];
    }
    return out;
  }
}
