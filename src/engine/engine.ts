/**
 * The run loop: activates nodes when their forward predecessors completed, runs tasks through
 * their handlers with retries and timeouts, settles parallel groups under their policies, and
 * applies what tasks asked for at run time (next, goto, iterations, terminate, cancel).
 *
 * @module
 */
import type { Graph, GraphNode } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import { retryDelay, type Task } from "../graph/task.ts";
import {
  asError,
  CycleLimitExceededError,
  RetryLimitExceededError,
  TaskFailedError,
  TaskTimeoutError,
  WorkflowError,
} from "../errors.ts";
import { GroupRun } from "./group_run.ts";
import { ReadyQueue } from "./ready_queue.ts";
import { sleep } from "../time/sleep.ts";
import { RunningSet } from "./running_set.ts";
import { RunTrace } from "./run_trace.ts";
import { restoreRun, snapshotRun } from "./run_state_io.ts";
import type { Activation, EngineHooks, Execution, Stop } from "./engine_types.ts";
import { ResultStore } from "./result_store.ts";
import { makeRunResult } from "./run_result.ts";
import { applyDirectives } from "./directives.ts";
import {
  type CheckpointInfo,
  type CheckpointOptions,
  EngineTaskContext,
  type FeedbackRequest,
  type FeedbackResponse,
  type RunNotice,
} from "../context/task_context.ts";
import type { ActivationKind, DynamicTaskRecord, RunStateData } from "../context/run_state.ts";
import type { Channel } from "../channels/channel.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { WorkflowEvent } from "../observability/events.ts";
import type { RunOptions, RunResult, RunStatus } from "./run_options.ts";
import { handlerKey, handlerRepresentatives, pickHandler } from "./handler_choice.ts";

export type { Activation, EngineHooks, Execution, Stop } from "./engine_types.ts";

/** Tasks started by one pump before it yields to settle finished ones. */
const PUMP_BATCH = 512;

/** @internal The state machine of one run. Use `flow.run()` / `flow.start()`. */
export class Engine {
  readonly runId: string;
  readonly graph: Graph;
  readonly plan: Plan;
  readonly channel: Channel;
  readonly options: RunOptions;
  readonly maxSteps: number;
  readonly hooks: EngineHooks;
  readonly running: RunningSet<Execution> = new RunningSet();
  /** Latest result per node. */
  readonly resultStore: ResultStore = new ResultStore();
  readonly completed: string[] = [];
  /** Executions per node, by node index. */
  readonly cycleCounts: number[] = [];
  /** Activations waiting to start. */
  readonly ready: ReadyQueue<Activation> = new ReadyQueue();
  /** Edges taken. */
  readonly trace: RunTrace;
  readonly arrivals: Map<PlanNode, Map<string, unknown>> = new Map();
  readonly groupRuns: Map<string, GroupRun> = new Map();
  readonly dynamic: DynamicTaskRecord[] = [];
  readonly dynamicNodes: Map<string, PlanNode> = new Map();
  readonly checkpoints: string[] = [];
  feedbackRequests: Record<string, string[]> = {};
  steps = 0;
  output: unknown = undefined;
  lastTask: string | undefined;
  stop: Stop | undefined;
  readonly promise: Promise<RunResult>;
  /** Deferred work (checkpoint writes) the run must wait for before it finishes. */
  #busy = 0;
  #done = false;
  #resolve!: (r: RunResult) => void;
  #reject!: (e: unknown) => void;
  readonly #handlers: Map<string, TaskHandler>;
  readonly #handlerByKey = new Map<string, TaskHandler>();
  readonly #handlerAt: (TaskHandler | undefined)[] = [];
  readonly #emit: ((e: WorkflowEvent) => void) | undefined;
  readonly #runAbort = new AbortController();
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #onSignal: (() => void) | undefined;

