/**
 * What crosses Redis between the producer and the workers: job messages (stream entries),
 * outcomes, context calls and their replies. JSON only; every record is checked when read.
 *
 * @module
 */
import type { ContextCall, RemoteOutcome, RemoteTaskMessage } from "../context/remote_context.ts";
import type { ErrorRecord } from "../errors.ts";

/** Wire format version of job messages. */
export const WIRE_VERSION = 1;

/** A task to run: the stream entry's `m` field (its `s` field is the HMAC signature). */
export interface JobMessage extends RemoteTaskMessage {
  /** Wire format version. */
  v: number;
  /** Unique id of this job (one attempt of one task execution). */
  job: string;
  /** Instance id of the producer waiting for the outcome (its wake channel). */
  replyTo: string;
}

/** An outcome as stored in the run's outcomes hash and published to the producer. */
export interface OutcomeRecord {
  /** The job. */
  job: string;
  /** The worker that produced it. */
  worker: string;
  /** The outcome. */
  outcome: RemoteOutcome;
  /** Set when the job was dead-lettered: the reason. */
  deadLetter?: string;
}

/** A call from a task on a worker to its run (`ctx.result`, immediate checkpoints, feedback). */
export interface CallRecord {
  /** Unique call id. */
  id: string;
  /** The job that calls. */
  job: string;
  /** Instance id of the worker waiting for the reply. */
  replyTo: string;
  /** The call. */
  call: ContextCall;
}

/** The answer to a {@linkcode CallRecord}. */
export type ReplyRecord =
  | { ok: true; value: unknown }
  | { ok: false; error: ErrorRecord };

const ID = /^[A-Za-z0-9_.:-]{1,200}$/;

/**
 * Parses and checks a job message.
 *
 * @param text The `m` field.
 * @returns The message.
 * @throws {TypeError} Naming what is wrong.
 */
export function parseJobMessage(text: string): JobMessage {
  let m: Partial<JobMessage>;
  try {
    m = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`the message is not JSON: ${(error as Error).message}`);
  }
  if (!m || typeof m !== "object" || Array.isArray(m)) {
    throw new TypeError("the message is not a JSON object");
  }
  if (m.v !== WIRE_VERSION) {
    throw new TypeError(`unsupported message version ${JSON.stringify(m.v)}`);
  }
  for (const field of ["job", "replyTo", "runId", "taskId"] as const) {
    if (typeof m[field] !== "string" || !ID.test(m[field] as string)) {
      throw new TypeError(`field "${field}" is missing or malformed`);
    }
  }
  if (m.module !== undefined && typeof m.module !== "string") {
    throw new TypeError('field "module" must be a string');
  }
  for (const field of ["attempt", "cycle"] as const) {
    if (!Number.isInteger(m[field]) || (m[field] as number) < 1) {
      throw new TypeError(`field "${field}" must be a whole number >= 1`);
    }
  }
  if (!("input" in m)) throw new TypeError('field "input" is missing');
  return m as JobMessage;
}

/**
 * Reads the run id and job id of a message that may be malformed (to tell its producer).
 *
 * @param text The `m` field.
 * @returns What could be read.
 */
export function peekJob(text: string | undefined): Partial<JobMessage> {
  try {
    const m = JSON.parse(text ?? "");
    const ok = (v: unknown) => typeof v === "string" && ID.test(v);
    return ok(m?.runId) && ok(m?.job) && ok(m?.replyTo)
      ? { runId: m.runId, job: m.job, replyTo: m.replyTo, taskId: String(m.taskId ?? "?") }
      : {};
  } catch {
    return {};
  }
}
