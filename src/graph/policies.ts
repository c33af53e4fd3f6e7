/**
 * Error policies of parallel groups and map nodes. A policy sees the settled group and throws
 * to fail it. Built-in policies also say when their answer is certain before every member
 * settled (`strict` at the first failure, `critical` at the first critical failure, `atLeast(n)`
 * at the n-th success or once n cannot be reached, `firstSuccess` at the first success): the
 * group then settles at once and its members still running are cancelled. Custom policy
 * functions see the final outcome (every member settled).
 *
 * @module
 */
import { type GroupFailure, ParallelGroupError } from "../errors.ts";

/** How a parallel group ended: which members succeeded and which failed. */
export interface GroupOutcome {
  /** The group id. */
  groupId: string;
  /** Ids of members that succeeded. */
  succeeded: string[];
  /** Members that failed, with what they threw (`taskId` is the task that failed). */
  failed: { taskId: string; member?: string; error: unknown }[];
  /**
   * Members that had not settled when the policy's answer became certain: they were aborted
   * through `ctx.signal` (running) or never started, and their results are dropped. Always
   * empty for custom policy functions, which see every member settled.
   */
  cancelled: string[];
}

/** How far a group got, for deciding early: counts of settled members. */
export interface GroupProgress {
  /** Members that succeeded so far. */
  succeeded: number;
  /** Members that failed so far. */
  failed: number;
  /** Members in all. */
  total: number;
  /** The member whose failure was just recorded, when the last event was a failure. */
  failedMember?: string;
  /** The task (or nested group) that failed in it. */
  failedTask?: string;
}

/**
 * Decides whether a settled group succeeded: return to accept, throw to fail it. A thrown
 * {@linkcode ParallelGroupError} is used as is; anything else is wrapped in one.
 */
export interface GroupPolicy {
  /**
   * Decides: returns to accept the outcome, throws to fail the group.
   *
   * @param outcome The settled group.
   */
  (outcome: GroupOutcome): void;
  /** @internal Checks the policy against the group's member ids when the group is built. */
  validate?: (members: string[], groupId: string) => void;
  /** A short description for renderers and errors. */
  label?: string;
  /** @internal How to rebuild a built-in policy (checkpoints store it; custom ones have none). */
  spec?: PolicySpec;
  /**
   * @internal Whether the answer is certain before every member settled (built-in policies
   * only; called after each member settles).
   */
  early?: (progress: GroupProgress) => boolean;
}

/** A built-in policy as data. */
export type PolicySpec =
  | { type: "strict" }
  | { type: "bestEffort" }
  | { type: "atLeast"; n: number }
  | { type: "critical"; names: string[] }
  | { type: "firstSuccess" };

/**
 * Rebuilds a built-in policy from its {@linkcode PolicySpec}.
 *
 * @param spec The spec.
 * @returns The policy.
 * @throws {TypeError} When the spec is not a built-in policy.
 */
export function policyFromSpec(spec: PolicySpec): GroupPolicy {
  switch (spec?.type) {
    case "strict":
      return strict();
    case "bestEffort":
      return bestEffort();
    case "atLeast":
      return atLeast(spec.n);
    case "critical":
      return critical(spec.names);
    case "firstSuccess":
      return firstSuccess();
  }
  throw new TypeError(`Cannot rebuild policy: unknown spec ${JSON.stringify(spec)}`);
}

function make(
  spec: PolicySpec,
  label: string,
  decide: (o: GroupOutcome) => void,
  early: ((p: GroupProgress) => boolean) | undefined,
  validate?: (members: string[], groupId: string) => void,
): GroupPolicy {
  return Object.assign(decide, { label, validate, spec, early });
}

function fail(o: GroupOutcome, reason: string, failed: GroupFailure[] = o.failed): never {
  throw new ParallelGroupError(
    o.groupId,
    failed.map((f) => ({ taskId: f.taskId, error: f.error })),
    o.succeeded,
    reason,
  );
}