  constructor(
    graph: Graph,
    plan: Plan,
    options: RunOptions,
    channel: Channel,
    handlers: Map<string, TaskHandler>,
    hooks: EngineHooks,
  ) {
    this.graph = graph;
    this.plan = plan;
    this.options = options;
    this.channel = channel;
    this.hooks = hooks;
    this.runId = options.runId ?? crypto.randomUUID();
    this.maxSteps = options.maxSteps ?? 10_000;
    this.#handlers = handlers;
    this.#sleep = options.sleep ?? sleep;
    this.trace = new RunTrace(plan);
    const listener = options.onEvent;
    if (listener) {
      this.#emit = (e) => {
        try {
          listener(e);
        } catch { /* a failing listener must not break the run */ }
      };
    }
    this.promise = new Promise<RunResult>((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    // Fail before anything runs when a handler is missing: one check per distinct
    // (handler, executor) combination; each task's handler is then picked on first use.
    for (const node of handlerRepresentatives(graph)) {
      pickHandler(graph, node, options, this.#handlers);
    }
  }

  #pick(node: PlanNode): TaskHandler {
    let handler = this.#handlerByKey.get(node.handlerKey);
    if (!handler) {
      handler = pickHandler(this.graph, node.node, this.options, this.#handlers);
      this.#handlerByKey.set(node.handlerKey, handler);
    }
    return (this.#handlerAt[node.index] = handler);
  }

  /** Emits an event of `type` with the run id and time filled in. */
  note<T extends WorkflowEvent["type"]>(
    type: T,
    fields: Omit<Extract<WorkflowEvent, { type: T }>, "type" | "runId" | "time">,
  ): void {
    if (this.#emit) {
      this.#emit(
        { type, runId: this.runId, time: Date.now(), ...fields } as unknown as WorkflowEvent,
      );
    }
  }

  /** The plan node with this id (static or added at run time). */
  node(id: string): PlanNode | undefined {
    return this.plan.nodes.get(id) ?? this.dynamicNodes.get(id);
  }

  /** Starts the run from the plan's start nodes, or from a checkpoint's state. */
  begin(input: unknown, state?: RunStateData): Promise<RunResult> {
    const signal = this.options.signal;
    if (signal) {
      if (signal.aborted) {
        this.#finish({ kind: "failed", error: signal.reason });
        return this.promise;
      }
      // An external abort rejects at once (as fetch does): running tasks see their signal
      // abort, and whatever they return later is discarded.
      this.#onSignal = () => this.halt({ kind: "failed", error: signal.reason }, true);
      signal.addEventListener("abort", this.#onSignal, { once: true });
    }
    this.note("run.started", { resumed: !!state });
    if (state) restoreRun(this, state);
    else {
      for (const node of this.plan.starts) this.activate(node, input, "start", "start");
    }
    this.#pump();
    return this.promise;
  }

  /** Executions per task id so far. */
  cycles(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const pn of [...this.plan.nodes.values(), ...this.dynamicNodes.values()]) {
      const count = this.cycleCounts[pn.index];
      if (count) out[pn.id] = count;
    }
    return out;
  }

  /** Registers a task added at run time (resume uses this too). */
  addDynamic(t: Task, by: string): PlanNode {
    const node: GraphNode = { id: t.name, kind: "task", task: t, dynamic: true };
    const pn: PlanNode = {
      id: t.name,
      index: this.plan.nodes.size + this.dynamicNodes.size,
      node,
      out: [],
      preds: [],
      key: t.name,
      handlerKey: handlerKey(this.graph, node),
      member: -1,
    };
    this.#pick(pn); // an unknown handler fails the run now, not when the task starts
    this.dynamicNodes.set(t.name, pn);
    this.dynamic.push({ id: t.name, module: t.module, by });
    return pn;
  }

  /**
   * Stops the run: aborts running tasks and settles once they are done (or at once when `now`).
   */
  halt(stop: Stop, now = false): void {
    if (this.stop || this.#done) return;
    this.stop = stop;
    const reason = stop.kind === "failed" ? stop.error : new WorkflowError(
      `Run ${stop.kind}: the task was stopped`,
      { code: stop.kind === "terminated" ? "TERMINATED" : "WAITING" },
    );
    this.#runAbort.abort(reason);
    for (const exec of this.running) exec.ctx.abort(reason);
    if (now) this.#finish(stop);
    else this.#maybeFinish();
  }

  /** Queues a node that is not activated along a static edge (start, next, goto, iterate). */
  activate(node: PlanNode, input: unknown, from: string, kind: ActivationKind): void {
    this.ready.push({ node, input, from, kind });
    this.trace.record(from, node.id, kind);
  }

  /** Snapshot of the run for checkpoints (see `snapshotRun`). */
  snapshot(rerun?: Execution): RunStateData {
    return snapshotRun(this, rerun);
  }

  #pump(): void {
    // While a deferred checkpoint is being written no new task starts: the checkpoint is on
    // disk before its task's successors run (a CPU-bound loop cannot outrun its checkpoints).
    // The write's completion pumps again.
    if (this.#busy > 0) return;
    let started = 0;
    while (!this.stop && !this.ready.empty) {
      if (++started > PUMP_BATCH) {
        // Let tasks that already finished settle before starting more: a 100,000-member group
        // then never holds 100,000 executions at once, yet every member still starts at once
        // in terms of the event loop (this is a microtask, not a timer).
        queueMicrotask(this.#pumpLater);
        return;
      }
      const act = this.ready.take()!;
      const kind = act.node.node.kind;
      if (kind === "task") this.#start(act);
      else if (kind === "fork") this.#fork(act.node, act.input);
    }
    this.#maybeFinish();
  }

  readonly #pumpLater = (): void => this.#pump();

  #maybeFinish(): void {
    if (this.#done || this.running.size > 0 || this.#busy > 0) return;
    if (this.stop) this.#finish(this.stop);
    else if (this.ready.empty) this.#finish(undefined);
  }

  #fork(node: PlanNode, input: unknown): void {
    const spec = this.graph.groups.get(node.node.group!)!;
    this.groupRuns.set(spec.id, new GroupRun(spec));
    this.#propagate(node, input, false);
  }

  #start(act: Activation): void {
    const t = act.node.node.task!;
    if (this.steps >= this.maxSteps) {
      this.halt({
        kind: "failed",
        error: new WorkflowError(
          `Cannot run task "${t.name}": the run reached maxSteps (${this.maxSteps} task executions)`,
          { code: "MAX_STEPS" },
        ),
      });
      return;
    }
    const index = act.node.index;
    const cycle = (this.cycleCounts[index] ?? 0) + 1;
    if (cycle > t.maxCycles) {
      this.halt({ kind: "failed", error: new CycleLimitExceededError(t.name, t.maxCycles) });
      return;
    }
    this.steps++;
    this.cycleCounts[index] = cycle;
    const attempt = act.attempt ?? 1;
    const exec: Execution = {
      node: act.node,
      task: t,
      input: act.input,
      from: act.from,
      kind: act.kind,
      cycle,
      handler: this.#handlerAt[act.node.index] ?? this.#pick(act.node),
      attempt,
      ctx: new EngineTaskContext(this, t.name, attempt, cycle),
      settled: false,
      started: 0,
      slot: -1,
    };
    this.running.add(exec);
    this.#attempt(exec);
  }

  #attempt(exec: Execution): void {
    const attempt = exec.attempt;
    if (this.#emit) {
      exec.started = performance.now();
      this.note("task.started", { taskId: exec.task.name, attempt, cycle: exec.cycle });
    }
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(exec.handler.execute(exec.task, exec.input, exec.ctx));
    } catch (error) {
      p = Promise.reject(error);
    }
    const timeoutMs = exec.task.options.timeoutMs;
    if (timeoutMs !== undefined) {
      exec.timer = setTimeout(() => {
        if (exec.settled || exec.attempt !== attempt) return;
        const error = new TaskTimeoutError(exec.task.name, timeoutMs);
        exec.ctx.abort(error);
        this.#attemptFailed(exec, attempt, error);
      }, timeoutMs);
    }
    p.then(
      (result) => this.#attemptOk(exec, attempt, result),
      (error) => this.#attemptFailed(exec, attempt, error),
    );
  }

