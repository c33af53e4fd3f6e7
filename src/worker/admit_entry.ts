/**
 * The checks a queue entry passes before its task runs. An entry that fails one is either
 * poison (it goes to the dead-letter stream with the reason, and its producer is told) or a
 * replay (acknowledged and dropped: its job already ran or runs from another entry).
 *
 * Order: the message decodes; its signature verifies for its prefix, run and job; it was not
 * delivered too often; its input decodes; its job is the run's and has no outcome yet (a Redis
 * step that also drops a replayed entry); its task is registered, or its module is allowed and
 * defines it. Nothing is imported unless the operator's allowlist permits it.
 *
 * @module
 */
import { fromJsonTree } from "../channels/codec.ts";
import { WorkflowError } from "../errors.ts";
import { getTask, type Task } from "../graph/task.ts";
import type { Signer } from "../redis/signing.ts";
import type { Admission, QueueEntry } from "../redis/task_queue.ts";
import { type JobMessage, type OutcomeRecord, parseJobMessage, peekJob } from "../redis/wire.ts";
import { DEFAULT_RETENTION_MS } from "../redis/retention.ts";
import { safeErrorRecord } from "../redis/safe_outcome.ts";
import type { ModuleAllowlist } from "./module_allowlist.ts";

/** What the checks need. */
export interface AdmitContext {
  /** Checks job signatures. */
  signer: Signer;
  /** Deliveries without an outcome after which an entry is poison. */
  maxDeliveries: number;
  /** Modules that may be imported on demand. */
  allowlist: ModuleAllowlist;
  /** This worker's id, for messages. */
  workerId: string;
  /** The Redis step: may this entry run its job? (drops it when not) */
  admit(entryId: string, message: JobMessage): Promise<Admission>;
  /** Reports details that must stay out of Redis (e.g. why a module failed to import). */
  log(message: string): void;
}

/** What {@linkcode admitEntry} decided. */
export type Admitted =
  | { message: JobMessage; task: Task }
  | { poison: string; verified?: JobMessage }
  | { drop: string; message: JobMessage };

/**
 * Checks an entry.
 *
 * @param entry The queue entry (untrusted).
 * @param c Signer, limits, allowlist, the Redis admission step.
 * @returns The job and its task; or why the entry is poison (with the message when it was
 * authentic); or why it is dropped as a replay.
 */
export async function admitEntry(entry: QueueEntry, c: AdmitContext): Promise<Admitted> {
  const m = entry.fields.m;
  if (m === undefined) return { poison: "the entry has no message (field m)" };
  let message: JobMessage;
  try {
    message = parseJobMessage(m);
  } catch (error) {
    return { poison: `the message cannot be decoded: ${(error as Error).message}` };
  }
  if (!c.signer.verify("job", message.runId, message.job, m, entry.fields.s)) {
    return {
      poison: entry.fields.s
        ? "the message signature does not match (tampered, copied from another prefix, or " +
          "signed with another secret)"
        : "the message is not signed and this worker requires signed messages",
    };
  }
  if (entry.deliveries > c.maxDeliveries) {
    return {
      poison: `the task was delivered ${entry.deliveries} times without an outcome ` +
        `(maxDeliveries ${c.maxDeliveries}): it may crash its worker`,
      verified: message,
    };
  }
  try {
    fromJsonTree(message.input);
  } catch (error) {
    return {
      poison: `the input cannot be decoded: ${(error as Error).message}`,
      verified: message,
    };
  }
  // Checked already by the step that reserved the entry, for this very run and job.
  const verdict = entry.passed === `${message.runId}\n${message.job}`
    ? "ok"
    : await c.admit(entry.id, message);
  if (verdict !== "ok") {
    const why = verdict === "done"
      ? "its job already has an outcome"
      : verdict === "copy"
      ? "its job was enqueued as another entry (this one is a copy)"
      : "its run does not know its job (forged, or the run is over)";
    return { drop: why, message };
  }
  const found = await findTask(message, c);
  return typeof found === "string"
    ? { poison: found, verified: message }
    : { message, task: found };
}

/** The task of a job: registered, or defined by an allowed module (imported now). */
async function findTask(message: JobMessage, c: AdmitContext): Promise<Task | string> {
  const name = message.taskId;
  const registered = getTask(name);
  if (registered) return registered;
  const notHere = `task "${name}" is not registered on worker ${c.workerId} ` +
    `(start the worker with --module <the module that defines it>)`;
  if (!message.module) return notHere;
  const verdict = await c.allowlist.check(message.module);
  if ("refused" in verdict) {
    return `${notHere}, and its module ${message.module} may not be imported: ${verdict.refused}`;
  }
  try {
    await import(verdict.url);
  } catch (error) {
    // The error may quote the file: it goes to the worker's log, not into Redis.
    let detail: string;
    try {
      detail = String((error as Error)?.message ?? error);
    } catch {
      detail = "(unreadable error)";
    }
    c.log(`Importing module ${verdict.url} for task "${name}" failed: ${detail}`);
    const kind = error instanceof Error ? error.name : typeof error;
    return `${notHere}, and importing its module ${verdict.url} failed (${kind}; ` +
      `the worker's log has the details)`;
  }
  return getTask(name) ?? `${notHere}, and its module ${verdict.url} does not define it`;
}

/**
 * The failed outcome that tells a producer its job was dead-lettered (when the entry names one).
 * It is signed only when the entry was authentic: a forged entry never gets a signed outcome.
 *
 * @param entry The poison entry.
 * @param reason Why it is poison.
 * @param workerId The worker.
 * @param signer Signs the outcome.
 * @param verified The entry's message, when its signature verified.
 * @returns Run, job, producer, sealed outcome and how long to keep it; undefined when the entry
 * names no job.
 */
export function deadLetterNotice(
  entry: QueueEntry,
  reason: string,
  workerId: string,
  signer: Signer,
  verified: JobMessage | undefined,
): { runId: string; job: string; replyTo: string; sealed: string; keepMs: number } | undefined {
  const peek = verified ?? peekJob(entry.fields.m);
  if (!peek.job || !peek.runId || !peek.replyTo) return undefined;
  const error = new WorkflowError(
    `Cannot run task "${peek.taskId}": worker ${workerId} dead-lettered it: ${reason}`,
    { code: "DEAD_LETTERED" },
  );
  const record: OutcomeRecord = {
    job: peek.job,
    worker: workerId,
    outcome: { ok: false, error: safeErrorRecord(error) },
    deadLetter: reason,
  };
  const text = JSON.stringify(record);
  return {
    runId: peek.runId,
    job: peek.job,
    replyTo: peek.replyTo,
    sealed: verified ? signer.seal("outcome", peek.runId, peek.job, text) : `|${text}`,
    keepMs: verified?.retentionMs ?? DEFAULT_RETENTION_MS,
  };
}
