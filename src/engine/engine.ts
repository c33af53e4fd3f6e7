/**
 * The run loop: activates nodes when their forward predecessors completed, runs tasks through
 * their handlers with retries and timeouts, settles parallel groups under their policies, and
 * applies what tasks asked for at run time (next, goto, iterations, terminate, cancel).
 *
 * @module
 */
import { BARRIER, type Graph, type GraphNode, type Plan } from "../graph/graph.ts";
import { retryDelay, type Task } from "../graph/task.ts";
import {
  CycleLimitExceededError,
  NonErrorThrownError,
  RetryLimitExceededError,
  TaskFailedError,
  TaskTimeoutError,
  WorkflowCanceledError,
  WorkflowError,
} from "./errors.ts";
import { applyPolicy } from "./policies.ts";
import {
  type CheckpointInfo,
  type CheckpointOptions,
  type Directives,
  EngineTaskContext,
  type FeedbackRequest,
  type FeedbackResponse,
  type TaskContext,
} from "../context/task_context.ts";
import type {
  ActivationKind,
  DynamicTaskRecord,
  MemberRunState,
  PendingActivation,
  RunStateData,
} from "../context/run_state.ts";
import type { Channel } from "../channels/channel.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { WorkflowEvent } from "../observability/events.ts";
import type { RunOptions, RunResult, RunStatus } from "./run_options.ts";
import { ExecutedGraph } from "../graph/executed_graph.ts";

/** One task execution (all its attempts). */
export interface Execution {
  readonly node: GraphNode;
  readonly task: Task;
  readonly input: unknown;
  readonly from: string;
  readonly kind: ActivationKind;
  readonly cycle: number;
  readonly handler: TaskHandler;
  attempt: number;
  ctx: EngineTaskContext;
  settled: boolean;
  started: number;
  timer?: ReturnType<typeof setTimeout>;
}

type Stop =
  | { kind: "failed"; error: unknown }
  | { kind: "terminated" }
  | { kind: "waiting"; feedback: { id: string; checkpoint: string } };