/**
 * Any failure fails the group (the default).
 *
 * @returns The policy.
 *
 * @example Strict group
 * ```ts
 * import { parallel, strict, task } from "@graflow/graflow";
 * const a = task("doc_strict_a", () => 1);
 * const b = task("doc_strict_b", () => 2);
 * parallel([a, b], { policy: strict() });
 * ```
 */
export function strict(): GroupPolicy {
  return make({ type: "strict" }, "strict", (o) => {
    if (o.failed.length) fail(o, `${o.failed.length} member(s) failed under strict policy`);
  }, (p) => p.failed > 0);
}

/**
 * The group succeeds whatever fails; successors get the results of the members that succeeded.
 *
 * @returns The policy.
 *
 * @example Best effort
 * ```ts
 * import { bestEffort } from "@graflow/graflow";
 * const policy = bestEffort();
 * policy({
 *   groupId: "g",
 *   succeeded: [],
 *   failed: [{ taskId: "a", error: new Error("x") }],
 *   cancelled: [],
 * });
 * ```
 */
export function bestEffort(): GroupPolicy {
  return make({ type: "bestEffort" }, "best effort", () => {}, undefined);
}

/**
 * The group succeeds when at least `n` members succeeded.
 *
 * @param n Minimum number of successes.
 * @returns The policy.
 * @throws {RangeError} When `n` is not a whole number >= 0 (at once) or exceeds the number of
 * members (when the group is built).
 *
 * @example At least two of three
 * ```ts
 * import { atLeast } from "@graflow/graflow";
 * const policy = atLeast(2);
 * policy({
 *   groupId: "g",
 *   succeeded: ["a", "b"],
 *   failed: [{ taskId: "c", error: new Error("x") }],
 *   cancelled: [],
 * });
 * ```
 */
