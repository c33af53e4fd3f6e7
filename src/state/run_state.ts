/**
 * `RunState`: the single owner of everything a run knows (steps, completions, cycle counts,
 * results, output, the queue of waiting activations, join arrivals, active groups and maps,
 * tasks added at run time, the executed graph, feedback requests, checkpoints). It is a
 * deterministic state machine: the engine feeds it what happened (a task started, succeeded,
 * failed, is retried) and it decides what runs next. Every change is one method, so the same
 * calls made from a recorded list of {@linkcode Transition}s rebuild the same state
 * (`Replay.apply` in `./replay.ts`), and `toData()` / `fromData()` round-trip it as plain data
 * without running anything. Pieces it delegates are held privately: the executions and their
 * counts (`./executions.ts`), the nodes added at run time (`./run_nodes.ts`), results, output,
 * feedback ids and checkpoints (`./run_ledger.ts`), and the activations waiting, joins, groups
 * and maps (`./routing.ts`); where outcomes go is `./directives.ts`.
 *
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import { WorkflowError } from "../errors.ts";
import { Routing } from "./routing.ts";
import type { Directives, RunStateData, Stop, TraceEdge, Transition } from "./run_state_data.ts";
import { restoreState, snapshotState, type StateFields } from "./run_state_io.ts";
import type { ExecState, RunStatePort } from "./exec_state.ts";
import { type DirectivePort, execFailed, itemSucceeded, taskSucceeded } from "./directives.ts";
import { Executions } from "./executions.ts";
import { RunNodes } from "./run_nodes.ts";
import { RunLedger } from "./run_ledger.ts";

export type { Activation, ExecState, RunStatePort } from "./exec_state.ts";

/** The state of one run. */
export class RunState<E extends ExecState = ExecState> {
  /** The run id. */
  readonly runId: string;
  /** The flow's graph. */
  readonly graph: Graph;
  /** Its plan for this run's start nodes. */
  readonly plan: Plan;
  /** Hard limit of task executions. */
  readonly maxSteps: number;
  readonly #execs: Executions<E>;
  readonly #nodes: RunNodes;
  readonly #ledger = new RunLedger();
  readonly #routing: Routing;
  #stop: Stop | undefined;
  readonly #port: RunStatePort<E>;
  #record: ((t: Transition) => void) | undefined;
  readonly #directivePort: DirectivePort;
  /** Transitions in progress: only the outermost is recorded (replay derives the others). */
  #depth = 0;

