/**
 * The attempts of a task execution: each attempt gets a fresh task context, a timeout timer
 * when the task has `timeoutMs` (a task that ran synchronous code past its deadline timed out,
 * whatever it returned), and its handler call (inside its trace context when the run is
 * observed). A failed attempt is retried after its backoff delay when the task's retry policy
 * allows it and the run goes on; the wait ends early when the run stops or the execution is
 * cancelled. The engine owns one {@linkcode Attempts} per run and hears back through an
 * {@linkcode AttemptPort}: a success, or a failure for good.
 *
 * @module
 */
import { mayRetry, retryDelay } from "../graph/task.ts";
import { asError, TaskTimeoutError } from "../errors.ts";
import type { ExecState, RunStatePort } from "../state/exec_state.ts";
import { type ContextHost, EngineTaskContext } from "../context/engine_task_context.ts";
import type { TaskHandler } from "../handlers/task_handler.ts";
import type { WorkflowEvent } from "../observability/events.ts";
import type { RunObserver } from "../observability/instrumentation.ts";
import { type Clock, clockSleep, type Timer } from "../time/clock.ts";
import type { AttemptRef, DistributiveOmit } from "./persistence.ts";

/** One task execution (all its attempts), as the loop runs it. */
export interface Execution extends ExecState, AttemptRef {
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

/**
 * The `item` field of events and crash points, for map items.
 *
 * @param exec The execution.
 * @returns `{ item }` for a map item, else an empty object.
 */
export function itemField(exec: Execution): { item?: number } {
  return exec.item >= 0 ? { item: exec.item } : {};
}

/** A new execution with every field set, so that all executions share one shape. */
export const newExecution: RunStatePort<Execution>["exec"] = (
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

/** What {@linkcode Attempts} needs from the run loop. */
export interface AttemptPort {
  /** Time source of timeouts and retry waits. */
  readonly clock: Clock;
  /** Aborts when the run stops (it ends retry waits). */
  readonly signal: AbortSignal;
  /** Tracing, metrics and progress of attempts (absent when nothing is recorded). */
  readonly observer: RunObserver | undefined;
  /** Whether an event listener is set (task starts, ends and cancellations are built only then). */
  readonly listened: boolean;
  /** The host of the task contexts. */
  readonly host: ContextHost<Execution>;
  /** Emits an event. */
  note(event: DistributiveOmit<WorkflowEvent, "runId" | "time">): void;
  /** Whether the run has stopped. */
  stopped(): boolean;
  /** Records a failed attempt that is retried (the state counts the next attempt). */
  retrying(exec: Execution, error: Error): void;
  /** An attempt succeeded: the execution settles with `result`. */
  succeeded(exec: Execution, result: unknown): void;
  /** The execution failed for good. */
  failed(exec: Execution, error: Error): void;
}

/** Runs the attempts of a run's executions. */
export class Attempts {
  readonly #port: AttemptPort;
  readonly #obs: RunObserver | undefined;
  readonly #listened: boolean;

  /**
   * Creates the attempt runner of a run.
   *
   * @param port The run loop.
   */
  constructor(port: AttemptPort) {
    this.#port = port;
    this.#obs = port.observer;
    this.#listened = port.listened;
  }

  /**
   * Starts the current attempt of an execution (its handler is set).
   *
   * @param exec The execution.
   */
  start(exec: Execution): void {
    const attempt = exec.attempt;
    exec.ctx = new EngineTaskContext(this.#port.host, exec, exec.taskId, attempt, exec.cycle);
    exec.feedbackCalls = 0;
    if (this.#listened) {
      exec.started = performance.now();
      this.#port.note({
        type: "task.started",
        taskId: exec.taskId,
        attempt,
        cycle: exec.cycle,
        ...itemField(exec),
      });
    }
    const timeoutMs = exec.task.options.timeoutMs;
    if (timeoutMs !== undefined) {
      const clock = this.#port.clock;
      exec.deadline = clock.now() + timeoutMs;
      exec.timer = clock.setTimer(() => {
        if (exec.settled || exec.attempt !== attempt) return;
        const error = new TaskTimeoutError(exec.taskId, timeoutMs);
        exec.ctx.abort(error);
        this.#failed(exec, attempt, error);
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
      (result) => this.#ok(exec, attempt, result),
      (error) => this.#failed(exec, attempt, error),
    );
  }

  /**
   * Stops an execution its group or map no longer waits for: its timer, its attempt and its
   * retry wait abort; what it returns later is dropped.
   *
   * @param exec The execution (the state settled it already).
   * @param reason Why.
   */
  cancel(exec: Execution, reason: unknown): void {
    exec.timer?.clear();
    exec.timer = undefined;
    exec.ctx?.abort(reason);
    exec.retryWait?.abort(reason);
    this.#obs?.attemptEnded(exec, asError(reason));
    if (this.#listened) {
      this.#port.note({
        type: "task.cancelled",
        taskId: exec.taskId,
        attempt: exec.attempt,
        cycle: exec.cycle,
        reason,
        ...itemField(exec),
      });
    }
  }

  /** The handler call of an attempt, inside its trace context (out of line: the hot path stays small). */
  #observed(exec: Execution): unknown {
    return this.#obs!.attempt(exec, () => exec.handler!.execute(exec.task, exec.input, exec.ctx));
  }

