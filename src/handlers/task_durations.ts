/**
 * Recent task durations, to tell short tasks (worth sending ahead to a busy worker) from long
 * ones (better left for the next free worker).
 *
 * @module
 */

/** @internal Moving averages of task durations by task name and overall. */
export class TaskDurations {
  readonly #byName = new Map<string, number>();
  readonly #limit: number;
  #overall: number | undefined;

  /**
   * Creates the estimates.
   *
   * @param limit Most task names remembered (the map restarts when full).
   */
  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  /**
   * Records one execution.
   *
   * @param name Task name.
   * @param ms Its duration.
   */
  record(name: string, ms: number): void {
    const old = this.#byName.get(name);
    if (old === undefined && this.#byName.size >= this.#limit) this.#byName.clear();
    this.#byName.set(name, old === undefined ? ms : old * 0.7 + ms * 0.3);
    this.#overall = this.#overall === undefined ? ms : this.#overall * 0.9 + ms * 0.1;
  }

  /**
   * The expected duration of a task: its own moving average, else the recent average over all
   * tasks; `undefined` before anything ran.
   *
   * @param name Task name.
   * @returns Milliseconds, or `undefined`.
   */
  estimate(name: string): number | undefined {
    return this.#byName.get(name) ?? this.#overall;
  }
}
