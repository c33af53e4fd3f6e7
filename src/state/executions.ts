/**
 * Starting the executions of a run and keeping the ones that run: step numbers, each node's
 * cycle count checked against its task's `maxCycles`, task executions checked against the run's
 * `maxSteps` (map items do not count against it), the set of running executions, and cancelling
 * those a settled group or map no longer waits for. `RunState` owns one privately and is its
 * only caller: it decides what to start, this module counts and creates.
 *
 * @module
 */
import type { PlanNode } from "../graph/plan.ts";
import { CycleLimitExceededError, WorkflowError } from "../errors.ts";
import type { Activation, ExecState, ExecutionPort } from "./exec_state.ts";
import type { MapRun } from "./map_run.ts";
import type { RestoredFields } from "./run_state_io.ts";
import { RunningSet } from "./running_set.ts";

/** The executions of one run: counters and the running set. */
export class Executions<E extends ExecState> implements Iterable<E> {
  /** Hard limit of task executions. */
  readonly maxSteps: number;
  #steps = 0;
  /** Executions of map items among `#steps` (they do not count against `maxSteps`). */
  #itemSteps = 0;
  /** Executions per node index. */
  readonly #cycles: number[] = [];
  readonly #running = new RunningSet<E>();
  readonly #port: ExecutionPort<E>;

  /**
   * Creates the counters of a run that has executed nothing.
   *
   * @param maxSteps Hard limit of task executions.
   * @param port Execution factory and cancellation.
   */
  constructor(maxSteps: number, port: ExecutionPort<E>) {
    this.maxSteps = maxSteps;
    this.#port = port;
  }

  /** Executions so far (map items included). */
  get steps(): number {
    return this.#steps;
  }

  /** Executions of map items so far. */
  get itemSteps(): number {
    return this.#itemSteps;
  }

  /** How many executions run now. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Iterates over the running executions (a copy: they may settle meanwhile).
   *
   * @returns An iterator.
   */
  [Symbol.iterator](): Iterator<E> {
    return this.#running[Symbol.iterator]();
  }

  /**
   * Executions per node id.
   *
   * @param nodes The nodes to include, in order.
   * @returns The counts of the nodes that ran.
   */
  cycles(nodes: Iterable<PlanNode>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const pn of nodes) {
      const count = this.#cycles[pn.index];
      if (count) out[pn.id] = count;
    }
    return out;
  }

  /**
   * Counts the next cycle of a map node about to open its items.
   *
   * @param node The map node.
   * @returns The cycle, or the error that stops the run when it passes `maxCycles`.
   */
  openMap(node: PlanNode): number | CycleLimitExceededError {
    const t = node.node.task!;
    const cycle = (this.#cycles[node.index] ?? 0) + 1;
    if (cycle > t.maxCycles) return new CycleLimitExceededError(node.id, t.maxCycles);
    this.#cycles[node.index] = cycle;
    return cycle;
  }

  /**
   * Starts an activation of a task node (counted against `maxSteps` and `maxCycles`).
   *
   * @param act The activation.
   * @returns The new execution, or the error that stops the run when a limit is reached.
   */
  start(act: Activation): E | WorkflowError {
    const node = act.node;
    const t = node.node.task!;
    if (this.#steps - this.#itemSteps >= this.maxSteps) {
      return new WorkflowError(
        `Cannot run task "${t.name}": the run reached maxSteps (${this.maxSteps} task executions)`,
        { code: "MAX_STEPS" },
      );
    }
    const cycle = (this.#cycles[node.index] ?? 0) + 1;
    if (cycle > t.maxCycles) return new CycleLimitExceededError(t.name, t.maxCycles);
    const step = ++this.#steps;
    this.#cycles[node.index] = cycle;
    return this.#add(this.#port.exec(
      step,
      node,
      t,
      act.input,
      act.from,
      act.kind,
      cycle,
      act.attempt ?? 1,
      undefined,
      -1,
    ));
  }

  /**
   * Starts the current item of a map (the map's `nextItem()` chose it).
   *
   * @param run The map.
   * @returns The new execution.
   */
  startItem(run: MapRun): E {
    const step = ++this.#steps;
    this.#itemSteps++;
    const i = run.current;
    return this.#add(
      this.#port.exec(
        step,
        run.node,
        run.task,
        run.items[i],
        run.owner.id,
        "edge",
        run.cycle,
        1,
        run,
        i,
      ),
    );
  }

  /**
   * Marks an execution settled and removes it from the running set.
   *
   * @param exec The execution.
   * @returns False when it had settled already (nothing changed).
   */
  settle(exec: E): boolean {
    if (exec.settled) return false;
    this.drop(exec);
    return true;
  }

  /**
   * Drops an execution that will never settle (settled or not).
   *
   * @param exec The execution.
   */
  drop(exec: E): void {
    exec.settled = true;
    this.#running.delete(exec);
  }

  /**
   * Cancels the running executions that `test` selects: they settle now and the port aborts
   * them.
   *
   * @param test Selects the executions.
   * @param reason Why (their attempts abort with it).
   */
  cancel(test: (exec: ExecState) => boolean, reason: unknown): void {
    for (const exec of this.#running) {
      if (!test(exec)) continue;
      exec.settled = true;
      this.#running.delete(exec);
      this.#port.cancel?.(exec, reason);
    }
  }

  /**
   * Sets the counters of a run rebuilt from data (before its running executions are resumed).
   *
   * @param steps Executions so far.
   * @param itemSteps Executions of map items among them.
   * @param cycles Executions per node.
   */
  restore(steps: number, itemSteps: number, cycles: RestoredFields["cycles"]): void {
    this.#steps = steps;
    this.#itemSteps = itemSteps;
    for (const [node, count] of cycles) this.#cycles[node.index] = count;
  }

  /**
   * Re-creates the executions that were running when a journal snapshot was taken (their
   * numbers were counted then); a map item takes its place back in its map.
   *
   * @param running The executions' data.
   * @param mapRun Finds the active map of a map's node id.
   * @throws {WorkflowError} When a map item's map has no such waiting item.
   */
  resume(
    running: RestoredFields["running"],
    mapRun: (id: string) => MapRun | undefined,
  ): void {
    for (const x of running) {
      const run = x.map === undefined ? undefined : mapRun(x.map);
      if (x.map !== undefined && !run?.resume(x.item ?? -1)) {
        throw new WorkflowError(
          `Cannot restore run: execution ${x.step} is item ${x.item} of map "${x.map}", which has no such waiting item`,
        );
      }
      this.#add(this.#port.exec(
        x.step,
        x.node,
        run ? run.task : x.node.node.task!,
        x.input,
        x.from,
        x.kind,
        x.cycle,
        x.attempt,
        run,
        run ? x.item! : -1,
      ));
    }
  }

  #add(exec: E): E {
    this.#running.add(exec);
    return exec;
  }
}