/** Hooks the run uses for checkpoints and feedback (installed by the checkpoint module). */
export interface EngineHooks {
  /**
   * Writes deferred checkpoints after a task succeeded and its successors were queued: must
   * take its snapshot synchronously; the returned promise is awaited before the run finishes.
   */
  afterTask?(engine: Engine, exec: Execution, directives: Directives): Promise<void> | void;
  /** Writes an immediate checkpoint for the task of `ctx`. */
  checkpointNow?(
    engine: Engine,
    ctx: TaskContext,
    options: CheckpointOptions,
  ): Promise<CheckpointInfo>;
  /** Human-in-the-loop: asks, waits, or ends the run as waiting. */
  requestFeedback?(
    engine: Engine,
    ctx: TaskContext,
    request: FeedbackRequest,
  ): Promise<FeedbackResponse>;
  /** Called once when the run finished (any status), before it resolves. */
  finished?(engine: Engine): Promise<void> | void;
}

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** @internal The state machine of one run. Use `flow.run()` / `flow.start()`. */
export class Engine {
  readonly runId: string;
  readonly graph: Graph;
  readonly plan: Plan;
  readonly channel: Channel;
  readonly options: RunOptions;
  readonly maxSteps: number;
  readonly hooks: EngineHooks;
  readonly running: Set<Execution> = new Set();
  readonly results: Record<string, unknown> = {};
  readonly completed: string[] = [];
  readonly cycles: Record<string, number> = {};
  readonly arrivals: Map<string, Map<string, unknown>> = new Map();
  readonly groupRuns: Map<string, Map<string, MemberRunState>> = new Map();
  readonly dynamic: DynamicTaskRecord[] = [];
  readonly dynamicNodes: Map<string, GraphNode> = new Map();
  readonly trace: ExecutedGraph;
  readonly checkpoints: string[] = [];
  feedbackRequests: Record<string, string[]> = {};
  steps = 0;
  output: unknown = undefined;
  lastTask: string | undefined;
  stop: Stop | undefined;
  /** Set while the engine waits for deferred work (checkpoint writes) of a finished task. */
  #busy = 0;
  #ready: PendingActivation[] = [];
  #head = 0;
  #done = false;
  #resolve!: (r: RunResult) => void;
  #reject!: (e: unknown) => void;
  readonly promise: Promise<RunResult>;
  readonly #handlers: Map<string, TaskHandler>;
  readonly #handlerOf = new Map<string, TaskHandler>();
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
    this.#sleep = options.sleep ?? defaultSleep;
    this.trace = new ExecutedGraph(graph);
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
    for (const node of graph.nodes.values()) {
      if (node.kind === "task") this.#handlerOf.set(node.id, this.#pickHandler(node));
    }
  }

  /** Emits an event when someone listens. */
  emit(event: WorkflowEvent): void {
    this.#emit?.(event);
  }

  /** Whether anyone listens to events. */
  get listening(): boolean {
    return this.#emit !== undefined;
  }

  #pickHandler(node: GraphNode): TaskHandler {
    const t = node.task!;
    let name = t.handler;
    if (name === "direct") {
      const group = node.parent ? this.graph.groups.get(node.parent.group) : undefined;
      const executor = group?.executor ?? (node.parent ? this.options.executor : undefined);
      if (executor === "workers") name = "worker";
      else if (executor === "redis" || this.options.backend) {
        if (!this.options.backend) {
          throw new WorkflowError(
            `Cannot run task "${t.name}": its group uses executor "redis" but the run has no backend`,
            { code: "HANDLER_NOT_FOUND" },
          );
        }
        return this.options.backend.handler;
      }
    }
    const handler = this.#handlers.get(name);
    if (!handler) {
      throw new WorkflowError(
        `Cannot run task "${t.name}": handler "${name}" is not registered (known: ${
          [...this.#handlers.keys()].map((k) => `"${k}"`).join(", ")
        })`,
        { code: "HANDLER_NOT_FOUND" },
      );
    }
    return handler;
  }

  /** The node with this id (static or added at run time). */
  node(id: string): GraphNode | undefined {
    return this.graph.nodes.get(id) ?? this.dynamicNodes.get(id);
  }

  /** Starts the run from the plan's start nodes (or restores `state` from a checkpoint). */
  begin(input: unknown, state?: RunStateData): Promise<RunResult> {
    const signal = this.options.signal;
    if (signal) {
      if (signal.aborted) {
        this.#finish({ kind: "failed", error: signal.reason });
        return this.promise;
      }
      this.#onSignal = () => this.halt({ kind: "failed", error: signal.reason });
      signal.addEventListener("abort", this.#onSignal, { once: true });
    }
    this.emit({ type: "run.started", runId: this.runId, time: Date.now(), resumed: !!state });
    if (state) this.#restore(state);
    else {
      for (const s of this.plan.starts) {
        this.#ready.push({ node: s, input, from: "start", kind: "start" });
      }
    }
    this.#pump();
    return this.promise;
  }

  #restore(state: RunStateData): void {
    this.steps = state.steps;
    Object.assign(this.results, state.results);
    this.completed.push(...state.completed);
    Object.assign(this.cycles, state.cycles);
    this.output = state.output;
    this.lastTask = state.lastTask;
    for (const [node, preds] of Object.entries(state.arrivals)) {
      this.arrivals.set(node, new Map(Object.entries(preds)));
    }
    for (const [group, members] of Object.entries(state.groups)) {
      this.groupRuns.set(group, new Map(Object.entries(members)));
    }
    this.feedbackRequests = structuredClone(state.feedback?.requests ?? {});
    this.trace.restore(state.trace);
    this.#ready.push(...state.pending);
  }

  /** Registers a task added at run time (resume uses this too). */
  addDynamic(t: Task, by: string): GraphNode {
    const node: GraphNode = { id: t.name, kind: "task", task: t, dynamic: true };
    this.#handlerOf.set(t.name, this.#pickHandler(node));
    this.dynamicNodes.set(t.name, node);
    this.dynamic.push({ id: t.name, module: t.module, by });
    return node;
  }

  /** Snapshot of the run for checkpoints; running tasks become pending (they run again). */
  snapshot(rerun?: Execution): RunStateData {
    const pending: PendingActivation[] = [];
    const cycles = { ...this.cycles };
    let steps = this.steps;
    for (const exec of this.running) {
      if (exec !== rerun && exec.settled) continue;
      pending.push({
        node: exec.node.id,
        input: exec.input,
        from: exec.from,
        kind: exec.kind,
        ...(exec === rerun ? { attempt: exec.attempt } : {}),
      });
      cycles[exec.node.id]--;
      steps--;
    }
    pending.push(...this.#ready.slice(this.#head));
    const arrivals: RunStateData["arrivals"] = {};
    for (const [node, preds] of this.arrivals) arrivals[node] = Object.fromEntries(preds);
    const groups: RunStateData["groups"] = {};
    for (const [g, members] of this.groupRuns) groups[g] = Object.fromEntries(members);
    return {
      runId: this.runId,
      steps,
      results: { ...this.results },
      completed: [...this.completed],
      cycles,
      output: this.output,
      lastTask: this.lastTask,
      pending,
      arrivals,
      groups,
      dynamic: [...this.dynamic],
      trace: this.trace.edgesData(),
      feedback: { requests: structuredClone(this.feedbackRequests) },
    };
  }

  /** Stops the run: aborts running tasks and settles once they are done. */
  halt(stop: Stop): void {
    if (this.stop || this.#done) return;
    this.stop = stop;
    const reason = stop.kind === "failed" ? stop.error : new WorkflowError(
      `Run ${stop.kind}: the task was stopped`,
      { code: stop.kind === "terminated" ? "TERMINATED" : "WAITING" },
    );
    this.#runAbort.abort(reason);
    for (const exec of this.running) exec.ctx.abort(reason);
    this.#maybeFinish();
  }

  #pump(): void {
    const ready = this.#ready;
    while (this.#head < ready.length && !this.stop) {
      const act = ready[this.#head++];
      const node = this.node(act.node);
      if (!node) {
        this.halt({
          kind: "failed",
          error: new WorkflowError(`Cannot run node "${act.node}": it is not in the flow`, {
            code: "NODE_NOT_FOUND",
          }),
        });
        break;
      }
      this.trace.activate(act.from, act.node, act.kind);
      if (node.kind === "fork") this.#fork(node, act.input);
      else if (node.kind === "task") this.#start(node, act);
    }
    if (this.#head > 1024 && this.#head * 2 > ready.length) {
      this.#ready = ready.slice(this.#head);
      this.#head = 0;
    }
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#done || this.running.size > 0 || this.#busy > 0) return;
    if (this.stop) this.#finish(this.stop);
    else if (this.#head >= this.#ready.length) this.#finish(undefined);
  }

  #fork(node: GraphNode, input: unknown): void {
    const spec = this.graph.groups.get(node.group!)!;
    const members = new Map<string, MemberRunState>();
    for (const m of spec.members) {
      members.set(m.id, { remaining: m.exits.length, results: {}, settled: false });
    }
    this.groupRuns.set(spec.id, members);
    this.#propagate(node, input, false);
  }

  #start(node: GraphNode, act: PendingActivation): void {
    const t = node.task!;
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
    const cycle = (this.cycles[t.name] ?? 0) + 1;
    if (cycle > t.maxCycles) {
      this.halt({ kind: "failed", error: new CycleLimitExceededError(t.name, t.maxCycles) });
      return;
    }
    this.steps++;
    this.cycles[t.name] = cycle;
    const attempt = act.attempt ?? 1;
    const exec: Execution = {
      node,
      task: t,
      input: act.input,
      from: act.from,
      kind: act.kind,
      cycle,
      handler: this.#handlerOf.get(t.name)!,
      attempt,
      ctx: new EngineTaskContext(this as never, t.name, attempt, cycle),
      settled: false,
      started: 0,
    };
    this.running.add(exec);
    this.#attempt(exec);
  }

  #attempt(exec: Execution): void {
    const attempt = exec.attempt;
    if (this.#emit) {
      exec.started = performance.now();
      this.emit({
        type: "task.started",
        runId: this.runId,
        time: Date.now(),
        taskId: exec.task.name,
        attempt,
        cycle: exec.cycle,
      });
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
    this.results[id] = result;
    this.completed.push(id);
    this.output = result;
    this.lastTask = id;
    if (this.#emit) {
      this.emit({
        type: "task.succeeded",
        runId: this.runId,
        time: Date.now(),
        taskId: id,
        attempt,
        cycle: exec.cycle,
        durationMs: performance.now() - exec.started,
      });
    }
    const d = exec.ctx.directives;
    if (!this.stop) {
      if (d === undefined) this.#propagate(exec.node, result, false);
      else this.#applyDirectives(exec, d, result);
    }
    if (d?.checkpoints && !this.stop && this.hooks.afterTask) {
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
          this.#maybeFinish();
        });
    }
    this.running.delete(exec);
    this.#pump();
  }

  #applyDirectives(exec: Execution, d: Directives, result: unknown): void {
    const id = exec.task.name;
    if (d.cancel) {
      this.halt({ kind: "failed", error: new WorkflowCanceledError(id, d.cancel.reason) });
      return;
    }
    if (d.terminate) {
      this.halt({ kind: "terminated" });
      return;
    }
    let skip = false;
    if (d.iterate) {
      skip = true;
      this.#ready.push({
        node: id,
        input: d.iterate.hasInput ? d.iterate.input : result,
        from: id,
        kind: "iterate",
      });
    }
    for (const call of d.next ?? []) {
      const target = call.task;
      const existing = this.node(target.name);
      if (existing && existing.task !== target) {
        this.halt({
          kind: "failed",
          error: new TypeError(
            `Cannot add task "${target.name}" from "${id}": the flow has another node with this id`,
          ),
        });
        return;
      }
      const isStatic = existing !== undefined && !existing.dynamic;
      const jump = call.goto ?? isStatic;
      if (!existing) {
        try {
          this.addDynamic(target, id);
        } catch (error) {
          this.halt({ kind: "failed", error });
          return;
        }
      }
      if (jump) skip = true;
      this.emit({
        type: "task.added",
        runId: this.runId,
        time: Date.now(),
        taskId: target.name,
        by: id,
        goto: jump,
      });
      this.#ready.push({
        node: target.name,
        input: call.hasInput ? call.input : result,
        from: id,
        kind: jump ? "goto" : "next",
      });
    }
    if (!d.iterate) this.#propagate(exec.node, result, skip);
  }

  #propagate(node: GraphNode, result: unknown, skipStatic: boolean): void {
    const id = node.id;
    const succ = this.graph.successors(id);
    for (let i = 0; i < succ.length; i++) {
      const to = succ[i];
      if (to.endsWith(BARRIER) && node.parent && this.graph.groups.has(node.parent.group)) {
        const target = this.graph.nodes.get(to)!;
        if (target.kind === "barrier" && target.group === node.parent.group) {
          this.#memberExit(node, result);
          continue;
        }
      }
      if (skipStatic) continue;
      if (this.plan.backEdges.has(id + "\u0000" + to)) {
        this.#ready.push({ node: to, input: result, from: id, kind: "back" });
        continue;
      }
      const preds = this.plan.forwardPreds.get(to)!;
      if (preds.length <= 1) {
        this.#ready.push({ node: to, input: result, from: id, kind: "edge" });
        continue;
      }
      let arrived = this.arrivals.get(to);
      if (!arrived) this.arrivals.set(to, arrived = new Map());
      arrived.set(id, result);
      if (arrived.size < preds.length) continue;
      this.arrivals.delete(to);
      const input: Record<string, unknown> = {};
      for (const p of preds) input[joinKey(this.graph, p)] = arrived.get(p);
      this.#ready.push({ node: to, input, from: id, kind: "edge" });
    }
  }

  #memberExit(node: GraphNode, result: unknown): void {
    const { group, member } = node.parent!;
    const members = this.groupRuns.get(group);
    const m = members?.get(member);
    if (!m || m.settled) return;
    m.results[node.kind === "barrier" ? node.group! : node.id] = result;
    if (--m.remaining > 0) return;
    m.settled = true;
    this.#maybeSettleGroup(group, members!);
  }

  #memberFailed(node: GraphNode, error: unknown): boolean {
    if (!node.parent) return false;
    const { group, member } = node.parent;
    const members = this.groupRuns.get(group);
    const m = members?.get(member);
    if (!m || m.settled) return false;
    m.settled = true;
    m.failed = { taskId: node.kind === "task" ? node.id : node.group!, error };
    this.#maybeSettleGroup(group, members!);
    return true;
  }

  #maybeSettleGroup(group: string, members: Map<string, MemberRunState>): void {
    for (const m of members.values()) if (!m.settled) return;
    this.groupRuns.delete(group);
    const spec = this.graph.groups.get(group)!;
    const succeeded: string[] = [];
    const failed: { taskId: string; member: string; error: unknown }[] = [];
    const output: Record<string, unknown> = {};
    for (const [id, m] of members) {
      if (m.failed) failed.push({ ...m.failed, member: id });
      else {
        succeeded.push(id);
        const keys = Object.keys(m.results);
        output[id] = keys.length === 1 ? m.results[keys[0]] : m.results;
      }
    }
    const error = applyPolicy(spec.policy, { groupId: group, succeeded, failed });
    this.emit({
      type: "group.settled",
      runId: this.runId,
      time: Date.now(),
      groupId: group,
      succeeded,
      failed: failed.map((f) => f.taskId),
      ok: !error,
    });
    const barrier = this.graph.nodes.get(group + BARRIER)!;
    if (error) {
      if (!this.#memberFailed(barrier, error)) this.halt({ kind: "failed", error });
      return;
    }
    this.results[group] = output;
    this.#propagate(barrier, output, false);
  }

  #attemptFailed(exec: Execution, attempt: number, raw: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    if (exec.timer !== undefined) clearTimeout(exec.timer);
    const error = raw instanceof Error ? raw : new NonErrorThrownError(raw);
    const t = exec.task;
    this.emit({
      type: "task.failed",
      runId: this.runId,
      time: Date.now(),
      taskId: t.name,
      attempt,
      cycle: exec.cycle,
      error,
    });
    if (!this.stop && attempt <= t.retry.maxRetries) {
      const delayMs = retryDelay(t.retry, attempt - 1);
      this.emit({
        type: "task.retried",
        runId: this.runId,
        time: Date.now(),
        taskId: t.name,
        attempt,
        delayMs,
        error,
      });
      exec.attempt = attempt + 1;
      this.#sleep(delayMs, this.#runAbort.signal).then(() => {
        if (this.stop) return this.#settleFailed(exec, error);
        exec.ctx = new EngineTaskContext(this as never, t.name, exec.attempt, exec.cycle);
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
    const finished = this.hooks.finished ? this.hooks.finished(this) : undefined;
    Promise.resolve(finished).then(() => {
      if (stop?.kind === "failed") {
        this.emit({
          type: "run.failed",
          runId: this.runId,
          time: Date.now(),
          error: stop.error,
          steps: this.steps,
        });
        this.#reject(stop.error);
        return;
      }
      const status: RunStatus = stop?.kind ?? "completed";
      this.emit({
        type: "run.finished",
        runId: this.runId,
        time: Date.now(),
        status,
        steps: this.steps,
      });
      this.#resolve({
        runId: this.runId,
        status,
        output: this.output,
        results: this.results,
        completed: this.completed,
        steps: this.steps,
        channel: this.channel,
        checkpoints: this.checkpoints,
        ...(stop?.kind === "waiting" ? { feedback: stop.feedback } : {}),
        graph: this.trace,
      });
    }, (error) => this.#reject(error));
  }

  // ContextHost ---------------------------------------------------------------------------

  /** Result of a completed task. */
  result(taskId: string): Promise<unknown> {
    return Promise.resolve(this.results[taskId]);
  }

  /** Writes an immediate checkpoint (needs the checkpoint module's hooks). */
  checkpoint(ctx: TaskContext, options: CheckpointOptions): Promise<CheckpointInfo | undefined> {
    if (!this.hooks.checkpointNow) {
      return Promise.reject(
        new WorkflowError(`Cannot checkpoint task "${ctx.taskId}": checkpoints are not enabled`, {
          code: "CHECKPOINT_UNAVAILABLE",
        }),
      );
    }
    return this.hooks.checkpointNow(this, ctx, options);
  }

  /** Human-in-the-loop request (needs the checkpoint module's hooks). */
  requestFeedback(ctx: TaskContext, request: FeedbackRequest): Promise<FeedbackResponse> {
    if (!this.hooks.requestFeedback) {
      return Promise.reject(
        new WorkflowError(`Cannot request feedback in task "${ctx.taskId}": not enabled`, {
          code: "FEEDBACK_UNAVAILABLE",
        }),
      );
    }
    return this.hooks.requestFeedback(this, ctx, request);
  }

  /** The execution a context belongs to. */
  executionOf(ctx: TaskContext): Execution | undefined {
    for (const exec of this.running) if (exec.ctx === ctx) return exec;
    return undefined;
  }
}

/** The key of predecessor `id` in a join's input: task id, or group id for a barrier. */
export function joinKey(graph: Graph, id: string): string {
  const node = graph.nodes.get(id);
  return node?.kind === "barrier" ? node.group! : id;
}
