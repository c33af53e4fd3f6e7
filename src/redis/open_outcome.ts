/**
 * The producer's check of an outcome: sealed for the run and job it waits for, well formed, and
 * about that job. A forged, copied or malformed outcome is an error, never the task's result.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { Signer } from "./signing.ts";
import { type JobMessage, type OutcomeRecord, parseOutcomeRecord } from "./wire.ts";

/**
 * Opens an outcome.
 *
 * @param signer Checks the signature.
 * @param message The job the producer waits for.
 * @param sealed What arrived (untrusted).
 * @returns The outcome record.
 * @throws {WorkflowError} `BAD_SIGNATURE` when it was not sealed for this run and job (the message
 * quotes what an unauthenticated dead-letter notice says, which explains a wrong secret);
 * `BAD_OUTCOME` when it is malformed or about another job.
 */
export function openOutcome(signer: Signer, message: JobMessage, sealed: string): OutcomeRecord {
  const task = message.taskId;
  const opened = signer.check("outcome", message.runId, message.job, sealed);
  if (!("text" in opened)) {
    throw new WorkflowError(
      `Cannot accept the outcome of task "${task}": ${opened.problem} ` +
        `(do the workers use the same secret?)${unverifiedSay(opened.unverified, message.job)}`,
      { code: "BAD_SIGNATURE" },
    );
  }
  try {
    const record = parseOutcomeRecord(opened.text);
    if (record.job !== message.job) throw new TypeError(`it is the outcome of job ${record.job}`);
    return record;
  } catch (error) {
    throw new WorkflowError(
      `Cannot accept the outcome of task "${task}": ${(error as Error).message}`,
      { code: "BAD_OUTCOME", cause: error },
    );
  }
}

/** What an unauthenticated outcome says, for the error message (it may explain a wrong secret). */
function unverifiedSay(text: string | undefined, job: string): string {
  try {
    const r = parseOutcomeRecord(text);
    if (r.job === job && !r.outcome.ok) {
      return `; an unauthenticated message says: ${r.outcome.error.message.slice(0, 500)}`;
    }
  } catch { /* nothing to add */ }
  return "";
}