  #attemptOk(exec: Execution, attempt: number, result: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    exec.settled = true;
    if (exec.timer !== undefined) clearTimeout(exec.timer);
    const id = exec.task.name;
    this.resultStore.set(exec.node, result);
    this.completed.push(id);
    this.output = result;
    this.lastTask = id;
    if (this.#emit) {
      this.note("task.succeeded", {
        taskId: id,
        attempt,
        cycle: exec.cycle,
        durationMs: performance.now() - exec.started,
      });
    }
    const d = exec.ctx.directives;
    if (!this.stop) {
      if (d === undefined) this.#propagate(exec.node, result, false);
      else {
        const { propagate, skipStatic } = applyDirectives(this, exec, d, result);
        if (propagate) this.#propagate(exec.node, result, skipStatic);
      }
    }
    // Deferred checkpoints are written when the task succeeded: also when it terminated the
    // run (the checkpoint then records the run as terminated), never when it failed or canceled.
    if (d?.checkpoints && this.hooks.afterTask && (!this.stop || (d.terminate && !d.cancel))) {
      // The hook snapshots synchronously (successors are queued, this task is settled) and
      // writes in the background; the run does not finish before the write did.
      this.#busy++;
      let write: Promise<void> | void;
      try {
        write = this.hooks.afterTask(this, exec, d);
      } catch (error) {
        write = Promise.reject(error);
      }
      Promise.resolve(write)
        .catch((error) => this.halt({ kind: "failed", error }))
        .finally(() => {
          this.#busy--;
          this.#pump();
        });
    }
    this.running.delete(exec);
    this.#pump();
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
          this.trace.edge(edge.index);
          this.ready.push({
            node: edge.to,
            input: result,
            from: node.id,
            kind: edge.kind === "back" ? "back" : "edge",
          });
          continue;
        case "join": {
          if (skipStatic) continue;
          const to = edge.to;
          let arrived = this.arrivals.get(to);
          if (!arrived) this.arrivals.set(to, arrived = new Map());
          arrived.set(node.id, result);
          if (arrived.size < to.preds.length) continue;
          this.arrivals.delete(to);
          const input: Record<string, unknown> = {};
          for (const p of to.preds) input[p.key] = arrived.get(p.id);
          this.trace.edge(edge.index);
          this.ready.push({ node: to, input, from: node.id, kind: "edge" });
        }
      }
    }
  }

  #memberExit(node: PlanNode, result: unknown): void {
    const run = this.groupRuns.get(node.node.parent!.group);
    if (run?.exit(node.member, node.key, result)) this.#settleGroup(run);
  }

  /** Fails the member `node` belongs to; false when the failure is not a group member's. */
  #memberFailed(node: PlanNode, error: unknown): boolean {
    const parent = node.node.parent;
    if (!parent) return false;
    const run = this.groupRuns.get(parent.group);
    const settledAll = run?.fail(node.member, node.key, error);
    if (settledAll === undefined) return false;
    if (settledAll) this.#settleGroup(run!);
    return true;
  }

  #settleGroup(run: GroupRun): void {
    const group = run.spec.id;
    this.groupRuns.delete(group);
    const { outcome, output, error } = run.settle();
    this.note("group.settled", {
      groupId: group,
      succeeded: outcome.succeeded,
      failed: outcome.failed.map((f) => f.taskId),
      ok: !error,
    });
    const barrier = this.plan.nodes.get(group + "/end")!;
    if (error) {
      if (!this.#memberFailed(barrier, error)) this.halt({ kind: "failed", error });
      return;
    }
    this.resultStore.set(this.plan.nodes.get(group)!, output);
    this.#propagate(barrier, output, false);
  }

  #attemptFailed(exec: Execution, attempt: number, raw: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    if (exec.timer !== undefined) clearTimeout(exec.timer);
    const error = asError(raw);
    const t = exec.task;
    this.note("task.failed", { taskId: t.name, attempt, cycle: exec.cycle, error });
    if (!this.stop && attempt <= t.retry.maxRetries) {
      const delayMs = retryDelay(t.retry, attempt - 1);
      this.note("task.retried", { taskId: t.name, attempt, delayMs, error });
      exec.attempt = attempt + 1;
      this.#sleep(delayMs, this.#runAbort.signal).then(() => {
        if (this.stop) return this.#settleFailed(exec, error);
        exec.ctx = new EngineTaskContext(this, t.name, exec.attempt, exec.cycle);
        this.#attempt(exec);
      }, () => this.#settleFailed(exec, error));
      return;
    }
    this.#settleFailed(exec, error);
  }

  #settleFailed(exec: Execution, error: Error): void {
    exec.settled = true;
    this.running.delete(exec);
    const t = exec.task;
    if (!this.stop) {
      const wrapped = t.retry.maxRetries > 0
        ? new RetryLimitExceededError(t.name, exec.attempt, error)
        : new TaskFailedError(t.name, error);
      // In a group the failure record keeps what the task threw; outside, the run rejects
      // with the wrapper (TaskFailedError / RetryLimitExceededError) whose cause it is.
      if (!this.#memberFailed(exec.node, t.retry.maxRetries > 0 ? wrapped : error)) {
        this.halt({ kind: "failed", error: wrapped });
      }
    }
    this.#pump();
  }

  #finish(stop: Stop | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#onSignal) this.options.signal!.removeEventListener("abort", this.#onSignal);
    let finished: Promise<void> | void;
    try {
      finished = this.hooks.finished?.(this);
    } catch (error) {
      finished = Promise.reject(error);
    }
    Promise.resolve(finished).then(() => {
      if (stop?.kind === "failed") {
        this.note("run.failed", { error: stop.error, steps: this.steps });
        this.#reject(stop.error);
        return;
      }
      const status: RunStatus = stop?.kind ?? "completed";
      this.note("run.finished", { status, steps: this.steps });
      this.#resolve(
        makeRunResult(this, status, stop?.kind === "waiting" ? stop.feedback : undefined),
      );
    }, (error) => this.#reject(error));
  }

  // ContextHost ---------------------------------------------------------------------------

  /** Result of a completed task. */
  result(taskId: string): Promise<unknown> {
    return Promise.resolve(this.resultOf(taskId));
  }

  /** The latest result of a task (or group), `undefined` when it has none. */
  resultOf(id: string): unknown {
    const node = this.node(id);
    return node && this.resultStore.get(node);
  }

  /** Records a result (resume uses this). */
  setResult(id: string, value: unknown): void {
    const node = this.node(id);
    if (!node) throw new WorkflowError(`Cannot restore run: node "${id}" is not in the flow`);
    this.resultStore.set(node, value);
  }

  /** Every task's (and group's) latest result by id, in plan order. */
  results(): Record<string, unknown> {
    return this.resultStore.record([this.plan.nodes.values(), this.dynamicNodes.values()]);
  }

  /** Writes an immediate checkpoint (through the checkpoint hooks). */
  checkpoint(
    ctx: EngineTaskContext,
    options: CheckpointOptions,
  ): Promise<CheckpointInfo | undefined> {
    return this.hooks.checkpointNow(this, ctx, options);
  }

  /** Human-in-the-loop request (through the checkpoint hooks). */
  requestFeedback(ctx: EngineTaskContext, request: FeedbackRequest): Promise<FeedbackResponse> {
    return this.hooks.requestFeedback(this, ctx, request);
  }

  /** A handler's report about a running task, emitted as an event. */
  notice(ctx: EngineTaskContext, n: RunNotice): void {
    this.note("task.waiting", {
      taskId: ctx.taskId,
      reason: n.reason,
      waitedMs: n.waitedMs,
      message: n.message,
    });
  }

  /** The execution a context belongs to. */
  executionOf(ctx: EngineTaskContext): Execution | undefined {
    for (const exec of this.running) if (exec.ctx === ctx) return exec;
    return undefined;
  }
}
