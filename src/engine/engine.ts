/**
 * The run loop: starts what the run state says is ready, runs each task through its handler
 * with retries and timeouts, and reports outcomes back to the state. The state
 * (`src/state/run_state.ts`) decides what runs next; checkpoints and human-in-the-loop requests
 * go through the persistence port (`./persistence.ts`).
 *
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import type { Plan, PlanNode } from "../graph/plan.ts";
import { mayRetry, retryDelay } from "../graph/task.ts";
import { asError, TaskTimeoutError, WorkflowError } from "../errors.ts";
import { type ExecState, RunState, type RunStatePort } from "../state/run_state.ts";
import { Replay, replayToContinue } from "../state/replay.ts";
import type { RunStateData, Stop, Transition } from "../state/run_state_data.ts";
import {
  type CheckpointInfo,
  type CheckpointOptions,
  type ContextHost,
  EngineTaskContext,
} from "../context/task_context.ts";
import type { Channel } from "../channels/channel.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { WorkflowEvent } from "../observability/events.ts";
import type { RunObserver } from "../observability/instrumentation.ts";
import { type Clock, clockSleep, type Timer } from "../time/clock.ts";
import { findHandler, handlerName, handlerNames, type PlacementOptions } from "./placement.ts";
import type { AttemptRef, DistributiveOmit, EnginePort, RunPersistence } from "./persistence.ts";
import type { RunResult, RunStatus } from "./run_options.ts";
import { makeRunResult } from "./run_result.ts";
import { type CrashPoint, SimulatedCrash } from "./simulated_crash.ts";

/** Tasks started by one pump before it yields to settle finished ones. */
const PUMP_BATCH = 512;

/** One task execution (all its attempts), as the loop runs it. */
interface Execution extends ExecState, AttemptRef {
  /** The task id. */
  readonly taskId: string;
  /** The handler that runs it. */
  handler: TaskHandler | undefined;
  /** Context of the current attempt. */
  ctx: EngineTaskContext<Execution>;
  /** Timeout timer of the current attempt. */
  timer: Timer | undefined;
  /** When the current attempt must be done (clock time), when it has a timeout. */
  deadline: number;
  /** `performance.now()` at the start of the attempt (only when events are listened to). */
  started: number;
  /** Feedback requests made by the current attempt. */
  feedbackCalls: number;
  /** Ends a retry wait when the execution is cancelled (made for the first retry). */
  retryWait: AbortController | undefined;
}

/** The `item` field of events and crash points, for map items. */
function itemField(exec: Execution): { item?: number } {
  return exec.item >= 0 ? { item: exec.item } : {};
}

/** A new execution with every field set, so that all executions share one shape. */
const newExecution: RunStatePort<Execution>["exec"] = (
  step,
  node,
  task,
  input,
  from,
  kind,
  cycle,
  attempt,
  map,
  item,
) => ({
  step,
  node,
  task,
  taskId: task.name,
  input,
  from,
  kind,
  cycle,
  map,
  item,
  attempt,
  settled: false,
  slot: -1,
  handler: undefined,
  ctx: undefined as unknown as EngineTaskContext<Execution>,
  timer: undefined,
  deadline: 0,
  started: 0,
  feedbackCalls: 0,
  retryWait: undefined,
});

/** Everything a run needs, already checked. */
export interface EngineSetup {
  /** The run id. */
  runId: string;
  /** The flow's graph. */
  graph: Graph;
  /** Its plan for this run. */
  plan: Plan;
  /** The run's channel. */
  channel: Channel;
  /** Handlers by name. */
  handlers: ReadonlyMap<string, TaskHandler>;
  /** The run's executor and backend (for placement). */
  placement: PlacementOptions;
  /** Hard limit of task executions. */
  maxSteps: number;
  /** Aborting it fails the run at once with its reason. */
  signal?: AbortSignal;
  /** Time source of every timer of the run. */
  clock: Clock;
  /** Receives events. */
  onEvent?: (event: WorkflowEvent) => void;
  /** Tracing, metrics and progress of the run (absent when nothing is recorded). */
  observer?: RunObserver;
  /** Receives every transition of the state. */
  record?: (transition: Transition) => void;
  /**
   * Continue a run from its journal: the state at the journal's snapshot (if any), the
   * transitions after it, and whether to retry its failed tasks.
   */
  journal?: { snapshot?: RunStateData; transitions: Transition[]; retry: boolean };
  /** Handlers by task name, consulted before placement (the test kit's mocks). */
  taskHandlers?: ReadonlyMap<string, TaskHandler>;
  /**
   * Consulted after each outcome is applied to the state: true stops the run on the spot, as
   * if its process died (the test kit's crash injection). The run rejects with a
   * {@linkcode SimulatedCrash} holding the state at that instant.
   */
  crashAfter?: (point: CrashPoint) => boolean;
  /** Creates the run's persistence from the engine's port. */
  persistence: (port: EnginePort) => RunPersistence;
}

