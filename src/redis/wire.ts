/**
 * What crosses Redis between the producer and the workers: job messages (stream entries),
 * outcomes, context calls and their replies. JSON only. Every decoder here is strict: it reads
 * untrusted text, keeps only the fields it knows (fresh objects, so nothing else flows on), and
 * throws a `TypeError` naming the first field that is wrong. None of them imports anything: a
 * module URL in a message is only a hint that the worker's allowlist decides on.
 *
 * @module
 */
import type {
  ContextCall,
  RemoteDirectives,
  RemoteOutcome,
  RemoteTaskMessage,
} from "../context/remote_context.ts";
import type { ErrorRecord } from "../errors.ts";
import { parseTraceparent, type TraceCarrier } from "../observability/otel.ts";

/** Wire format version of job messages (2: signatures bound to prefix, run, job and kind). */
export const WIRE_VERSION = 2;

/** A task to run: the stream entry's `m` field (its `s` field is the HMAC signature). */
export interface JobMessage extends RemoteTaskMessage {
  /** Wire format version. */
  v: number;
  /** Unique id of this job (one attempt of one task execution). */
  job: string;
  /** Instance id of the producer waiting for the outcome (its wake channel). */
  replyTo: string;
  /** How long the run's bookkeeping keys written for this job live (the producer's retention). */
  retentionMs: number;
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
  /** W3C trace context of the span that made the call, when traced. */
  trace?: TraceCarrier;
}

/** The answer to a {@linkcode CallRecord}. */
export type ReplyRecord =
  | { ok: true; value: unknown }
  | { ok: false; error: ErrorRecord };

/** Ids (runs, jobs, calls, instances): what may appear in a Redis key or a wake payload. */
export const ID = /^[A-Za-z0-9_.:-]{1,200}$/;
const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;
const MAX_MODULE_LENGTH = 4096;
const MAX_TEXT = 64 * 1024;
/** Shortest and longest retention a job message may ask for (1 s to 10 years). */
export const RETENTION_RANGE = [1000, 10 * 365 * 86_400_000] as const;

type Obj = Record<string, unknown>;

function fail(what: string, field: string, problem: string): never {
  throw new TypeError(`Cannot decode the ${what}: field "${field}" ${problem}`);
}

function parseObject(what: string, text: unknown): Obj {
  if (typeof text !== "string") throw new TypeError(`Cannot decode the ${what}: it is not text`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`Cannot decode the ${what}: it is not JSON (${(error as Error).message})`);
  }
  return object(what, "(the message)", v);
}

function object(what: string, field: string, v: unknown): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    fail(what, field, "must be a JSON object");
  }
  return v as Obj;
}

function id(what: string, o: Obj, field: string): string {
  const v = o[field];
  if (typeof v !== "string" || !ID.test(v)) {
    fail(what, field, "must be 1-200 characters of [A-Za-z0-9_.:-]");
  }
  return v;
}

function text(what: string, o: Obj, field: string, optional = false): string | undefined {
  const v = o[field];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v.length > MAX_TEXT) fail(what, field, "must be a string");
  return v;
}

function flag(what: string, o: Obj, field: string, optional = false): boolean | undefined {
  const v = o[field];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "boolean") fail(what, field, "must be true or false");
  return v;
}

/** An optional W3C trace context (covered by the message's signature like every field). */
function traceField(what: string, o: Obj): { trace?: TraceCarrier } {
  const v = o.trace;
  if (v === undefined) return {};
  try {
    parseTraceparent(v);
  } catch (error) {
    fail(what, "trace", `is not a W3C trace context: ${(error as Error).message}`);
  }
  const t = v as TraceCarrier;
  return {
    trace: t.tracestate
      ? { traceparent: t.traceparent, tracestate: t.tracestate }
      : { traceparent: t.traceparent },
  };
}

function whole(what: string, o: Obj, field: string, min: number, max: number): number {
  const v = o[field];
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    fail(what, field, `must be a whole number from ${min} to ${max}`);
  }
  return v as number;
}

/**
 * Parses and checks a job message.
 *
 * @param raw The `m` field.
 * @returns The message (only the known fields).
 * @throws {TypeError} Naming what is wrong.
 */
