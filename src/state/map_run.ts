/**
 * One activation of a map (a map node of the flow, or `ctx.map` from a task): its items, which
 * are waiting, running, done or failed, and when the policy's answer is certain. Kept in typed
 * arrays by item index, so a 100,000-item map costs a few bytes per item.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import type { Task } from "../graph/task.ts";
import {
  applyPolicy,
  decidedEarly,
  type GroupOutcome,
  type GroupPolicy,
  type PolicySpec,
} from "../graph/policies.ts";
import type { MapRunData } from "./run_state_data.ts";

const TODO = 0;
const RUNNING = 1;
const OK = 2;
const FAILED = 3;

/** How a map runs: its policy and bound, and (for `ctx.map`) the same as data. */
export interface MapSettings {
  /** The policy (default strict). */
  policy?: GroupPolicy;
  /** Most items in flight. @default {Infinity} */
  concurrency?: number;
  /** For `ctx.map`: policy and concurrency as data, kept in checkpoints. */
  data?: { policy?: PolicySpec; concurrency?: number };
}

/** The state of one map activation. */
export class MapRun {
  /** The node whose completion the map stands for: the map node, or the task that called `ctx.map`. */
  readonly owner: PlanNode;
  /** The node the items run as (the map node, or the node of `ctx.map`'s task). */
  readonly node: PlanNode;
  /** The task run per item. */
  readonly task: Task;
  /** The items. */
  readonly items: readonly unknown[];
  /** Execution count of the owner when the map started (each item's `ctx.cycle`). */
  readonly cycle: number;
  /** The policy. */
  readonly policy: GroupPolicy | undefined;
  /** Most items in flight. */
  readonly concurrency: number;
  /** For `ctx.map`: settings as data. */
  readonly data: MapSettings["data"];
  /** Items running now. */
  running = 0;
  /** Index of the item the last `start()` started. */
  current = -1;
  readonly #state: Uint8Array;
  readonly #results: unknown[];
  readonly #failed = new Map<number, unknown>();
  #next = 0;
  #todo: number;
  #ok = 0;

  /**
   * Creates the state of a new map activation, or restores one.
   *
   * @param owner The node it completes.
   * @param node The node items run as.
   * @param task The task.
   * @param items The items.
   * @param cycle The owner's execution count.
   * @param settings Policy, bound.
   * @param restored Finished items from saved state.
   */
  constructor(
    owner: PlanNode,
    node: PlanNode,
    task: Task,
    items: readonly unknown[],
    cycle: number,
    settings: MapSettings,
    restored?: Pick<MapRunData, "results" | "failed">,
  ) {
    this.owner = owner;
    this.node = node;
    this.task = task;
    this.items = items;
    this.cycle = cycle;
    this.policy = settings.policy;
    this.concurrency = settings.concurrency ?? Infinity;
    this.data = settings.data;
    const n = items.length;
    this.#state = new Uint8Array(n);
    this.#results = new Array(n);
    this.#todo = n;
    if (!restored) return;
    for (const [key, value] of Object.entries(restored.results)) {
      const i = Number(key);
      this.#state[i] = OK;
      this.#results[i] = value;
      this.#ok++;
      this.#todo--;
    }
    for (const [key, error] of Object.entries(restored.failed)) {
      const i = Number(key);
      this.#state[i] = FAILED;
      this.#failed.set(i, error);
      this.#todo--;
    }
  }

  /** The id of item `i` in outcomes and events: `"<owner>[<i>]"`. */
  itemId(i: number): string {
    return `${this.owner.id}[${i}]`;
  }

  /** Whether an item can start now. */
  get hasRoom(): boolean {
    return this.#todo > 0 && this.running < this.concurrency;
  }

  /** Whether every item has settled. */
  get done(): boolean {
    return this.#todo === 0 && this.running === 0;
  }

