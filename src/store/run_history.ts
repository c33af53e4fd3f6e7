/**
 * A recorded run's task attempts with their timings, read from its journal (for `graflow runs
 * show`, the HTTP API and the dashboard): no flow needed, nothing runs.
 *
 * @module
 */
import type { ErrorRecord } from "../errors.ts";
import type { JournalEntry } from "./run_store.ts";

/** One attempt of one task execution. */
export interface TaskAttempt {
  /** The execution's number in the run. */
  step: number;
  /** The task. */
  taskId: string;
  /** 1-based attempt. */
  attempt: number;
  /** When it started (epoch ms). */
  startedAt: number;
  /** When it ended (epoch ms), unless it is still running. */
  endedAt?: number;
  /** How it ended. */
  status: "running" | "succeeded" | "failed" | "retried";
  /** What it threw, when it failed or was retried. */
  error?: ErrorRecord;
}

interface Tr {
  t: string;
  step?: number;
  task?: string;
  attempt?: number;
  error?: ErrorRecord;
}

/**
 * The attempts of a run, in start order.
 *
 * @param entries Its journal entries, in order (all of them, from the first).
 * @returns The attempts.
 */
export function taskAttempts(entries: readonly JournalEntry[]): TaskAttempt[] {
  const out: TaskAttempt[] = [];
  const current = new Map<number, TaskAttempt>();
  const last = new Map<number, TaskAttempt>();
  let retriedAt: number | undefined;
  for (const e of entries) {
    const tr = e.tr as Tr;
    if (tr?.t === "retried") retriedAt = e.at; // a failed run continued: its tasks run again
    if (typeof tr?.step !== "number" || tr.step <= 0) continue;
    let open = current.get(tr.step);
    const ended = last.get(tr.step);
    if (!open && ended && retriedAt !== undefined && (tr.t === "ok" || tr.t === "fail")) {
      open = {
        step: tr.step,
        taskId: ended.taskId,
        attempt: ended.attempt + 1,
        startedAt: retriedAt,
        status: "running",
      };
      out.push(open);
    }
    switch (tr.t) {
      case "take": {
        const a: TaskAttempt = {
          step: tr.step,
          taskId: String(tr.task ?? "?"),
          attempt: 1,
          startedAt: e.at,
          status: "running",
        };
        out.push(a);
        current.set(tr.step, a);
        last.set(tr.step, a);
        break;
      }
      case "retry":
        if (open) {
          open.status = "retried";
          open.endedAt = e.at;
          if (tr.error) open.error = tr.error;
          const next: TaskAttempt = {
            step: tr.step,
            taskId: open.taskId,
            attempt: tr.attempt ?? open.attempt + 1,
            startedAt: e.at,
            status: "running",
          };
          out.push(next);
          current.set(tr.step, next);
          last.set(tr.step, next);
        }
        break;
      case "ok":
      case "fail":
        if (open) {
          open.status = tr.t === "ok" ? "succeeded" : "failed";
          open.endedAt = e.at;
          if (tr.error) open.error = tr.error;
          current.delete(tr.step);
          last.set(tr.step, open);
        }
        break;
    }
  }
  return out;
}