export function parseJobMessage(raw: unknown): JobMessage {
  const w = "job message";
  const m = parseObject(w, raw);
  if (m.v !== WIRE_VERSION) {
    throw new TypeError(
      `Cannot decode the job message: unsupported message version ${
        JSON.stringify(m.v) ?? "undefined"
      } (this worker reads version ${WIRE_VERSION})`,
    );
  }
  const taskId = m.taskId;
  if (typeof taskId !== "string" || !TASK_NAME.test(taskId)) {
    fail(w, "taskId", "must be a task name ([A-Za-z_][A-Za-z0-9_.-]*, at most 200)");
  }
  const module = m.module;
  if (module !== undefined && (typeof module !== "string" || module.length > MAX_MODULE_LENGTH)) {
    fail(w, "module", `must be a string of at most ${MAX_MODULE_LENGTH} characters`);
  }
  if (!Object.hasOwn(m, "input")) fail(w, "input", "is missing");
  return {
    v: WIRE_VERSION,
    job: id(w, m, "job"),
    replyTo: id(w, m, "replyTo"),
    runId: id(w, m, "runId"),
    taskId,
    ...(module === undefined ? {} : { module }),
    input: m.input,
    attempt: whole(w, m, "attempt", 1, 1e9),
    cycle: whole(w, m, "cycle", 1, 1e9),
    retentionMs: whole(w, m, "retentionMs", RETENTION_RANGE[0], RETENTION_RANGE[1]),
    ...traceField(w, m),
  };
}

/**
 * Reads the run id, job id and producer of a message that may be malformed (to tell its
 * producer that it was dead-lettered).
 *
 * @param text The `m` field.
 * @returns What could be read.
 */
export function peekJob(text: string | undefined): Partial<JobMessage> {
  try {
    const m = JSON.parse(text ?? "");
    const ok = (v: unknown) => typeof v === "string" && ID.test(v);
    const name = typeof m?.taskId === "string" && TASK_NAME.test(m.taskId) ? m.taskId : "?";
    return ok(m?.runId) && ok(m?.job) && ok(m?.replyTo)
      ? { runId: m.runId, job: m.job, replyTo: m.replyTo, taskId: name }
      : {};
  } catch {
    return {};
  }
}

/**
 * Checks an error record (nested causes and group failures included).
 *
 * @param what The message, for errors.
 * @param v The record.
 * @param depth Nesting so far.
 * @returns A fresh record.
 * @throws {TypeError} Naming what is wrong.
 */
export function checkErrorRecord(what: string, v: unknown, depth = 0): ErrorRecord {
  if (depth > 8) fail(what, "error.cause", "is nested more than 8 deep");
  const o = object(what, "error", v);
  const record: ErrorRecord = {
    name: text(what, o, "name")!.slice(0, 200),
    message: text(what, o, "message")!,
  };
  const stack = text(what, o, "stack", true);
  if (stack !== undefined) record.stack = stack;
  const code = text(what, o, "code", true);
  if (code !== undefined) record.code = code;
  if (o.cause !== undefined) record.cause = checkErrorRecord(what, o.cause, depth + 1);
  if (o.props !== undefined) {
    const props = { ...object(what, "error.props", o.props) };
    if (props.failed !== undefined) {
      if (!Array.isArray(props.failed)) fail(what, "error.props.failed", "must be a list");
      props.failed = props.failed.map((f) => {
        const fo = object(what, "error.props.failed[]", f);
        return {
          taskId: text(what, fo, "taskId"),
          error: checkErrorRecord(what, fo.error, depth + 1),
        };
      });
    }
    record.props = props;
  }
  return record;
}

function checkDirectives(what: string, v: unknown): RemoteDirectives {
  const o = object(what, "directives", v);
  const out: RemoteDirectives = {};
  if (o.next !== undefined) {
    if (!Array.isArray(o.next) || o.next.length > 10_000) {
      fail(what, "directives.next", "must be a list");
    }
    // Tasks by name only: a module URL in an outcome is dropped, never imported.
    out.next = o.next.map((n) => {
      const no = object(what, "directives.next[]", n);
      const task = no.task;
      if (typeof task !== "string" || !TASK_NAME.test(task)) {
        fail(what, "directives.next[].task", "must be a task name");
      }
      const hasInput = flag(what, no, "hasInput")!;
      const goto = flag(what, no, "goto", true);
      return {
        task,
        hasInput,
        ...(hasInput ? { input: no.input } : {}),
        ...(goto === undefined ? {} : { goto }),
      };
    });
  }
  if (o.iterate !== undefined) {
    const it = object(what, "directives.iterate", o.iterate);
    const hasInput = flag(what, it, "hasInput")!;
    out.iterate = hasInput ? { hasInput, input: it.input } : { hasInput };
  }
  if (o.map !== undefined) {
    // By name only, like ctx.next; items, policy and bound are checked again on the host.
    const m = object(what, "directives.map", o.map);
    if (typeof m.task !== "string" || !TASK_NAME.test(m.task)) {
      fail(what, "directives.map.task", "must be a task name");
    }
    if (!Object.hasOwn(m, "items")) fail(what, "directives.map.items", "is missing");
    const policy = m.policy === undefined
      ? undefined
      : object(what, "directives.map.policy", m.policy);
    if (m.concurrency !== undefined && typeof m.concurrency !== "number") {
      fail(what, "directives.map.concurrency", "must be a number");
    }
    out.map = {
      task: m.task,
      items: m.items,
      ...(policy ? { policy: policy as never } : {}),
      ...(m.concurrency !== undefined ? { concurrency: m.concurrency as number } : {}),
    };
  }
  for (const key of ["terminate", "cancel"] as const) {
    if (o[key] === undefined) continue;
    const r = object(what, `directives.${key}`, o[key]);
    const reason = text(what, r, "reason", true);
    out[key] = reason === undefined ? {} : { reason };
  }
  if (o.checkpoints !== undefined) {
    if (!Array.isArray(o.checkpoints) || o.checkpoints.length > 1000) {
      fail(what, "directives.checkpoints", "must be a list");
    }
    out.checkpoints = o.checkpoints.map((c) => {
      const co = object(what, "directives.checkpoints[]", c);
      const path = text(what, co, "path", true);
      const deferred = flag(what, co, "deferred", true);
      const metadata = co.metadata === undefined
        ? undefined
        : object(what, "directives.checkpoints[].metadata", co.metadata);
      return {
        ...(path === undefined ? {} : { path }),
        ...(deferred === undefined ? {} : { deferred }),
        ...(metadata === undefined ? {} : { metadata }),
      };
    });
  }
  return out;
}