/** @internal The loop of one run. Use `flow.run()` / `flow.start()`. */
export class Engine {
  /** The run id. */
  readonly runId: string;
  /** Settles with the run. */
  readonly promise: Promise<RunResult>;
  readonly #setup: EngineSetup;
  readonly #state: RunState<Execution>;
  readonly #persistence: RunPersistence;
  readonly #host: ContextHost<Execution>;
  readonly #handlerAt: (TaskHandler | undefined)[] = [];
  readonly #emit: ((e: WorkflowEvent) => void) | undefined;
  readonly #obs: RunObserver | undefined;
  readonly #runAbort = new AbortController();
  /** Deferred checkpoint writes the run waits for before starting more or finishing. */
  #busy = 0;
  #done = false;
  #resolve!: (r: RunResult) => void;
  #reject!: (e: unknown) => void;
  #onSignal: (() => void) | undefined;

  /**
   * Creates the run; nothing runs before {@linkcode Engine.begin}.
   *
   * @param setup What the run needs.
   * @param data The state to continue from (resume, takeover).
   * @throws {WorkflowError} `HANDLER_NOT_FOUND` when a task's handler is not registered.
   */
  constructor(setup: EngineSetup, data?: RunStateData) {
    this.#setup = setup;
    this.runId = setup.runId;
    const listener = setup.onEvent;
    this.#obs = setup.observer;
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
    // Every handler the flow needs must exist before anything runs.
    for (const name of handlerNames(setup.graph, setup.placement)) {
      const taskId = this.#taskUsing(name);
      if (taskId !== undefined) findHandler(setup.handlers, name, taskId);
    }
    const port: RunStatePort<Execution> = {
      exec: newExecution,
      admit: (node) => void this.#handlerOf(node),
      cancel: (exec, reason) => this.#cancelled(exec, reason),
    };
    const j = setup.journal;
    const fresh = (snapshot?: RunStateData) =>
      snapshot
        ? RunState.fromData(snapshot, setup.graph, setup.plan, setup.maxSteps, port)
        : new RunState(setup.runId, setup.graph, setup.plan, setup.maxSteps, port);
    // A rebuilt state does not record what it replays; events start with the live run.
    this.#state = j
      ? replayToContinue(() => new Replay(fresh(j.snapshot)), j.transitions, j.retry).state
      : fresh(data);
    this.#state.recordTo(setup.record);
    // Later rebuilds undo the same failure (the journal keeps it: it happened).
    if (j?.retry) setup.record?.({ t: "retried" });
    if (this.#emit || this.#obs) {
      port.note = (type, fields) => this.#note({ type, ...fields } as never);
    }
    this.#persistence = setup.persistence(this.#port());
    this.#host = this.#contextHost();
  }

