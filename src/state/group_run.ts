/**
 * One activation of a parallel group: which members settled, how, and the group's output.
 * Kept in arrays indexed by member position, so that wide groups (10,000 members) cost no
 * more per member than narrow ones. The group is decided once every member settled, or as
 * soon as its policy's answer is certain (members not settled then are `cancelled`).
 *
 * @module
 */
import type { GroupSpec } from "../graph/graph.ts";
import type { MemberRunState } from "./run_state_data.ts";
import { applyPolicy, decidedEarly, type GroupOutcome } from "../graph/policies.ts";

const UNSET = Symbol("unset");

/** The members of an active group and how many are still running. */
export class GroupRun {
  /** The group. */
  readonly spec: GroupSpec;
  /** Members not settled yet. */
  pending: number;
  /** Exits still to complete per member; 0 = settled. */
  readonly #remaining: Int32Array;
  /** Result per single-exit member, or per-exit results object for multi-exit members. */
  readonly #results: unknown[];
  readonly #failed = new Map<number, { taskId: string; error: unknown }>();
  /** Members that succeeded. */
  #ok = 0;

  /**
   * Creates the state of a new activation, or restores one from a checkpoint.
   *
   * @param spec The group.
   * @param restored Member states from a checkpoint.
   */
  constructor(spec: GroupSpec, restored?: Record<string, MemberRunState>) {
    this.spec = spec;
    const n = spec.members.length;
    this.#remaining = new Int32Array(n);
    this.#results = new Array(n).fill(UNSET);
    this.pending = n;
    for (let i = 0; i < n; i++) this.#remaining[i] = spec.members[i].exits.length;
    if (!restored) return;
    spec.members.forEach((m, i) => {
      const r = restored[m.id];
      if (!r) return;
      this.#remaining[i] = r.settled ? 0 : r.remaining;
      const keys = Object.keys(r.results ?? {});
      if (keys.length) {
        this.#results[i] = m.exits.length === 1 ? r.results[keys[0]] : { ...r.results };
      }
      if (r.failed) this.#failed.set(i, r.failed);
      if (r.settled) {
        this.pending--;
        if (!r.failed) this.#ok++;
      }
    });
  }

  /**
   * Records the completion of one exit of a member.
   *
   * @param i Member position (`PlanNode.member`).
   * @param key Result key (exit task id, or nested group id).
   * @param result The exit's result.
   * @returns Whether the group is decided now (every member settled, or the policy's answer
   * is certain).
   */
  exit(i: number, key: string, result: unknown): boolean {
    if (i < 0 || this.#remaining[i] === 0) return false;
    if (this.spec.members[i].exits.length === 1) this.#results[i] = result;
    else {
      if (this.#results[i] === UNSET) this.#results[i] = {};
      (this.#results[i] as Record<string, unknown>)[key] = result;
    }
    if (--this.#remaining[i] > 0) return false;
    this.#ok++;
    if (--this.pending === 0) return true;
    const policy = this.spec.policy;
    return policy !== undefined && decidedEarly(policy, this.#progress());
  }

  #progress(failedMember?: string, failedTask?: string) {
    return {
      succeeded: this.#ok,
      failed: this.#failed.size,
      total: this.spec.members.length,
      failedMember,
      failedTask,
    };
  }

  /**
   * Records a member's failure.
   *
   * @param i Member position (`PlanNode.member`).
   * @param taskId The task (or nested group) that failed.
   * @param error What it threw.
   * @returns `undefined` when the member had already settled (the failure is not the group's),
   * else whether the group is decided now.
   */
  fail(i: number, taskId: string, error: unknown): boolean | undefined {
    if (i < 0 || this.#remaining[i] === 0) return undefined;
    this.#remaining[i] = 0;
    this.#failed.set(i, { taskId, error });
    if (--this.pending === 0) return true;
    return decidedEarly(this.spec.policy, this.#progress(this.spec.members[i].id, taskId));
  }

  /**
   * Applies the policy to the decided group.
   *
   * @returns The outcome (members not settled are `cancelled`), the group's output (results of
   * members that succeeded, by member id) and the error that fails the group, if any.
   */
  settle(): { outcome: GroupOutcome; output: Record<string, unknown>; error?: Error } {
    const succeeded: string[] = [];
    const failed: GroupOutcome["failed"] = [];
    const cancelled: string[] = [];
    const output: Record<string, unknown> = {};
    const members = this.spec.members;
    for (let i = 0; i < members.length; i++) {
      const id = members[i].id;
      const f = this.#failed.get(i);
      if (f) failed.push({ ...f, member: id });
      else if (this.#remaining[i] > 0) cancelled.push(id);
      else {
        succeeded.push(id);
        output[id] = this.#results[i] === UNSET ? undefined : this.#results[i];
      }
    }
    const outcome = { groupId: this.spec.id, succeeded, failed, cancelled };
    return { outcome, output, error: applyPolicy(this.spec.policy, outcome) };
  }

  /**
   * The member states as plain data (for checkpoints).
   *
   * @returns Member states by member id.
   */
  toJSON(): Record<string, MemberRunState> {
    const out: Record<string, MemberRunState> = {};
    this.spec.members.forEach((m, i) => {
      const value = this.#results[i];
      const results: Record<string, unknown> = value === UNSET
        ? {}
        : m.exits.length === 1
        ? { [m.exits[0]]: value }
        : { ...(value as Record<string, unknown>) };
      const failed = this.#failed.get(i);
      out[m.id] = {
        remaining: this.#remaining[i],
        results,
        settled: this.#remaining[i] === 0,
        ...(failed ? { failed } : {}),
      };
    });
    return out;
  }
}