function checkOutcome(what: string, v: unknown): RemoteOutcome {
  const o = object(what, "outcome", v);
  if (o.ok === true) {
    if (!Object.hasOwn(o, "value")) fail(what, "outcome.value", "is missing");
    return o.directives === undefined
      ? { ok: true, value: o.value }
      : { ok: true, value: o.value, directives: checkDirectives(what, o.directives) };
  }
  if (o.ok === false) return { ok: false, error: checkErrorRecord(what, o.error) };
  return fail(what, "outcome.ok", "must be true or false");
}

/**
 * Parses and checks an outcome record.
 *
 * @param raw The record's JSON.
 * @returns The record (only the known fields; `module` of `next` directives dropped).
 * @throws {TypeError} Naming what is wrong.
 */
export function parseOutcomeRecord(raw: unknown): OutcomeRecord {
  const w = "outcome";
  const o = parseObject(w, raw);
  const deadLetter = o.deadLetter;
  if (deadLetter !== undefined && typeof deadLetter !== "string") {
    fail(w, "deadLetter", "must be a string");
  }
  return {
    job: id(w, o, "job"),
    worker: id(w, o, "worker"),
    outcome: checkOutcome(w, o.outcome),
    ...(deadLetter === undefined ? {} : { deadLetter: deadLetter.slice(0, MAX_TEXT) }),
  };
}

const CALL_OPS = new Set(["channel", "result", "checkpoint", "requestFeedback"]);

/**
 * Parses and checks a context call record.
 *
 * @param raw The record's JSON.
 * @returns The record (only the known fields).
 * @throws {TypeError} Naming what is wrong.
 */
export function parseCallRecord(raw: unknown): CallRecord {
  const w = "context call";
  const o = parseObject(w, raw);
  const c = object(w, "call", o.call);
  if (typeof c.op !== "string" || !CALL_OPS.has(c.op)) {
    fail(w, "call.op", `must be one of ${[...CALL_OPS].join(", ")}`);
  }
  let call: ContextCall;
  if (c.op === "channel") {
    if (!Array.isArray(c.args) || c.args.length > 3) fail(w, "call.args", "must be a short list");
    call = { op: "channel", method: text(w, c, "method") as never, args: [...c.args] };
  } else if (c.op === "result") {
    call = { op: "result", taskId: text(w, c, "taskId")! };
  } else if (c.op === "checkpoint") {
    call = { op: "checkpoint", options: { ...object(w, "call.options", c.options) } };
  } else {
    call = { op: "requestFeedback", request: object(w, "call.request", c.request) as never };
  }
  return {
    id: id(w, o, "id"),
    job: id(w, o, "job"),
    replyTo: id(w, o, "replyTo"),
    call,
    ...traceField(w, o),
  };
}

/**
 * Parses and checks a reply record.
 *
 * @param raw The record's JSON.
 * @returns The record (only the known fields).
 * @throws {TypeError} Naming what is wrong.
 */
export function parseReplyRecord(raw: unknown): ReplyRecord {
  const w = "reply";
  const o = parseObject(w, raw);
  if (o.ok === true) {
    if (!Object.hasOwn(o, "value")) fail(w, "value", "is missing");
    return { ok: true, value: o.value };
  }
  if (o.ok === false) return { ok: false, error: checkErrorRecord(w, o.error) };
  return fail(w, "ok", "must be true or false");
}