  /** A task that runs on handler `name` (none when every such task has a task handler). */
  #taskUsing(name: string): string | undefined {
    const { graph, placement, taskHandlers } = this.#setup;
    for (const node of graph.nodes.values()) {
      if (
        node.task && !taskHandlers?.has(node.task.name) &&
        handlerName(graph, node, placement) === name
      ) {
        return node.id;
      }
    }
    return undefined;
  }

  #handlerOf(node: PlanNode): TaskHandler {
    return this.#handlerAt[node.index] ??= this.#setup.taskHandlers?.get(node.node.task!.name) ??
      findHandler(
        this.#setup.handlers,
        handlerName(this.#setup.graph, node.node, this.#setup.placement),
        node.id,
      );
  }

  /**
   * Emits an event to the listener and the observer. Task starts and successes are built only
   * for a listener (`if (this.#emit)`): the observer has its own attempt hooks.
   */
  #note(event: DistributiveOmit<WorkflowEvent, "runId" | "time">): void {
    if (!this.#emit && !this.#obs) return;
    const e = { ...event, runId: this.runId, time: this.#setup.clock.now() } as WorkflowEvent;
    this.#obs?.event(e);
    this.#emit?.(e);
  }

  /**
   * Starts the run (from the plan's start nodes, or from the state it was created with).
   *
   * @param input Input of the first tasks (ignored when continuing).
   * @param resumed Whether the run continues from saved state.
   * @returns The run's settlement.
   */
  begin(input: unknown, resumed: boolean): Promise<RunResult> {
    const signal = this.#setup.signal;
    if (signal) {
      if (signal.aborted) {
        this.#finish({ kind: "failed", error: signal.reason });
        return this.promise;
      }
      // An external abort rejects at once (as fetch does): running tasks see their signal
      // abort, and whatever they return later is discarded.
      this.#onSignal = () => this.#halt({ kind: "failed", error: signal.reason }, true);
      signal.addEventListener("abort", this.#onSignal, { once: true });
    }
    this.#note({ type: "run.started", resumed });
    if (!resumed) this.#state.begin(input);
    else if (this.#state.stop) this.#halt(this.#state.stop);
    // Executions that were running when their run's owner stopped run again.
    else for (const exec of [...this.#state.running]) this.#start(exec);
    this.#pump();
    return this.promise;
  }

  /**
   * The run state now, as data (running tasks count as pending).
   *
   * @returns The data.
   */
  snapshot(): RunStateData {
    return this.#state.toData();
  }

  /**
   * The run state now, as journal snapshot data (running tasks stay running).
   *
   * @returns The data.
   */
  journalData(): RunStateData {
    return this.#state.journalData();
  }

  /**
   * Writes a checkpoint from the host (running tasks re-run on resume).
   *
   * @param options Path and metadata.
   * @returns Base path and metadata.
   */
  checkpoint(options: CheckpointOptions): Promise<CheckpointInfo> {
    return this.#persistence.checkpointNow(undefined, options);
  }

  #halt(stop: Stop, now = false): void {
    if (this.#done) return;
    this.#state.halt(stop);
    const actual = this.#state.stop!;
    const reason = actual.kind === "failed" ? actual.error : new WorkflowError(
      `Run ${actual.kind}: the task was stopped`,
      { code: actual.kind === "terminated" ? "TERMINATED" : "WAITING" },
    );
    if (!this.#runAbort.signal.aborted) this.#runAbort.abort(reason);
    for (const exec of this.#state.running) exec.ctx?.abort(reason);
    if (now) this.#finish(actual);
    else this.#maybeFinish();
  }

  #pump(): void {
    if (this.#done) return;
    // While a deferred checkpoint is being written no new task starts: the checkpoint is on
    // disk before its task's successors run. The write's completion pumps again.
    if (this.#busy > 0) return;
    const state = this.#state;
    for (let started = 0; started < PUMP_BATCH; started++) {
      const exec = state.take();
      if (!exec) {
        if (state.stop) this.#halt(state.stop);
        else this.#maybeFinish();
        return;
      }
      this.#start(exec);
    }
    // Let tasks that already finished settle before starting more (a microtask, not a timer:
    // every member of a wide group still starts at once in terms of the event loop). Until
    // then, tasks that finish do not start more themselves: what runs at once stays near one
    // batch, so a 100,000-item map does not hold 100,000 executions in memory.
    this.#pumpQueued = true;
    queueMicrotask(this.#pumpLater);
  }

  /** A pump is queued (the last one started a full batch). */
  #pumpQueued = false;

  readonly #pumpLater = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  #maybeFinish(): void {
    if (this.#done || this.#state.runningCount > 0 || this.#busy > 0) return;
    const stop = this.#state.stop;
    if (stop) this.#finish(stop);
    else if (!this.#state.hasReady) this.#finish(undefined);
  }

  #start(exec: Execution): void {
    exec.handler = this.#handlerAt[exec.node.index] ?? this.#handlerOf(exec.node);
    this.#attempt(exec);
  }

  #attempt(exec: Execution): void {
    const attempt = exec.attempt;
    exec.ctx = new EngineTaskContext(this.#host, exec, exec.taskId, attempt, exec.cycle);
    exec.feedbackCalls = 0;
    if (this.#emit) {
      exec.started = performance.now();
      this.#note({
        type: "task.started",
        taskId: exec.taskId,
        attempt,
        cycle: exec.cycle,
        ...itemField(exec),
      });
    }
    const timeoutMs = exec.task.options.timeoutMs;
    if (timeoutMs !== undefined) {
      const clock = this.#setup.clock;
      exec.deadline = clock.now() + timeoutMs;
      exec.timer = clock.setTimer(() => {
        if (exec.settled || exec.attempt !== attempt) return;
        const error = new TaskTimeoutError(exec.taskId, timeoutMs);
        exec.ctx.abort(error);
        this.#attemptFailed(exec, attempt, error);
      }, timeoutMs);
    }
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(
        this.#obs ? this.#observed(exec) : exec.handler!.execute(exec.task, exec.input, exec.ctx),
      );
    } catch (error) {
      p = Promise.reject(error);
    }
    p.then(
      (result) => this.#attemptOk(exec, attempt, result),
      (error) => this.#attemptFailed(exec, attempt, error),
    );
  }

  /** The handler call of an attempt, inside its trace context (out of line: the hot path stays small). */
  #observed(exec: Execution): unknown {
    return this.#obs!.attempt(exec, () => exec.handler!.execute(exec.task, exec.input, exec.ctx));
  }

  #attemptOk(exec: Execution, attempt: number, result: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    if (exec.timer !== undefined) {
      exec.timer.clear();
      exec.timer = undefined;
      // A task that ran synchronous code past its deadline timed out, whatever it returned.
      if (this.#setup.clock.now() > exec.deadline) {
        const error = new TaskTimeoutError(exec.taskId, exec.task.options.timeoutMs!);
        exec.ctx.abort(error);
        return this.#attemptFailed(exec, attempt, error);
      }
    }
    this.#obs?.attemptEnded(exec);
    const state = this.#state;
    const d = exec.ctx.directives;
    if (this.#emit) {
      this.#note({
        type: "task.succeeded",
        taskId: exec.taskId,
        attempt,
        cycle: exec.cycle,
        durationMs: performance.now() - exec.started,
        ...itemField(exec),
      });
    }
    state.succeeded(exec, result, d);
    if (this.#setup.crashAfter && this.#crashed(exec, true)) return;
    // Deferred checkpoints are written when the task succeeded: also when it terminated the
    // run (the checkpoint then records the run as terminated), never when it failed or canceled.
    const stop = state.stop;
    if (d?.checkpoints && (!stop || (d.terminate && !d.cancel))) {
      this.#busy++;
      let write: Promise<void>;
      try {
        write = this.#persistence.afterTask(exec.taskId, d.checkpoints);
      } catch (error) {
        write = Promise.reject(error);
      }
      write.catch((error) => this.#halt({ kind: "failed", error })).finally(() => {
        this.#busy--;
        this.#pump();
      });
    }
    if (stop) this.#halt(stop);
    else if (!this.#pumpQueued) this.#pump();
  }

  #attemptFailed(exec: Execution, attempt: number, raw: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    exec.timer?.clear();
    exec.timer = undefined;
    const error = asError(raw);
    const t = exec.task;
    const retryable = attempt <= t.retry.maxRetries && !this.#state.stop &&
      mayRetry(t.retry, error);
    if (this.#emit) {
      this.#note({
        type: "task.failed",
        taskId: t.name,
        attempt,
        cycle: exec.cycle,
        error,
        ...itemField(exec),
        ...(attempt <= t.retry.maxRetries && !retryable && !this.#state.stop
          ? { retryable: false }
          : {}),
      });
    }
    if (retryable) {
      const delayMs = retryDelay(t.retry, attempt - 1);
      this.#note({
        type: "task.retried",
        taskId: t.name,
        attempt,
        delayMs,
        error,
        ...itemField(exec),
      });
      this.#obs?.attemptEnded(exec, error, delayMs);
      this.#state.retry(exec, error);
      // The wait ends early when the run stops or the execution is cancelled (its group or map
      // settled without it): a cancelled execution never starts another attempt.
      exec.retryWait ??= new AbortController();
      const wait = AbortSignal.any([this.#runAbort.signal, exec.retryWait.signal]);
      clockSleep(this.#setup.clock, delayMs, wait)
        .then(() => {
          if (exec.settled) return;
          if (this.#state.stop) return this.#settleFailed(exec, error);
          this.#attempt(exec);
        }, () => {
          if (!exec.settled) this.#settleFailed(exec, error);
        });
      return;
    }
    this.#obs?.attemptEnded(exec, error);
    this.#settleFailed(exec, error);
  }

  #settleFailed(exec: Execution, error: Error): void {
    this.#state.failed(exec, error);
    if (this.#setup.crashAfter && this.#crashed(exec, false)) return;
    const stop = this.#state.stop;
    if (stop) this.#halt(stop);
    else this.#pump();
  }

  /** An execution its group or map no longer waits for: abort it, drop what it returns. */
  #cancelled(exec: Execution, reason: unknown): void {
    exec.timer?.clear();
    exec.timer = undefined;
    exec.ctx?.abort(reason);
    exec.retryWait?.abort(reason);
    this.#obs?.attemptEnded(exec, asError(reason));
    if (this.#emit) {
      this.#note({
        type: "task.cancelled",
        taskId: exec.taskId,
        attempt: exec.attempt,
        cycle: exec.cycle,
        reason,
        ...itemField(exec),
      });
    }
  }

  /** Asks the crash hook; when it says so, the run stops as if its process died right now. */
  #crashed(exec: Execution, ok: boolean): boolean {
    if (this.#done) return false;
    const point: CrashPoint = { taskId: exec.taskId, ok, ...itemField(exec) };
    if (!this.#setup.crashAfter!(point)) return false;
    const crash = new SimulatedCrash(
      point,
      this.#state.toData(),
      [...this.#state.checkpoints],
      this.#setup.channel,
    );
    this.#done = true;
    if (this.#onSignal) this.#setup.signal!.removeEventListener("abort", this.#onSignal);
    this.#runAbort.abort(crash);
    for (const running of this.#state.running) {
      running.timer?.clear();
      running.ctx?.abort(crash);
      this.#state.drop(running);
    }
    // The run's telemetry ends as for a failure (a real crash would leave its span unended).
    this.#obs?.event({
      type: "run.failed",
      runId: this.#setup.runId,
      time: this.#setup.clock.now(),
      error: crash,
      steps: this.#state.steps,
    });
    this.#reject(crash);
    return true;
  }

  #finish(stop: Stop | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#onSignal) this.#setup.signal!.removeEventListener("abort", this.#onSignal);
    for (const exec of this.#state.running) {
      exec.timer?.clear();
      this.#state.drop(exec);
    }
    if (stop?.kind === "failed") {
      this.#note({ type: "run.failed", error: stop.error, steps: this.#state.steps });
      this.#reject(stop.error);
      return;
    }
    const status: RunStatus = stop?.kind ?? "completed";
    this.#note({ type: "run.finished", status, steps: this.#state.steps });
    this.#resolve(makeRunResult(
      this.#state,
      this.#setup.channel,
      status,
      stop?.kind === "waiting" ? stop.feedback : undefined,
    ));
  }

  // The host of task contexts -----------------------------------------------------------------

  #contextHost(): ContextHost<Execution> {
    return {
      runId: this.runId,
      channel: this.#setup.channel,
      result: (taskId) => Promise.resolve(this.#state.resultOf(taskId)),
      checkpoint: (exec, options) => this.#persistence.checkpointNow(exec, options),
      requestFeedback: (exec, ctx, request) =>
        this.#persistence.requestFeedback(exec, request, ++exec.feedbackCalls, ctx.signal),
      notice: (exec, n) =>
        this.#note({
          type: "task.waiting",
          taskId: exec.taskId,
          reason: n.reason,
          waitedMs: n.waitedMs,
          message: n.message,
        }),
    };
  }

  #port(): EnginePort {
    const state = this.#state;
    return {
      runId: this.runId,
      graph: this.#setup.graph,
      plan: this.#setup.plan,
      channel: this.#setup.channel,
      snapshot: (rerun) => state.toData(rerun as Execution | undefined),
      checkpointWritten: (path, steps, taskId) => {
        state.checkpointWritten(path);
        this.#note({ type: "checkpoint.written", path, taskId, steps });
      },
      feedbackRequested: (attempt, id) => state.feedbackRequested(attempt as Execution, id),
      note: (event) => this.#note(event),
      wait: (feedback) => this.#halt({ kind: "waiting", feedback }),
      fail: (error) => this.#halt({ kind: "failed", error }),
    };
  }
}
