/**
 * Rebuilding a run state from its recorded transitions, one at a time: each transition is
 * applied through the same `RunState` method that made it in the live run.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { ExecState } from "./exec_state.ts";
import type { RunState } from "./run_state.ts";
import type { Transition } from "./run_state_data.ts";

/** Applies recorded transitions to a run state. */
export class Replay<E extends ExecState> {
  /** The state being rebuilt. */
  readonly state: RunState<E>;
  /** Executions started by replayed `take`s that have no outcome yet, by step. */
  readonly #running = new Map<number, E>();

  /**
   * Starts replaying onto `state` (new, or rebuilt from data).
   *
   * @param state The state.
   */
  constructor(state: RunState<E>) {
    this.state = state;
    for (const exec of state.running) this.#running.set(exec.step, exec);
  }

  #exec(tr: Transition & { step: number }): E {
    const found = this.#running.get(tr.step);
    if (!found) {
      throw new WorkflowError(
        `Cannot apply transition "${tr.t}": execution ${tr.step} is not running`,
        { code: "JOURNAL_MISMATCH" },
      );
    }
    return found;
  }

  /**
   * Applies one transition. Executions started by `take` stay running until their outcome is
   * applied; `toData()` lists them as pending.
   *
   * @param tr The transition.
   * @throws {WorkflowError} `JOURNAL_MISMATCH` when the transition does not fit the state.
   */
  apply(tr: Transition): void {
    const state = this.state;
    switch (tr.t) {
      case "begin":
        return state.begin(tr.input);
      case "take": {
        const e = state.take();
        if ((e?.step ?? 0) !== tr.step || (tr.task !== undefined && e?.task.name !== tr.task)) {
          throw new WorkflowError(
            `Cannot apply transition "take": expected ${
              tr.step ? `execution ${tr.step}${tr.task ? ` of "${tr.task}"` : ""}` : "a limit"
            }, got ${e ? `execution ${e.step} of "${e.task.name}"` : "none"}`,
            { code: "JOURNAL_MISMATCH" },
          );
        }
        if (e) this.#running.set(e.step, e);
        return;
      }
      case "ok": {
        const e = this.#exec(tr);
        this.#running.delete(tr.step);
        return state.succeeded(e, tr.result, tr.directives);
      }
      case "fail": {
        const e = this.#exec(tr);
        this.#running.delete(tr.step);
        return state.failed(e, tr.error);
      }
      case "retry": {
        const e = this.#exec(tr);
        e.attempt = tr.attempt - 1;
        return state.retry(e);
      }
      case "feedback":
        return state.feedbackRequested(this.#exec(tr), tr.id);
      case "checkpoint":
        return state.checkpointWritten(tr.path);
      case "halt":
        state.halt(tr.stop);
        return;
      case "retried":
        throw new WorkflowError(
          'Cannot apply transition "retried" one at a time: replay the journal through linearJournal()',
          { code: "JOURNAL_MISMATCH" },
        );
    }
  }
}

/**
 * A journal with its retries resolved: each `retried` entry undoes the failure before it (the
 * transition that failed the run, and the failures and stops after it), so that the list
 * applies in order with {@linkcode Replay.apply}.
 *
 * @param make Makes a new replay onto the state the journal starts from.
 * @param transitions The journal, in order.
 * @returns The transitions to apply.
 */
export function linearJournal<E extends ExecState>(
  make: () => Replay<E>,
  transitions: Transition[],
): Transition[] {
  if (!transitions.some((tr) => tr.t === "retried")) return transitions;
  let out: Transition[] = [];
  for (const tr of transitions) {
    if (tr.t === "retried") out = undoFailure(make, out);
    else out.push(tr);
  }
  return out;
}

/** The transitions without the failure that stopped the run, and the failures after it. */
function undoFailure<E extends ExecState>(
  make: () => Replay<E>,
  transitions: Transition[],
): Transition[] {
  const keep = (tr: Transition) => !(tr.t === "halt" && tr.stop.kind === "waiting");
  const probe = make();
  let failedAt = -1;
  for (let i = 0; i < transitions.length && failedAt < 0; i++) {
    if (!keep(transitions[i])) continue;
    probe.apply(transitions[i]);
    if (probe.state.stop?.kind === "failed") failedAt = i;
  }
  if (failedAt < 0) return transitions;
  return transitions.filter((tr, i) =>
    !(i >= failedAt && (tr.t === "fail" || tr.t === "halt" || i === failedAt))
  );
}

/**
 * Rebuilds a run from its journal to continue it in another process: applies every
 * transition, except the stop that ended the run as waiting for feedback (the asking task runs
 * again and finds the answer), or, to retry a failed run, the transition that failed it and the
 * failures and stops after it (those tasks run again; completed results are kept).
 *
 * @param make Makes a new replay onto the state the journal starts from (called twice to retry:
 * once to find the failure, once to rebuild without it).
 * @param transitions The journal after that state, in order.
 * @param retry Continue a failed run from its failed tasks.
 * @returns The replay onto the state to continue.
 */
export function replayToContinue<E extends ExecState>(
  make: () => Replay<E>,
  transitions: Transition[],
  retry: boolean,
): Replay<E> {
  let list = linearJournal(make, transitions);
  if (retry) list = undoFailure(make, list);
  const replay = make();
  for (const tr of list) {
    if (!(tr.t === "halt" && tr.stop.kind === "waiting")) replay.apply(tr);
  }
  return replay;
}
