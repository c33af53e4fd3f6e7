/**
 * The path a run took, from its events: which tasks succeeded in which order, how many
 * attempts and executions (iterations) each made, which map items ran, what was cancelled —
 * with assertions that say what differed.
 *
 * @module
 */
import type { WorkflowEvent } from "../observability/events.ts";

/** An assertion about a run's path failed. */
export class PathAssertionError extends Error {
  /**
   * Creates the instance.
   *
   * @param message What differed.
   */
  constructor(message: string) {
    super(message);
    this.name = "PathAssertionError";
  }
}

/**
 * Records a run's events: pass `onEvent` to `run({ onEvent })` (or call it from your own
 * listener), then read the path or assert on it.
 *
 * @example Asserting the path, attempts and iterations of a run
 * ```ts
 * import { flow, task } from "@graflow/graflow";
 * import { FakeClock, RunRecorder } from "@graflow/graflow/testing";
 * let calls = 0;
 * const fetch = task("doc_rec_fetch", () => {
 *   if (++calls < 3) throw new Error("503");
 *   return 3;
 * }, { retries: { maxRetries: 5, initialDelayMs: 60_000 } });
 * const count = task("doc_rec_count", (n: number, ctx) => {
 *   if (ctx.cycle < n) ctx.nextIteration(n);
 *   return ctx.cycle;
 * });
 * const rec = new RunRecorder();
 * await flow`${fetch} >> ${count}`.run({
 *   onEvent: rec.onEvent,
 *   clock: new FakeClock({ autoAdvance: true }), // the two one-minute retry delays pass at once
 * });
 * rec.assertPath(["doc_rec_fetch", "doc_rec_count", "doc_rec_count", "doc_rec_count"]);
 * rec.assertAttempts({ doc_rec_fetch: 3, doc_rec_count: 3 });
 * rec.assertExecutions({ doc_rec_fetch: 1, doc_rec_count: 3 });
 * ```
 */
export class RunRecorder {
  /** Every event received, in order. */
  readonly events: WorkflowEvent[] = [];

  /** The listener to pass as `run({ onEvent })`. */
  readonly onEvent = (event: WorkflowEvent): void => {
    this.events.push(event);
  };

  /**
   * Task ids in the order their executions succeeded (map items left out); a map node appears
   * once, when it settled successfully.
   */
  get path(): string[] {
    const path: string[] = [];
    for (const e of this.events) {
      if (e.type === "task.succeeded" && e.item === undefined) path.push(e.taskId);
      else if (e.type === "group.settled" && e.map === "node" && e.ok) path.push(e.groupId);
    }
    return path;
  }

  /**
   * Attempts started per task id (retries included; map items left out).
   *
   * @returns Attempts by task id.
   */
  attempts(): Record<string, number> {
    return this.#count((e) => e.type === "task.started" && e.item === undefined);
  }

  /**
   * Executions per task id (its first attempts: loops and iterations count, retries do not;
   * map items left out).
   *
   * @returns Executions by task id.
   */
  executions(): Record<string, number> {
    return this.#count((e) => e.type === "task.started" && e.item === undefined && e.attempt === 1);
  }

  /**
   * Map items that succeeded, per task id.
   *
   * @returns Items by task id.
   */
  items(): Record<string, number> {
    return this.#count((e) => e.type === "task.succeeded" && e.item !== undefined);
  }

  /**
   * Tasks (and map items, as `"<task>[<i>]"`) cancelled because their group or map settled
   * without them, in order.
   *
   * @returns Their ids.
   */
  cancelled(): string[] {
    const out: string[] = [];
    for (const e of this.events) {
      if (e.type === "task.cancelled") {
        out.push(e.item === undefined ? e.taskId : `${e.taskId}[${e.item}]`);
      }
    }
    return out;
  }

  /**
   * Asserts the exact path (see {@linkcode RunRecorder.path}).
   *
   * @param expected Task ids in order.
   * @throws {PathAssertionError} Showing both paths and where they part.
   */
  assertPath(expected: readonly string[]): void {
    const actual = this.path;
    const n = Math.max(actual.length, expected.length);
    for (let i = 0; i < n; i++) {
      if (actual[i] !== expected[i]) {
        throw new PathAssertionError(
          `Expected the run to take path [${expected.join(", ")}], it took [${
            actual.join(", ")
          }]: they differ at step ${i + 1} (expected ${show(expected[i])}, got ${show(actual[i])})`,
        );
      }
    }
  }

  /**
   * Asserts attempts per task (only the tasks named).
   *
   * @param expected Attempts by task id (0: never started).
   * @throws {PathAssertionError} Listing every task whose count differs.
   */
  assertAttempts(expected: Record<string, number>): void {
    this.#compare("attempts", expected, this.attempts());
  }

  /**
   * Asserts executions per task (only the tasks named): iterations and loops, not retries.
   *
   * @param expected Executions by task id (0: never ran).
   * @throws {PathAssertionError} Listing every task whose count differs.
   */
  assertExecutions(expected: Record<string, number>): void {
    this.#compare("executions", expected, this.executions());
  }

  #compare(what: string, expected: Record<string, number>, actual: Record<string, number>) {
    const wrong = Object.entries(expected)
      .filter(([id, n]) => (actual[id] ?? 0) !== n)
      .map(([id, n]) => `"${id}": expected ${n}, got ${actual[id] ?? 0}`);
    if (wrong.length) {
      throw new PathAssertionError(`Expected other ${what}: ${wrong.join("; ")}`);
    }
  }

  #count(test: (e: WorkflowEvent) => boolean): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.events) {
      if (test(e)) {
        const id = (e as { taskId: string }).taskId;
        out[id] = (out[id] ?? 0) + 1;
      }
    }
    return out;
  }
}

function show(id: string | undefined): string {
  return id === undefined ? "nothing" : `"${id}"`;
}
