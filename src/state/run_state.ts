/**
 * `RunState`: the single owner of everything a run knows (steps, completions, cycle counts,
 * results, output, the queue of waiting activations, join arrivals, active groups and maps,
 * tasks added at run time, the executed graph, feedback requests, checkpoints). It is a deterministic state
 * machine: the engine feeds it what happened (a task started, succeeded, failed, is retried)
 * and it decides what runs next. Every change is one method, so the same calls made from a
 * recorded list of {@linkcode Transition}s rebuild the same state ({@linkcode RunState.apply}),
 * and `toData()` / `fromData()` round-trip it as plain data without running anything.
 *
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import { getTask, type Task } from "../graph/task.ts";
import {
  CycleLimitExceededError,
  RetryLimitExceededError,
  TaskFailedError,
  WorkflowError,
} from "../errors.ts";
import { ResultStore } from "./result_store.ts";
import type { MapRun } from "./map_run.ts";
import { RunningSet } from "./running_set.ts";
import { Routing } from "./routing.ts";
import type {
  ActivationKind,
  Directives,
  DynamicTaskRecord,
  RunStateData,
  Stop,
  TraceEdge,
  Transition,
} from "./run_state_data.ts";
import { restoreState, snapshotState, type StateFields } from "./run_state_io.ts";
import type { ExecState } from "./exec_state.ts";
import { applyDirectives, type DirectivePort, itemSucceeded } from "./directives.ts";

export type { Activation, ExecState } from "./exec_state.ts";

/** What the state needs from whoever drives it. */
export interface RunStatePort<E extends ExecState> {
  /**
   * Creates the record of a new execution, with every field of `ExecState` set from the
   * arguments (`attempt` given, `settled` false, `slot` -1) and the driver's own fields.
   */
  exec(
    step: number,
    node: PlanNode,
    task: Task,
    input: unknown,
    from: string,
    kind: ActivationKind,
    cycle: number,
    attempt: number,
    map: MapRun | undefined,
    item: number,
  ): E;
  /**
   * Stops an execution the run no longer waits for (its group or map settled without it): abort
   * its attempt; whatever it returns later is dropped.
   */
  cancel?(exec: E, reason: unknown): void;
  /** Checks a task added at run time can run (e.g. its handler exists); throws if not. */
  admit?(node: PlanNode): void;
  /** Emits an event (absent when nobody listens). */
  note?(type: "task.added" | "group.settled", fields: Record<string, unknown>): void;
  /** Receives every transition, in order (to record them). */
  record?(transition: Transition): void;
}

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
  #steps = 0;
  /** Executions of map items among `#steps` (they do not count against `maxSteps`). */
  #itemSteps = 0;
  readonly #completed: string[] = [];
  readonly #cycles: number[] = [];
  readonly #results = new ResultStore();
  #output: unknown = undefined;
  #lastTask: string | undefined;
  readonly #running = new RunningSet<E>();
  readonly #routing: Routing;
  readonly #dynamic: DynamicTaskRecord[] = [];
  readonly #dynamicNodes = new Map<string, PlanNode>();
  #feedback: Record<string, string[]> = {};
  readonly #checkpoints: string[] = [];
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
    this.#directivePort = {
      halt: (stop) => this.halt(stop),
      node: (id) => this.node(id),
      addDynamic: (t, by) => this.#addDynamic(t, by),
      routing: this.#routing = new Routing(graph, plan, {
        groupSucceeded: (fork, output) => {
          this.#results.set(fork, output);
          // The group's object is the run's output when the flow ends with the group.
          this.#output = output;
          this.#lastTask = fork.id;
        },
        mapSucceeded: (run, output) => this.#mapSucceeded(run, output),
        fail: (error) => this.halt({ kind: "failed", error }),
        cancel: (test, reason) => this.#cancel(test, reason),
        note: (type, fields) => this.#port.note?.(type, fields),
      }),
      note: (type, fields) => this.#port.note?.(type, fields),
    };
  }

  // Reading ---------------------------------------------------------------------------------

  /** Task executions so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Task ids in completion order (read-only view). */
  get completed(): readonly string[] {
    return this.#completed;
  }

  /** The run's output so far. */
  get output(): unknown {
    return this.#output;
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
    return this.#running;
  }

  /** How many executions run now. */
  get runningCount(): number {
    return this.#running.size;
  }

  /** Base paths of the checkpoints written (read-only view). */
  get checkpoints(): readonly string[] {
    return this.#checkpoints;
  }

  /** The plan node with this id (of the flow, or added at run time). */
  node(id: string): PlanNode | undefined {
    return this.plan.nodes.get(id) ?? this.#dynamicNodes.get(id);
  }

  /** Every node of the run: the flow's, then those added at run time. */
  nodes(): PlanNode[] {
    return [...this.plan.nodes.values(), ...this.#dynamicNodes.values()];
  }

  /** The latest result of a task or group, `undefined` when it has none. */
  resultOf(id: string): unknown {
    const node = this.node(id);
    return node && this.#results.get(node);
  }

  /** Every task's (and group's) latest result by id, in plan order. */
  results(): Record<string, unknown> {
    return this.#results.record([this.plan.nodes.values(), this.#dynamicNodes.values()]);
  }

  /** Executions per task id. */
  cycles(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const pn of this.nodes()) {
      const count = this.#cycles[pn.index];
      if (count) out[pn.id] = count;
    }
    return out;
  }

  /** The edges the run took. */
  traceEdges(): TraceEdge[] {
    return this.#routing.traceEdges();
  }

  /** Feedback request ids already made by a task's cycle, in call order. */
  feedbackIds(taskId: string, cycle: number): readonly string[] {
    return this.#feedback[`${taskId}#${cycle}`] ?? [];
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
      if (run) {
        const step = ++this.#steps;
        this.#itemSteps++;
        const i = run.current;
        const exec = this.#port.exec(
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
        );
        this.#running.add(exec);
        return exec;
      }
      const act = this.#routing.next();
      if (!act) return undefined;
      const node = act.node;
      const t = node.node.task!;
      if (node.node.kind === "map") {
        const cycle = (this.#cycles[node.index] ?? 0) + 1;
        if (cycle > t.maxCycles) {
          this.halt({ kind: "failed", error: new CycleLimitExceededError(node.id, t.maxCycles) });
          return undefined;
        }
        this.#cycles[node.index] = cycle;
        this.#opened = true;
        const spec = node.node.map!;
        this.#routing.openMap(node, node, t, act.input, cycle, spec);
        continue;
      }
      if (this.#steps - this.#itemSteps >= this.maxSteps) {
        this.halt({
          kind: "failed",
          error: new WorkflowError(
            `Cannot run task "${t.name}": the run reached maxSteps (${this.maxSteps} task executions)`,
            { code: "MAX_STEPS" },
          ),
        });
        return undefined;
      }
      const cycle = (this.#cycles[node.index] ?? 0) + 1;
      if (cycle > t.maxCycles) {
        this.halt({ kind: "failed", error: new CycleLimitExceededError(t.name, t.maxCycles) });
        return undefined;
      }
      const step = ++this.#steps;
      this.#cycles[node.index] = cycle;
      const exec = this.#port.exec(
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
      );
      this.#running.add(exec);
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
    if (exec.settled) return;
    exec.settled = true;
    this.#running.delete(exec);
    if (exec.map) {
      if (!this.#stop) {
        this.#depth++;
        itemSucceeded(this.#directivePort, exec, result, directives);
        this.#depth--;
      }
      if (this.#depth === 0) this.#record?.({ t: "ok", step: exec.step, result, directives });
      return;
    }
    const id = exec.task.name;
    this.#results.set(exec.node, result);
    this.#completed.push(id);
    this.#output = result;
    this.#lastTask = id;
    if (!this.#stop) {
      this.#depth++;
      if (directives === undefined) this.#routing.propagate(exec.node, result, false);
      else {
        const { propagate, skipStatic } = applyDirectives(
          this.#directivePort,
          exec,
          directives,
          result,
        );
        if (propagate) this.#routing.propagate(exec.node, result, skipStatic);
      }
      this.#depth--;
    }
    if (this.#depth === 0) this.#record?.({ t: "ok", step: exec.step, result, directives });
  }

  /**
   * Records an execution that failed for good: it fails its group member (the group's policy
   * decides), or the run.
   *
   * @param exec The execution.
   * @param error What its last attempt threw.
   */
  failed(exec: E, error: unknown): void {
    if (exec.settled) return;
    exec.settled = true;
    this.#running.delete(exec);
    if (!this.#stop) {
      this.#depth++;
      const t = exec.task;
      // Retries ran out (not a non-retryable error, which stops them early).
      const exhausted = t.retry.maxRetries > 0 && exec.attempt > t.retry.maxRetries;
      const wrapped = exhausted
        ? new RetryLimitExceededError(t.name, exec.attempt, error)
        : new TaskFailedError(t.name, error);
      // In a group or map the failure record keeps what the task threw; outside, the run fails
      // with the wrapper (TaskFailedError / RetryLimitExceededError) whose cause it is.
      if (exec.map) this.#routing.itemFailed(exec.map, exec.item, exhausted ? wrapped : error);
      else if (!this.#routing.memberFailed(exec.node, exhausted ? wrapped : error)) {
        this.halt({ kind: "failed", error: wrapped });
      }
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
    exec.settled = true;
    this.#running.delete(exec);
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
    const ids = (this.#feedback[`${exec.task.name}#${exec.cycle}`] ??= []);
    if (ids.includes(id)) return;
    ids.push(id);
    this.#record?.({ t: "feedback", step: exec.step, id });
  }

  /**
   * Records a written checkpoint.
   *
   * @param path Its base path.
   */
  checkpointWritten(path: string): void {
    this.#checkpoints.push(path);
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
      steps: this.#steps,
      itemSteps: this.#itemSteps,
      running: this.#running,
      ready: this.#routing.readyItems(),
      cycles: this.cycles(),
      results: this.results(),
      completed: this.#completed,
      output: this.#output,
      lastTask: this.#lastTask,
      arrivals: this.#routing.arrivalsData(),
      groups: this.#routing.groupsData(copy),
      maps: this.#routing.mapsData(),
      dynamic: this.#dynamic,
      trace: this.#routing.traceEdges(),
      feedback: this.#feedback,
      checkpoints: this.#checkpoints,
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
    for (const d of data.dynamic) {
      const t = getTask(d.id);
      if (!t) {
        throw new WorkflowError(
          `Cannot restore run "${this.runId}": task "${d.id}" (added at run time by "${d.by}") is not registered in this process: import the module that defines it`,
          { code: "TASK_NOT_FOUND" },
        );
      }
      this.#addDynamic(t, d.by);
    }
    const r = restoreState(data, (id) => this.node(id));
    this.#steps = r.steps;
    this.#itemSteps = data.itemSteps ?? 0;
    for (const [node, value] of r.results) this.#results.set(node, value);
    this.#completed.push(...r.completed);
    for (const [node, count] of r.cycles) this.#cycles[node.index] = count;
    this.#output = r.output;
    this.#lastTask = r.lastTask;
    this.#feedback = structuredClone(data.feedback ?? {});
    this.#checkpoints.push(...(data.checkpoints ?? []));
    if (data.terminated) this.#stop = { kind: "terminated" };
    this.#routing.restore(
      data,
      r.arrivals,
      data.terminated ? [] : r.pending,
      (id) => this.node(id),
    );
    for (const x of r.running) {
      const map = x.map === undefined ? undefined : this.node(x.map);
      const run = map && this.#routing.mapRun(map);
      if (x.map !== undefined && !run?.resume(x.item ?? -1)) {
        throw new WorkflowError(
          `Cannot restore run: execution ${x.step} is item ${x.item} of map "${x.map}", which has no such waiting item`,
        );
      }
      const exec = this.#port.exec(
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
      );
      this.#running.add(exec);
    }
  }

  // Internals ------------------------------------------------------------------------------

  #mapSucceeded(run: MapRun, output: unknown[]): void {
    const owner = run.owner;
    this.#results.set(owner, output);
    // A map node completes once, with its array; a task that called ctx.map completed already.
    if (owner === run.node) this.#completed.push(owner.id);
    this.#output = output;
    this.#lastTask = owner.id;
  }

  #cancel(test: (exec: ExecState) => boolean, reason: unknown): void {
    for (const exec of this.#running) {
      if (!test(exec)) continue;
      exec.settled = true;
      this.#running.delete(exec);
      this.#port.cancel?.(exec, reason);
    }
  }

  #addDynamic(t: Task, by: string): PlanNode {
    const pn: PlanNode = {
      id: t.name,
      index: this.plan.nodes.size + this.#dynamicNodes.size,
      node: { id: t.name, kind: "task", task: t, dynamic: true },
      out: [],
      preds: [],
      key: t.name,
      member: -1,
    };
    this.#port.admit?.(pn);
    this.#dynamicNodes.set(t.name, pn);
    this.#dynamic.push({ id: t.name, by });
    return pn;
  }
}