  /**
   * Starts the next waiting item (in index order); its index is then in `current`.
   *
   * @returns False when none can start.
   */
  start(): boolean {
    if (!this.hasRoom) return false;
    const state = this.#state;
    let i = this.#next;
    while (state[i] !== TODO) i++;
    state[i] = RUNNING;
    this.#next = i + 1;
    this.#todo--;
    this.running++;
    this.current = i;
    return true;
  }

  /**
   * Marks an item running again after a restore (it was running when a journal snapshot was
   * taken; its outcome comes later in the journal).
   *
   * @param i The item.
   * @returns False when the item is not waiting (already done, or out of range).
   */
  resume(i: number): boolean {
    if (!Number.isInteger(i) || i < 0 || i >= this.items.length || this.#state[i] !== TODO) {
      return false;
    }
    this.#state[i] = RUNNING;
    this.#todo--;
    this.running++;
    return true;
  }

  /**
   * Records an item's result.
   *
   * @param i The item.
   * @param result Its result.
   * @returns Whether the map is decided now (every item settled, or the policy's answer is
   * certain).
   */
  ok(i: number, result: unknown): boolean {
    if (this.#state[i] !== RUNNING) return false;
    this.#state[i] = OK;
    this.#results[i] = result;
    this.running--;
    this.#ok++;
    return this.#decided();
  }

  /**
   * Records an item's failure.
   *
   * @param i The item.
   * @param error What it threw.
   * @returns Whether the map is decided now.
   */
  fail(i: number, error: unknown): boolean {
    if (this.#state[i] !== RUNNING) return false;
    this.#state[i] = FAILED;
    this.#failed.set(i, error);
    this.running--;
    return this.#decided(i);
  }

  #decided(failedIndex?: number): boolean {
    if (this.done) return true;
    if (failedIndex === undefined && this.policy === undefined) return false; // strict: failures only
    const id = failedIndex === undefined ? undefined : this.itemId(failedIndex);
    return decidedEarly(this.policy, {
      succeeded: this.#ok,
      failed: this.#failed.size,
      total: this.items.length,
      failedMember: id,
      failedTask: id,
    });
  }

  /**
   * Applies the policy: the outcome (items not settled are `cancelled`), the results of the
   * items that succeeded in item order, and the error that fails the map, if any.
   *
   * @returns Outcome, output, error.
   */
  settle(): { outcome: GroupOutcome; output: unknown[]; error?: Error } {
    const succeeded: string[] = [];
    const failed: GroupOutcome["failed"] = [];
    const cancelled: string[] = [];
    const output: unknown[] = [];
    const state = this.#state;
    for (let i = 0; i < state.length; i++) {
      const s = state[i];
      if (s === OK) {
        succeeded.push(this.itemId(i));
        output.push(this.#results[i]);
      } else if (s === FAILED) {
        const id = this.itemId(i);
        failed.push({ taskId: id, member: id, error: this.#failed.get(i) });
      } else cancelled.push(this.itemId(i));
    }
    const outcome = { groupId: this.owner.id, succeeded, failed, cancelled };
    return { outcome, output, error: applyPolicy(this.policy, outcome) };
  }

  /**
   * The state as plain data: running items count as waiting (they run again).
   *
   * @returns The data (values not encoded).
   */
  toData(): MapRunData {
    const results: Record<string, unknown> = {};
    const failed: Record<string, unknown> = {};
    const state = this.#state;
    for (let i = 0; i < state.length; i++) {
      if (state[i] === OK) results[i] = this.#results[i];
      else if (state[i] === FAILED) failed[i] = this.#failed.get(i);
    }
    return {
      task: this.task.name,
      node: this.node.id,
      items: [...this.items],
      results,
      failed,
      cycle: this.cycle,
      ...(this.data?.policy ? { policy: this.data.policy } : {}),
      ...(this.data?.concurrency !== undefined ? { concurrency: this.data.concurrency } : {}),
    };
  }
}