  /**
   * Creates the empty state of a run.
   *
   * @param runId The run id.
   * @param graph The flow's graph.
   * @param plan Its plan for this run.
   * @param maxSteps Hard limit of task executions.
   * @param port Execution factory, events, transition recorder.
   */
  constructor(runId: string, graph: Graph, plan: Plan, maxSteps: number, port: RunStatePort<E>) {
    this.runId = runId;
    this.graph = graph;
    this.plan = plan;
    this.maxSteps = maxSteps;
    this.#port = port;
    this.#record = port.record;
    this.#execs = new Executions(maxSteps, port);
    this.#nodes = new RunNodes(plan, (node) => this.#port.admit?.(node));
    this.#directivePort = {
      halt: (stop) => this.halt(stop),
      node: (id) => this.node(id),
      addDynamic: (t, by) => this.#nodes.add(t, by),
      routing: this.#routing = new Routing(graph, plan, {
        groupSucceeded: (fork, output) => this.#ledger.groupSucceeded(fork, output),
        mapSucceeded: (run, output) => this.#ledger.mapSucceeded(run, output),
        fail: (error) => this.halt({ kind: "failed", error }),
        cancel: (test, reason) => this.#execs.cancel(test, reason),
        note: (type, fields) => this.#port.note?.(type, fields),
      }),
      note: (type, fields) => this.#port.note?.(type, fields),
    };
  }

  // Reading ---------------------------------------------------------------------------------

  /** Task executions so far. */
  get steps(): number {
    return this.#execs.steps;
  }

  /** Task ids in completion order (read-only view). */
  get completed(): readonly string[] {
    return this.#ledger.completed;
  }

  /** The run's output so far. */
  get output(): unknown {
    return this.#ledger.output;
  }

  /** Why the run stopped, once it did. */
  get stop(): Stop | undefined {
    return this.#stop;
  }

  /** Whether an activation waits to start. */
  get hasReady(): boolean {
    return this.#routing.hasReady;
  }

  /** Executions running now. */
  get running(): Iterable<E> {
    return this.#execs;
  }

  /** How many executions run now. */
  get runningCount(): number {
    return this.#execs.size;
  }

  /** Base paths of the checkpoints written (read-only view). */
  get checkpoints(): readonly string[] {
    return this.#ledger.checkpoints;
  }

  /** The plan node with this id (of the flow, or added at run time). */
  node(id: string): PlanNode | undefined {
    return this.#nodes.get(id);
  }

  /** Every node of the run: the flow's, then those added at run time. */
  nodes(): PlanNode[] {
    return this.#nodes.all();
  }

  /** The latest result of a task or group, `undefined` when it has none. */
  resultOf(id: string): unknown {
    const node = this.node(id);
    return node && this.#ledger.resultOf(node);
  }

  /** Every task's (and group's) latest result by id, in plan order. */
  results(): Record<string, unknown> {
    return this.#ledger.results(this.#nodes.lists());
  }

  /** Executions per task id. */
  cycles(): Record<string, number> {
    return this.#execs.cycles(this.nodes());
  }

  /** The edges the run took. */
  traceEdges(): TraceEdge[] {
    return this.#routing.traceEdges();
  }

  /** Feedback request ids already made by a task's cycle, in call order. */
  feedbackIds(taskId: string, cycle: number): readonly string[] {
    return this.#ledger.feedbackIds(taskId, cycle);
  }

  // Transitions ----------------------------------------------------------------------------

  /**
   * Sends every transition from now on to `record` (after a state was rebuilt from a journal).
   *
   * @param record The recorder.
   */
  recordTo(record: ((t: Transition) => void) | undefined): void {
    this.#record = record;
  }

  /**
   * Starts the run: activates the plan's start nodes with `input`.
   *
   * @param input Input of the first tasks.
   */
  begin(input: unknown): void {
    for (const node of this.plan.starts) this.#routing.activate(node, input, "start", "start");
    this.#record?.({ t: "begin", input });
  }

  /**
   * Starts the next waiting task (forks of groups are opened on the way), unless the run is
   * stopped; stops the run when a limit (`maxSteps`, `maxCycles`) is reached.
   *
   * @returns The new execution, or `undefined` when nothing can start.
   */
  take(): E | undefined {
    const running = !this.#stop;
    this.#depth++;
    this.#opened = false;
    const exec = this.#take();
    this.#depth--;
    // A take that stopped the run on a limit, or opened a map that settled at once, is recorded
    // too: replaying it changes the state the same way.
    if (this.#depth === 0 && (exec || this.#opened || (running && this.#stop))) {
      this.#record?.(
        exec ? { t: "take", step: exec.step, task: exec.task.name } : { t: "take", step: 0 },
      );
    }
    return exec;
  }

  /** Set by a take that opened a map. */
  #opened = false;

  #take(): E | undefined {
    while (!this.#stop) {
      const run = this.#routing.nextItem();
      if (run) return this.#execs.startItem(run);
      const act = this.#routing.next();
      if (!act) return undefined;
      const node = act.node;
      if (node.node.kind === "map") {
        const cycle = this.#execs.openMap(node);
        if (typeof cycle !== "number") {
          this.halt({ kind: "failed", error: cycle });
          return undefined;
        }
        this.#opened = true;
        this.#routing.openMap(node, node, node.node.task!, act.input, cycle, node.node.map!);
        continue;
      }
      const exec = this.#execs.start(act);
      if (exec instanceof WorkflowError) {
        this.halt({ kind: "failed", error: exec });
        return undefined;
      }
      return exec;
    }
    return undefined;
  }

  /**
   * Records a successful execution and applies what it asked for: its result goes to its
   * successors (joins, group barriers), unless it iterates or jumps.
   *
   * @param exec The execution.
   * @param result Its result.
   * @param directives What it asked for (`next`, `nextIteration`, `terminate`, `cancel`).
   */
  succeeded(exec: E, result: unknown, directives?: Directives): void {
    if (!this.#execs.settle(exec)) return;
    if (!exec.map) this.#ledger.taskSucceeded(exec.node, exec.task.name, result);
    if (!this.#stop) {
      this.#depth++;
      if (exec.map) itemSucceeded(this.#directivePort, exec, result, directives);
      else taskSucceeded(this.#directivePort, exec, result, directives);
      this.#depth--;
    }
    if (this.#depth === 0) this.#record?.({ t: "ok", step: exec.step, result, directives });
  }

  /**
   * Records an execution that failed for good: it fails its map item or group member (the
   * policy decides), or the run.
   *
   * @param exec The execution.
   * @param error What its last attempt threw.
   */
  failed(exec: E, error: unknown): void {
    if (!this.#execs.settle(exec)) return;
    if (!this.#stop) {
      this.#depth++;
      execFailed(this.#directivePort, exec, error);
      this.#depth--;
    }
    if (this.#depth === 0) this.#record?.({ t: "fail", step: exec.step, error });
  }

  /**
   * Records that an execution failed and starts its next attempt.
   *
   * @param exec The execution.
   * @param error What the failed attempt threw (recorded for history only).
   */
  retry(exec: E, error?: unknown): void {
    exec.attempt++;
    this.#record?.({
      t: "retry",
      step: exec.step,
      attempt: exec.attempt,
      ...(error !== undefined ? { error } : {}),
    });
  }

  /**
   * Drops an execution that will never settle (the run stopped while it ran).
   *
   * @param exec The execution.
   */
  drop(exec: E): void {
    this.#execs.drop(exec);
  }

  /**
   * Stops the run (the first stop wins).
   *
   * @param stop Why.
   * @returns Whether this call stopped it.
   */
  halt(stop: Stop): boolean {
    if (this.#stop) return false;
    this.#stop = stop;
    if (this.#depth === 0) this.#record?.({ t: "halt", stop });
    return true;
  }

  /**
   * Records a human-in-the-loop request of an execution.
   *
   * @param exec The asking execution.
   * @param id The request id.
   */
  feedbackRequested(exec: E, id: string): void {
    if (!this.#ledger.feedbackRequested(exec.task.name, exec.cycle, id)) return;
    this.#record?.({ t: "feedback", step: exec.step, id });
  }

  /**
   * Records a written checkpoint.
   *
   * @param path Its base path.
   */
  checkpointWritten(path: string): void {
    this.#ledger.checkpointWritten(path);
    this.#record?.({ t: "checkpoint", path });
  }

  /**
   * The state as plain data. Running executions become pending (they run again when the run
   * continues from this data); `rerun` (the execution taking an immediate checkpoint) keeps
   * its attempt number.
   *
   * @param rerun An execution to list as pending with its attempt.
   * @returns The data (values not encoded).
   */
  toData(rerun?: E): RunStateData {
    return snapshotState(this.#fields(), rerun);
  }

  /**
   * The state as plain data for a journal snapshot: running executions stay running (with
   * their numbers), so that the outcomes recorded after the snapshot apply to them. Values are
   * the live ones: encode them before the run goes on.
   *
   * @returns The data (values not encoded).
   */
  journalData(): RunStateData {
    return snapshotState(this.#fields(false), undefined, true);
  }

  /** The fields of a snapshot; `copy` deep-copies group results (see `groupsData`). */
  #fields(copy = true): StateFields<E> {
    return {
      runId: this.runId,
      steps: this.#execs.steps,
      itemSteps: this.#execs.itemSteps,
      running: this.#execs,
      ready: this.#routing.readyItems(),
      cycles: this.cycles(),
      ...this.#ledger.fields(this.#nodes.lists()),
      arrivals: this.#routing.arrivalsData(),
      groups: this.#routing.groupsData(copy),
      maps: this.#routing.mapsData(),
      dynamic: this.#nodes.added,
      trace: this.#routing.traceEdges(),
      terminated: this.#stop?.kind === "terminated",
    };
  }

  /**
   * Rebuilds the state of a run from its data (the flow must be the same; tasks added at run
   * time are found by name in the task registry).
   *
   * @param data The data.
   * @param graph The flow's graph.
   * @param plan Its plan.
   * @param maxSteps Hard limit of task executions.
   * @param port Execution factory, events, recorder.
   * @returns The state, ready to continue.
   * @throws {WorkflowError} When the data names a node the flow does not have.
   */
  static fromData<E extends ExecState>(
    data: RunStateData,
    graph: Graph,
    plan: Plan,
    maxSteps: number,
    port: RunStatePort<E>,
  ): RunState<E> {
    const state = new RunState<E>(data.runId, graph, plan, maxSteps, port);
    state.#restore(data);
    return state;
  }

  #restore(data: RunStateData): void {
    this.#nodes.restore(this.runId, data.dynamic);
    const r = restoreState(data, (id) => this.node(id));
    this.#execs.restore(r.steps, data.itemSteps ?? 0, r.cycles);
    this.#ledger.restore(r, data);
    if (data.terminated) this.#stop = { kind: "terminated" };
    this.#routing.restore(
      data,
      r.arrivals,
      data.terminated ? [] : r.pending,
      (id) => this.node(id),
    );
    this.#execs.resume(r.running, (id) => {
      const map = this.node(id);
      return map && this.#routing.mapRun(map);
    });
  }
}