export function atLeast(n: number): GroupPolicy {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Cannot create atLeast policy: n must be a whole number >= 0, got ${n}`);
  }
  return make(
    { type: "atLeast", n },
    `at least ${n}`,
    (o) => {
      const total = o.succeeded.length + o.failed.length + (o.cancelled?.length ?? 0);
      if (n > total) {
        throw new RangeError(
          `Cannot apply atLeast(${n}) to group "${o.groupId}": it has only ${total} member(s)`,
        );
      }
      if (o.succeeded.length < n) {
        fail(o, `${o.succeeded.length} of ${total} member(s) succeeded, at least ${n} required`);
      }
    },
    (p) => p.succeeded >= n || p.failed > p.total - n,
    (members, groupId) => {
      if (n > members.length) {
        throw new RangeError(
          `Cannot apply atLeast(${n}) to group "${groupId}": it has only ${members.length} member(s)`,
        );
      }
    },
  );
}

/**
 * The group fails only when one of the named members fails; others may fail freely.
 *
 * @param names Member ids (a member's id is its task name, or its last task for a chain).
 * @returns The policy.
 * @throws {TypeError} When `names` is empty or not strings (at once), or names a task that is
 * not a member (when the group is built).
 *
 * @example Critical members
 * ```ts
 * import { critical } from "@graflow/graflow";
 * const policy = critical(["charge"]);
 * policy({
 *   groupId: "g",
 *   succeeded: ["charge"],
 *   failed: [{ taskId: "email", error: new Error("x") }],
 *   cancelled: [],
 * });
 * ```
 */
export function critical(names: string[]): GroupPolicy {
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string")) {
    throw new TypeError(
      `Cannot create critical policy: names must be a non-empty array of member names, got ${
        JSON.stringify(names)
      }`,
    );
  }
  const set = new Set(names);
  const check = (members: string[], groupId: string) => {
    const unknown = names.filter((n) => !members.includes(n));
    if (unknown.length) {
      throw new TypeError(
        `Cannot apply critical policy to group "${groupId}": ${
          unknown.map((n) => `"${n}"`).join(", ")
        } not among its members (${members.map((m) => `"${m}"`).join(", ")})`,
      );
    }
  };
  return make({ type: "critical", names: [...names] }, `critical ${names.join(", ")}`, (o) => {
    const criticalFailures = o.failed.filter((f) => set.has(f.taskId) || set.has(f.member ?? ""));
    if (criticalFailures.length) fail(o, "a critical member failed", criticalFailures);
  }, (p) =>
    (p.failedMember !== undefined && set.has(p.failedMember)) ||
    (p.failedTask !== undefined && set.has(p.failedTask)), check);
}

/**
 * The first member to succeed wins: the group succeeds at once, the members still running are
 * cancelled (aborted through `ctx.signal`), and successors get the winner's result alone. The
 * group fails only when every member failed.
 *
 * @returns The policy.
 *
 * @example A race of two mirrors
 * ```ts
 * import { firstSuccess, flow, parallel, task } from "@graflow/graflow";
 * const fast = task("doc_first_fast", () => "fast");
 * const slow = task("doc_first_slow", async (_: unknown, ctx) => {
 *   await new Promise((resolve) => {
 *     const timer = setTimeout(resolve, 5_000);
 *     ctx.signal.addEventListener("abort", () => resolve(clearTimeout(timer)));
 *   });
 *   return "slow";
 * });
 * const race = parallel([fast, slow], { name: "doc_race", policy: firstSuccess() });
 * const result = await flow`${race}`.run();
 * if (JSON.stringify(result.output) !== '{"doc_first_fast":"fast"}') throw new Error("unexpected");
 * ```
 */
export function firstSuccess(): GroupPolicy {
  return make({ type: "firstSuccess" }, "first success", (o) => {
    if (o.succeeded.length === 0) {
      fail(o, `none of ${o.failed.length + (o.cancelled?.length ?? 0)} member(s) succeeded`);
    }
  }, (p) => p.succeeded > 0);
}

/**
 * Whether a group's answer is certain now (built-in policies only; custom ones wait for every
 * member).
 *
 * @param policy The group's policy (default strict).
 * @param progress Counts of settled members.
 * @returns True when the group can settle before its other members.
 */
export function decidedEarly(policy: GroupPolicy | undefined, progress: GroupProgress): boolean {
  const early = (policy ?? defaultPolicy).early;
  return early !== undefined && early(progress);
}

/**
 * Applies `policy` (default strict) to a settled group.
 *
 * @param policy The policy or undefined.
 * @param outcome The group outcome.
 * @returns `undefined` when the group succeeded, else the error that fails it.
 */
export function applyPolicy(
  policy: GroupPolicy | undefined,
  outcome: GroupOutcome,
): Error | undefined {
  try {
    (policy ?? defaultPolicy)(outcome);
    return undefined;
  } catch (error) {
    if (error instanceof ParallelGroupError) return error;
    if (error instanceof RangeError || error instanceof TypeError) return error;
    return new ParallelGroupError(
      outcome.groupId,
      outcome.failed.map((f) => ({ taskId: f.taskId, error: f.error })),
      outcome.succeeded,
      `custom policy rejected the outcome: ${(error as Error)?.message ?? String(error)}`,
    );
  }
}

const defaultPolicy = strict();

/**
 * Checks a map's policy and concurrency (for `map()` and `ctx.map()`).
 *
 * @param what Who asks, for messages (e.g. `map(score)`).
 * @param options The options.
 * @throws {TypeError} When the policy is not a function or is `critical()`.
 * @throws {RangeError} When `concurrency` is not a whole number >= 1 (or Infinity).
 */
export function checkMapOptions(
  what: string,
  options: { policy?: GroupPolicy; concurrency?: number },
): void {
  const { policy, concurrency } = options;
  if (policy !== undefined) {
    if (typeof policy !== "function") {
      throw new TypeError(`Cannot create ${what}: policy must be a function, got ${typeof policy}`);
    }
    if (policy.spec?.type === "critical") {
      throw new TypeError(
        `Cannot create ${what}: critical() names group members, and map items have no names; use strict(), bestEffort(), atLeast(n) or firstSuccess()`,
      );
    }
  }
  if (
    concurrency !== undefined &&
    !(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency >= 1))
  ) {
    throw new RangeError(
      `Cannot create ${what}: concurrency must be a whole number >= 1, got ${String(concurrency)}`,
    );
  }
}
