/**
 * The run loop: starts what the run state says is ready, runs each task through its handler
 * with retries and timeouts, and reports outcomes back to the state. The state
 * (`src/state/run_state.ts`) decides what runs next; the attempts of each execution (timeouts,
 * retries, cancellation) run in `./attempts.ts`; handlers are resolved per node by
 * `./placement.ts`; checkpoints and human-in-the-loop requests go through the persistence port
 * (`./persistence.ts`).
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import { RunState, type RunStatePort } from "../state/run_state.ts";
import { Replay, replayToContinue } from "../state/replay.ts";
import type { RunStateData, Stop } from "../state/run_state_data.ts";
import type { CheckpointInfo, CheckpointOptions } from "../context/task_context.ts";
import type { ContextHost } from "../context/engine_task_context.ts";
import type { WorkflowEvent } from "../observability/events.ts";
import type { RunObserver } from "../observability/instrumentation.ts";
import { RunHandlers } from "./placement.ts";
import type { DistributiveOmit, EnginePort, RunPersistence } from "./persistence.ts";
import type { EngineSetup, RunResult, RunStatus } from "./run_options.ts";
import { makeRunResult } from "./run_result.ts";
import { type CrashPoint, SimulatedCrash } from "./simulated_crash.ts";
import { Attempts, type Execution, itemField, newExecution } from "./attempts.ts";

/** Tasks started by one pump before it yields to settle finished ones. */
const PUMP_BATCH = 512;

/** @internal The loop of one run. Use `flow.run()` / `flow.start()`. */
export class Engine {
  /** The run id. */
  readonly runId: string;
  /** Settles with the run. */
  readonly promise: Promise<RunResult>;
  readonly #setup: EngineSetup;
  readonly #state: RunState<Execution>;
  readonly #persistence: RunPersistence;
  readonly #handlers: RunHandlers;
  readonly #attempts: Attempts;
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
    const handlers = this.#handlers = new RunHandlers(setup);
    // Made before the state: replaying a journal may cancel executions.
    this.#attempts = new Attempts({
      clock: setup.clock,
      signal: this.#runAbort.signal,
      observer: this.#obs,
      listened: this.#emit !== undefined,
      host: this.#contextHost(),
      note: (event) => this.#note(event),
      stopped: () => this.#state.stop !== undefined,
      retrying: (exec, error) => this.#state.retry(exec, error),
      succeeded: (exec, result) => this.#succeeded(exec, result),
      failed: (exec, error) => this.#settleFailed(exec, error),
    });
    const port: RunStatePort<Execution> = {
      exec: newExecution,
      admit: (node) => void handlers.of(node),
      cancel: (exec, reason) => this.#attempts.cancel(exec, reason),
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
  }

  /**
   * Emits an event to the listener and the observer. Task starts, ends and cancellations are
   * built only for a listener (`listened` in `./attempts.ts`): the observer has its own attempt
   * hooks.
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
    exec.handler = this.#handlers.of(exec.node);
    this.#attempts.start(exec);
  }

  /** An attempt succeeded: the state settles the execution, then deferred checkpoints. */
  #succeeded(exec: Execution, result: unknown): void {
    const state = this.#state;
    const d = exec.ctx.directives;
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

  #settleFailed(exec: Execution, error: Error): void {
    this.#state.failed(exec, error);
    if (this.#setup.crashAfter && this.#crashed(exec, false)) return;
    const stop = this.#state.stop;
    if (stop) this.#halt(stop);
    else this.#pump();
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
    this.#end(crash);
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

  /** Ends the loop: the signal is no longer heard, running executions are dropped (a crash aborts them). */
  #end(crash?: SimulatedCrash): void {
    this.#done = true;
    if (this.#onSignal) this.#setup.signal!.removeEventListener("abort", this.#onSignal);
    if (crash) this.#runAbort.abort(crash);
    for (const exec of this.#state.running) {
      exec.timer?.clear();
      if (crash) exec.ctx?.abort(crash);
      this.#state.drop(exec);
    }
  }

  #finish(stop: Stop | undefined): void {
    if (this.#done) return;
    this.#end();
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

  /** The host of task contexts (it reads the state and the persistence when called). */
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