  #ok(exec: Execution, attempt: number, result: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    if (exec.timer !== undefined) {
      exec.timer.clear();
      exec.timer = undefined;
      // A task that ran synchronous code past its deadline timed out, whatever it returned.
      if (this.#port.clock.now() > exec.deadline) {
        const error = new TaskTimeoutError(exec.taskId, exec.task.options.timeoutMs!);
        exec.ctx.abort(error);
        return this.#failed(exec, attempt, error);
      }
    }
    this.#obs?.attemptEnded(exec);
    if (this.#listened) {
      this.#port.note({
        type: "task.succeeded",
        taskId: exec.taskId,
        attempt,
        cycle: exec.cycle,
        durationMs: performance.now() - exec.started,
        ...itemField(exec),
      });
    }
    this.#port.succeeded(exec, result);
  }

  #failed(exec: Execution, attempt: number, raw: unknown): void {
    if (exec.settled || exec.attempt !== attempt) return;
    exec.timer?.clear();
    exec.timer = undefined;
    const port = this.#port;
    const error = asError(raw);
    const t = exec.task;
    const retryable = attempt <= t.retry.maxRetries && !port.stopped() && mayRetry(t.retry, error);
    if (this.#listened) {
      port.note({
        type: "task.failed",
        taskId: t.name,
        attempt,
        cycle: exec.cycle,
        error,
        ...itemField(exec),
        ...(attempt <= t.retry.maxRetries && !retryable && !port.stopped()
          ? { retryable: false }
          : {}),
      });
    }
    if (!retryable) {
      this.#obs?.attemptEnded(exec, error);
      return port.failed(exec, error);
    }
    const delayMs = retryDelay(t.retry, attempt - 1);
    port.note({
      type: "task.retried",
      taskId: t.name,
      attempt,
      delayMs,
      error,
      ...itemField(exec),
    });
    this.#obs?.attemptEnded(exec, error, delayMs);
    port.retrying(exec, error);
    // The wait ends early when the run stops or the execution is cancelled (its group or map
    // settled without it): a cancelled execution never starts another attempt.
    exec.retryWait ??= new AbortController();
    const wait = AbortSignal.any([port.signal, exec.retryWait.signal]);
    clockSleep(port.clock, delayMs, wait)
      .then(() => {
        if (exec.settled) return;
        if (port.stopped()) return port.failed(exec, error);
        this.start(exec);
      }, () => {
        if (!exec.settled) port.failed(exec, error);
      });
  }
}
