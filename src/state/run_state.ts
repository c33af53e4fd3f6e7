/**
 * `RunState`: the single owner of everything a run knows (steps, completions, cycle counts,
 * results, output, the queue of waiting activations, join arrivals, active groups, tasks added
 * at run time, the executed graph, feedback requests, checkpoints). It is a deterministic state
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
  WorkflowCanceledError,
  WorkflowError,
} from "../errors.ts";
import { GroupRun } from "./group_run.ts";
import { ReadyQueue } from "./ready_queue.ts";
import { ResultStore } from "./result_store.ts";
import { RunningSet } from "./running_set.ts";
import { RunTrace } from "./run_trace.ts";
import { BARRIER } from "../graph/graph.ts";
import type {
  ActivationKind,
  Directives,
  DynamicTaskRecord,
  RunStateData,
  Stop,
  Transition,
} from "./run_state_data.ts";
import { restoreState, snapshotState } from "./run_state_io.ts";

/** A node waiting to run. */
export interface Activation {
  /** The node. */
  node: PlanNode;
  /** Its input. */
  input: unknown;
  /** The node (or `"start"`) that activated it. */
  from: string;
  /** How. */
  kind: ActivationKind;
  /** Attempt to start with (restored runs). */
  attempt?: number;
}

/** One task execution (all its attempts) as the state knows it. */
export interface ExecState {
  /** 1-based number of this execution in the run. */
  readonly step: number;
  /** The plan node. */
  readonly node: PlanNode;
  /** The task. */
  readonly task: Task;
  /** Its input. */
  readonly input: unknown;
  /** What activated it. */
  readonly from: string;
  /** How. */
  readonly kind: ActivationKind;
  /** 1-based execution count of this task in the run. */
  readonly cycle: number;
  /** Current attempt. */
  attempt: number;
  /** True once it succeeded or failed for good (or was dropped). */
  settled: boolean;
  /** Position in the running set. */
  slot: number;
}

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
  ): E;
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
  readonly #completed: string[] = [];
  readonly #cycles: number[] = [];
  readonly #results = new ResultStore();
  #output: unknown = undefined;
  #lastTask: string | undefined;
  readonly #ready = new ReadyQueue<Activation>();
  readonly #running = new RunningSet<E>();
  /** Executions by step, only while replaying transitions. */
  #bySteps: Map<number, E> | undefined;
  readonly #arrivals = new Map<PlanNode, Map<string, unknown>>();
  readonly #groups = new Map<string, GroupRun>();
  readonly #dynamic: DynamicTaskRecord[] = [];
  readonly #dynamicNodes = new Map<string, PlanNode>();
  readonly #trace: RunTrace;
  #feedback: Record<string, string[]> = {};
  readonly #checkpoints: string[] = [];
  #stop: Stop | undefined;
  readonly #port: RunStatePort<E>;
  readonly #record: ((t: Transition) => void) | undefined;
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
    this.#trace = new RunTrace(plan);
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
    return !this.#ready.empty;
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
  traceEdges(): ReturnType<RunTrace["edges"]> {
    return this.#trace.edges();
  }

  /** Feedback request ids already made by a task's cycle, in call order. */
  feedbackIds(taskId: string, cycle: number): readonly string[] {
    return this.#feedback[`${taskId}#${cycle}`] ?? [];
  }

  // Transitions ----------------------------------------------------------------------------

  /**
   * Starts the run: activates the plan's start nodes with `input`.
   *
   * @param input Input of the first tasks.
   */
  begin(input: unknown): void {
    for (const node of this.plan.starts) this.#activate(node, input, "start", "start");
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
    const exec = this.#take();
    this.#depth--;
    // A take that stopped the run on a limit is recorded too: replaying it stops the same way.
    if (this.#depth === 0 && (exec || (running && this.#stop))) {
      this.#record?.({ t: "take", step: exec ? exec.step : 0 });
    }
    return exec;
  }

  #take(): E | undefined {
    while (!this.#stop) {
      const act = this.#ready.take();
      if (!act) return undefined;
      const node = act.node;
      if (node.node.kind === "fork") {
        const spec = this.graph.groups.get(node.node.group!)!;
        this.#groups.set(spec.id, new GroupRun(spec));
        this.#propagate(node, act.input, false);
        continue;
      }
      const t = node.node.task!;
      if (this.#steps >= this.maxSteps) {
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
      );
      this.#running.add(exec);
      this.#bySteps?.set(step, exec);
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
    const id = exec.task.name;
    this.#results.set(exec.node, result);
    this.#completed.push(id);
    this.#output = result;
    this.#lastTask = id;
    if (!this.#stop) {
      this.#depth++;
      if (directives === undefined) this.#propagate(exec.node, result, false);
      else {
        const { propagate, skipStatic } = this.#apply(exec, directives, result);
        if (propagate) this.#propagate(exec.node, result, skipStatic);
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
      const wrapped = t.retry.maxRetries > 0
        ? new RetryLimitExceededError(t.name, exec.attempt, error)
        : new TaskFailedError(t.name, error);
      // In a group the failure record keeps what the task threw; outside, the run fails with
      // the wrapper (TaskFailedError / RetryLimitExceededError) whose cause it is.
      if (!this.#memberFailed(exec.node, t.retry.maxRetries > 0 ? wrapped : error)) {
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
   */
  retry(exec: E): void {
    exec.attempt++;
    this.#record?.({ t: "retry", step: exec.step, attempt: exec.attempt });
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
   * Applies one recorded transition (to rebuild a run from its journal). Executions started by
   * `take` stay running until their outcome is applied; `toData()` then lists them as pending.
   *
   * @param tr The transition.
   * @throws {WorkflowError} `JOURNAL_MISMATCH` when the transition does not fit this state.
   */
  apply(tr: Transition): void {
    const byStep = (this.#bySteps ??= new Map());
    const exec = (step: number): E => {
      const found = byStep.get(step);
      if (!found) {
        throw new WorkflowError(
          `Cannot apply transition "${tr.t}": execution ${step} is not running`,
          { code: "JOURNAL_MISMATCH" },
        );
      }
      return found;
    };
    switch (tr.t) {
      case "begin":
        return this.begin(tr.input);
      case "take": {
        const e = this.take();
        if ((e?.step ?? 0) !== tr.step) {
          throw new WorkflowError(
            `Cannot apply transition "take": expected ${
              tr.step ? `execution ${tr.step}` : "a limit"
            }, got ${e ? `execution ${e.step}` : "none"}`,
            { code: "JOURNAL_MISMATCH" },
          );
        }
        return;
      }
      case "ok": {
        const e = exec(tr.step);
        byStep.delete(tr.step);
        return this.succeeded(e, tr.result, tr.directives);
      }
      case "fail": {
        const e = exec(tr.step);
        byStep.delete(tr.step);
        return this.failed(e, tr.error);
      }
      case "retry": {
        const e = exec(tr.step);
        e.attempt = tr.attempt - 1;
        return this.retry(e);
      }
      case "feedback":
        return this.feedbackRequested(exec(tr.step), tr.id);
      case "checkpoint":
        return this.checkpointWritten(tr.path);
      case "halt":
        this.halt(tr.stop);
        return;
    }
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
    return snapshotState({
      runId: this.runId,
      steps: this.#steps,
      running: this.#running,
      ready: this.#ready.items(),
      cycles: this.cycles(),
      results: this.results(),
      completed: this.#completed,
      output: this.#output,
      lastTask: this.#lastTask,
      arrivals: this.#arrivals,
      groups: this.#groups,
      dynamic: this.#dynamic,
      trace: this.#trace.edges(),
      feedback: this.#feedback,
      checkpoints: this.#checkpoints,
      terminated: this.#stop?.kind === "terminated",
    }, rerun);
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
    for (const [node, value] of r.results) this.#results.set(node, value);
    this.#completed.push(...r.completed);
    for (const [node, count] of r.cycles) this.#cycles[node.index] = count;
    this.#output = r.output;
    this.#lastTask = r.lastTask;
    for (const [node, preds] of r.arrivals) this.#arrivals.set(node, preds);
    for (const [group, members] of Object.entries(data.groups)) {
      const spec = this.graph.groups.get(group);
      if (!spec) {
        throw new WorkflowError(`Cannot restore run: group "${group}" is not in the flow`);
      }
      this.#groups.set(group, new GroupRun(spec, members));
    }
    this.#feedback = structuredClone(data.feedback ?? {});
    this.#checkpoints.push(...(data.checkpoints ?? []));
    this.#trace.restore(data.trace);
    if (data.terminated) {
      this.#stop = { kind: "terminated" };
      return;
    }
    for (const act of r.pending) this.#ready.push(act);
  }

  // Internals ------------------------------------------------------------------------------

  #activate(node: PlanNode, input: unknown, from: string, kind: ActivationKind): void {
    this.#ready.push({ node, input, from, kind });
    this.#trace.record(from, node.id, kind);
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

  /**
   * Applies directives in priority order: cancel > terminate > goto and iterations > next of a
   * new task (which keeps the static successors).
   */
  #apply(
    exec: E,
    d: Directives,
    result: unknown,
  ): { propagate: boolean; skipStatic: boolean } {
    const id = exec.task.name;
    const stop = { propagate: false, skipStatic: true };
    if (d.cancel) {
      this.halt({ kind: "failed", error: new WorkflowCanceledError(id, d.cancel.reason) });
      return stop;
    }
    if (d.terminate) {
      this.halt({ kind: "terminated" });
      return stop;
    }
    let skipStatic = false;
    if (d.iterate) {
      skipStatic = true;
      this.#ready.push({
        node: exec.node,
        input: d.iterate.hasInput ? d.iterate.input : result,
        from: id,
        kind: "iterate",
      });
      this.#trace.iterate(exec.node);
    }
    for (const call of d.next ?? []) {
      const name = typeof call.task === "string" ? call.task : call.task.name;
      let node = this.node(name);
      const target = typeof call.task === "string" ? node?.node.task ?? getTask(name) : call.task;
      if (!target) {
        this.halt({
          kind: "failed",
          error: new WorkflowError(
            `Cannot add task "${name}" from "${id}": no task of this name is registered in the process running the flow`,
            { code: "TASK_NOT_FOUND" },
          ),
        });
        return stop;
      }
      if (node && node.node.task !== target) {
        this.halt({
          kind: "failed",
          error: new TypeError(
            `Cannot add task "${name}" from "${id}": the flow has another node with this id`,
          ),
        });
        return stop;
      }
      const jump = call.goto ?? (node !== undefined && !node.node.dynamic);
      if (!node) {
        try {
          node = this.#addDynamic(target, id);
        } catch (error) {
          this.halt({ kind: "failed", error });
          return stop;
        }
      }
      if (jump) skipStatic = true;
      this.#port.note?.("task.added", { taskId: name, by: id, goto: jump });
      this.#activate(node, call.hasInput ? call.input : result, id, jump ? "goto" : "next");
    }
    return { propagate: !d.iterate, skipStatic };
  }

  #propagate(node: PlanNode, result: unknown, skipStatic: boolean): void {
    const out = node.out;
    for (let i = 0; i < out.length; i++) {
      const edge = out[i];
      switch (edge.kind) {
        case "member":
          this.#memberExit(node, result);
          continue;
        case "single":
        case "back":
          if (skipStatic) continue;
          this.#trace.edge(edge.index);
          this.#ready.push({
            node: edge.to,
            input: result,
            from: node.id,
            kind: edge.kind === "back" ? "back" : "edge",
          });
          continue;
        case "join": {
          if (skipStatic) continue;
          const to = edge.to;
          let arrived = this.#arrivals.get(to);
          if (!arrived) this.#arrivals.set(to, arrived = new Map());
          arrived.set(node.id, result);
          if (arrived.size < to.preds.length) continue;
          this.#arrivals.delete(to);
          const input: Record<string, unknown> = {};
          for (const p of to.preds) input[p.key] = arrived.get(p.id);
          this.#trace.edge(edge.index);
          this.#ready.push({ node: to, input, from: node.id, kind: "edge" });
        }
      }
    }
  }

  #memberExit(node: PlanNode, result: unknown): void {
    const run = this.#groups.get(node.node.parent!.group);
    if (run?.exit(node.member, node.key, result)) this.#settleGroup(run);
  }

  /** Fails the member `node` belongs to; false when the failure is not a group member's. */
  #memberFailed(node: PlanNode, error: unknown): boolean {
    const parent = node.node.parent;
    if (!parent) return false;
    const run = this.#groups.get(parent.group);
    const settledAll = run?.fail(node.member, node.key, error);
    if (settledAll === undefined) return false;
    if (settledAll) this.#settleGroup(run!);
    return true;
  }

  #settleGroup(run: GroupRun): void {
    const group = run.spec.id;
    this.#groups.delete(group);
    const { outcome, output, error } = run.settle();
    this.#port.note?.("group.settled", {
      groupId: group,
      succeeded: outcome.succeeded,
      failed: outcome.failed.map((f) => f.taskId),
      ok: !error,
    });
    const barrier = this.plan.nodes.get(group + BARRIER)!;
    if (error) {
      if (!this.#memberFailed(barrier, error)) this.halt({ kind: "failed", error });
      return;
    }
    const fork = this.plan.nodes.get(group)!;
    this.#results.set(fork, output);
    // The group's object is the run's output when the flow ends with the group.
    this.#output = output;
    this.#lastTask = group;
    this.#propagate(barrier, output, false);
  }
}
