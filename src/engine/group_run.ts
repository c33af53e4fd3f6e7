/**
 * One activation of a parallel group: which members settled, how, and the group's output.
 *
 * @module
 */
import type { GroupSpec } from "../graph/graph.ts";
import type { MemberRunState } from "../context/run_state.ts";
import { applyPolicy, type GroupOutcome } from "./policies.ts";

/** The members of an active group and how many are still running. */
export class GroupRun {
  /** The group. */
  readonly spec: GroupSpec;
  /** Member states by member id. */
  readonly members: Map<string, MemberRunState>;
  /** Members not settled yet. */
  pending: number;

  /**
   * Creates the state of a new activation, or restores one from a checkpoint.
   *
   * @param spec The group.
   * @param restored Member states from a checkpoint.
   */
  constructor(spec: GroupSpec, restored?: Record<string, MemberRunState>) {
    this.spec = spec;
    this.members = new Map();
    for (const m of spec.members) {
      this.members.set(
        m.id,
        restored?.[m.id] ?? { remaining: m.exits.length, results: {}, settled: false },
      );
    }
    this.pending = 0;
    for (const m of this.members.values()) if (!m.settled) this.pending++;
  }

  /**
   * Records the completion of one exit of a member.
   *
   * @param member Member id.
   * @param key Result key (exit task id, or nested group id).
   * @param result The exit's result.
   * @returns Whether every member has now settled.
   */
  exit(member: string, key: string, result: unknown): boolean {
    const m = this.members.get(member);
    if (!m || m.settled) return false;
    m.results[key] = result;
    if (--m.remaining > 0) return false;
    m.settled = true;
    return --this.pending === 0;
  }

  /**
   * Records a member's failure.
   *
   * @param member Member id.
   * @param taskId The task (or nested group) that failed.
   * @param error What it threw.
   * @returns `undefined` when the member had already settled (the failure is not the group's),
   * else whether every member has now settled.
   */
  fail(member: string, taskId: string, error: unknown): boolean | undefined {
    const m = this.members.get(member);
    if (!m || m.settled) return undefined;
    m.settled = true;
    m.failed = { taskId, error };
    return --this.pending === 0;
  }

  /**
   * Applies the policy to the settled group.
   *
   * @returns The outcome, the group's output (results of members that succeeded, by member id)
   * and the error that fails the group, if any.
   */
  settle(): { outcome: GroupOutcome; output: Record<string, unknown>; error?: Error } {
    const succeeded: string[] = [];
    const failed: GroupOutcome["failed"] = [];
    const output: Record<string, unknown> = {};
    for (const [id, m] of this.members) {
      if (m.failed) failed.push({ ...m.failed, member: id });
      else {
        succeeded.push(id);
        const keys = Object.keys(m.results);
        output[id] = keys.length === 1 ? m.results[keys[0]] : m.results;
      }
    }
    const outcome = { groupId: this.spec.id, succeeded, failed };
    return { outcome, output, error: applyPolicy(this.spec.policy, outcome) };
  }

  /**
   * The member states as plain data (for checkpoints).
   *
   * @returns Member states by member id.
   */
  toJSON(): Record<string, MemberRunState> {
    return Object.fromEntries(this.members);
  }
}
