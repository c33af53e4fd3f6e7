/**
 * The checks a queue entry passes before its task runs; an entry that fails one is poison and
 * goes to the dead-letter stream with the reason.
 *
 * @module
 */
import { fromJsonTree } from "../channels/codec.ts";
import { toErrorRecord, WorkflowError } from "../errors.ts";
import { getTask, resolveTask } from "../graph/task.ts";
import { seal, verify } from "../redis/signing.ts";
import type { QueueEntry } from "../redis/task_queue.ts";
import { type JobMessage, type OutcomeRecord, parseJobMessage, peekJob } from "../redis/wire.ts";

/** What the checks need to know. */
export interface AdmitOptions {
  /** HMAC secret; entries must be signed with it when set. */
  secret?: string;
  /** Deliveries without an outcome after which an entry is poison. */
  maxDeliveries: number;
  /** URL prefixes of modules that may be imported on demand. */
  allowImport: string[];
}

/**
 * Checks an entry: signature, message format, delivery count, module allowed and importable,
 * task known, input decodable.
 *
 * @param entry The queue entry.
 * @param o Secret, delivery limit, allowed modules.
 * @returns The job message, or the reason the entry is poison.
 */
export async function admitEntry(
  entry: QueueEntry,
  o: AdmitOptions,
): Promise<{ message: JobMessage } | { poison: string }> {
  const m = entry.fields.m;
  if (m === undefined) return { poison: "the entry has no message (field m)" };
  if (o.secret && !verify(m, entry.fields.s, o.secret)) {
    return {
      poison: entry.fields.s
        ? "the message signature does not match (tampered, or signed with another secret)"
        : "the message is not signed and this worker requires signed messages",
    };
  }
  let message: JobMessage;
  try {
    message = parseJobMessage(m);
  } catch (error) {
    return { poison: `the message cannot be decoded: ${(error as Error).message}` };
  }
  if (entry.deliveries > o.maxDeliveries) {
    return {
      poison: `the task was delivered ${entry.deliveries} times without an outcome ` +
        `(maxDeliveries ${o.maxDeliveries}): it may crash its worker`,
    };
  }
  const module = message.module;
  if (module && !getTask(message.taskId) && !o.allowImport.some((p) => module.startsWith(p))) {
    return {
      poison: `module ${module} may not be imported (allowed: ${o.allowImport.join(", ")})`,
    };
  }
  try {
    await resolveTask(message.taskId, module);
  } catch (error) {
    return { poison: (error as Error).message };
  }
  try {
    fromJsonTree(message.input);
  } catch (error) {
    return { poison: `the input cannot be decoded: ${(error as Error).message}` };
  }
  return { message };
}

/**
 * The failed outcome that tells a producer its job was dead-lettered (when the entry names one).
 *
 * @param entry The poison entry.
 * @param reason Why it is poison.
 * @param workerId The worker.
 * @param secret HMAC secret for the outcome.
 * @returns Run, job, producer and sealed outcome; undefined when the entry names no job.
 */
export function deadLetterNotice(
  entry: QueueEntry,
  reason: string,
  workerId: string,
  secret: string | undefined,
): { runId: string; job: string; replyTo: string; sealed: string } | undefined {
  const peek = peekJob(entry.fields.m);
  if (!peek.job || !peek.runId || !peek.replyTo) return undefined;
  const error = new WorkflowError(
    `Cannot run task "${peek.taskId}": worker ${workerId} dead-lettered it: ${reason}`,
    { code: "DEAD_LETTERED" },
  );
  const record: OutcomeRecord = {
    job: peek.job,
    worker: workerId,
    outcome: { ok: false, error: toErrorRecord(error) },
    deadLetter: reason,
  };
  return {
    runId: peek.runId,
    job: peek.job,
    replyTo: peek.replyTo,
    sealed: seal(JSON.stringify(record), secret),
  };
}
