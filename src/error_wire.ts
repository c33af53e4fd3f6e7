/**
 * The mechanics behind `toErrorRecord` and `fromErrorRecord` (`src/errors.ts`): errors as
 * bounded JSON data and back, without ever throwing. What a task throws may be a revoked
 * `Proxy`, an `Error` whose getters throw, a cyclic cause chain or a message of hundreds of
 * megabytes; what arrives from a Web Worker, a container or Redis may be any JSON at all. Both
 * directions read defensively, follow causes and group failures at most
 * {@linkcode MAX_ERROR_DEPTH} levels and {@linkcode MAX_ERROR_RECORDS} records deep, cut texts to
 * bounded lengths, and never copy keys such as `__proto__` or `constructor`.
 *
 * @module
 */
import {
  MAX_MESSAGE_CHARS,
  MAX_NAME_CHARS,
  MAX_STACK_CHARS,
  preview,
  safeString,
  truncate,
  tryGet,
} from "./safe_text.ts";

/** An error as plain JSON data, safe to send across a process boundary. */
export interface ErrorRecord {
  /** `error.name`, used to pick the class on the other side. */
  name: string;
  /** `error.message`. */
  message: string;
  /** `error.stack`, if any. */
  stack?: string;
  /** `error.code`, if any. */
  code?: string;
  /** The cause, recursively. */
  cause?: ErrorRecord;
  /** Other own enumerable data properties (taskId, groupId, …) that are JSON. */
  props?: Record<string, unknown>;
}

/** What the codec needs from the error classes (kept in `src/errors.ts`). */
export interface ErrorWireHooks {
  /** A thrown value that is not an `Error`, as an error holding its JSON form. */
  nonError(value: unknown): Error;
  /** A thrown value that cannot even be inspected (a revoked `Proxy`). */
  unreadable(): Error;
  /** The class to rebuild an error named `name` with. */
  classOf(name: string): new (...args: never[]) => Error;
  /** The error that stands for a malformed record. */
  bad(why: string): Error;
}

/** How deep causes (and group failures) are followed. */
export const MAX_ERROR_DEPTH = 8;
/** Most error records made or rebuilt for one error (causes and group failures included). */
export const MAX_ERROR_RECORDS = 256;
/** Most extra properties kept per error. */
const MAX_PROPS = 64;
/** Longest JSON text of one extra property. */
const MAX_PROP_CHARS = 65_536;
/** Keys never copied from or onto an error. */
const RESERVED = new Set([
  "name",
  "message",
  "stack",
  "code",
  "cause",
  "__proto__",
  "constructor",
  "prototype",
]);

interface Budget {
  left: number;
  readonly seen: Set<unknown>;
}

/**
 * Any thrown value as an {@linkcode ErrorRecord}. Never throws.
 *
 * @param raw What was thrown.
 * @param depth Its depth in a cause chain.
 * @param hooks The error classes.
 * @returns The record.
 */
export function encodeError(raw: unknown, depth: number, hooks: ErrorWireHooks): ErrorRecord {
  try {
    return recordOf(raw, depth, { left: MAX_ERROR_RECORDS, seen: new Set() }, hooks);
  } catch {
    return { name: "Error", message: "(an error that could not be read)" };
  }
}

function recordOf(raw: unknown, depth: number, budget: Budget, hooks: ErrorWireHooks): ErrorRecord {
  budget.left--;
  budget.seen.add(raw);
  let e: Error;
  try {
    e = raw instanceof Error ? raw : hooks.nonError(raw);
  } catch {
    e = hooks.unreadable();
  }
  const name = tryGet(e, "name");
  const message = tryGet(e, "message");
  const record: ErrorRecord = {
    name: name.ok && name.value !== undefined ? safeString(name.value, MAX_NAME_CHARS) : "Error",
    message: message.ok ? safeString(message.value ?? "") : "(the error's message cannot be read)",
  };
  const stack = tryGet(e, "stack");
  if (stack.ok && typeof stack.value === "string" && stack.value) {
    record.stack = truncate(stack.value, MAX_STACK_CHARS);
  }
  const code = tryGet(e, "code");
  if (code.ok && typeof code.value === "string") record.code = truncate(code.value, MAX_NAME_CHARS);
  const cause = tryGet(e, "cause");
  if (
    cause.ok && cause.value !== undefined && depth < MAX_ERROR_DEPTH && budget.left > 0 &&
    !budget.seen.has(cause.value)
  ) {
    record.cause = recordOf(cause.value, depth + 1, budget, hooks);
  }
  const props = propsOf(e, depth, budget, hooks);
  if (props) record.props = props;
  return record;
}

function propsOf(
  e: Error,
  depth: number,
  budget: Budget,
  hooks: ErrorWireHooks,
): Record<string, unknown> | undefined {
  let keys: string[];
  try {
    keys = Object.keys(e);
  } catch {
    return undefined;
  }
  let props: Record<string, unknown> | undefined;
  let kept = 0;
  for (const key of keys) {
    if (RESERVED.has(key)) continue;
    if (kept++ >= MAX_PROPS) break;
    const read = tryGet(e, key);
    if (!read.ok) continue;
    const value = key === "failed" && isArraySafe(read.value)
      ? read.value.slice(0, MAX_ERROR_RECORDS).map((f) => {
        const taskId = tryGet(f, "taskId");
        const error = tryGet(f, "error");
        return {
          taskId: taskId.ok ? safeString(taskId.value, MAX_NAME_CHARS) : "?",
          error: depth < MAX_ERROR_DEPTH && budget.left > 0 && error.ok
            ? recordOf(error.value, depth + 1, budget, hooks)
            : { name: "Error", message: "(not recorded: too many nested errors)" },
        };
      })
      : jsonSafe(read.value);
    Object.defineProperty(props ??= {}, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return props;
}

function isArraySafe(value: unknown): value is unknown[] {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Rebuilds an error from anything claiming to be an {@linkcode ErrorRecord}. Never throws.
 *
 * @param record The record (any value).
 * @param hooks The error classes.
 * @returns The error.
 */
export function decodeError(record: unknown, hooks: ErrorWireHooks): Error {
  try {
    return rebuild(record, 0, { left: MAX_ERROR_RECORDS, seen: new Set() }, hooks);
  } catch (error) {
    return hooks.bad(
      `it could not be rebuilt (${
        safeString(tryGet(error, "message").ok ? (error as Error).message : error, 200)
      })`,
    );
  }
}

function rebuild(record: unknown, depth: number, budget: Budget, hooks: ErrorWireHooks): Error {
  budget.left--;
  if (!isObject(record)) return hooks.bad(`expected an object, got ${preview(record, 100)}`);
  const name = typeof record.name === "string" ? truncate(record.name, MAX_NAME_CHARS) : "Error";
  const message = typeof record.message === "string"
    ? truncate(record.message, MAX_MESSAGE_CHARS)
    : "";
  const error = Object.create(hooks.classOf(name).prototype) as Error;
  const define = (key: string, value: unknown, enumerable = false) =>
    Object.defineProperty(error, key, { value, enumerable, writable: true, configurable: true });
  define("message", message);
  // Engine errors set `name` on the instance, so the prototype's name ("Error") is not theirs.
  if (error.name !== name) define("name", name);
  define(
    "stack",
    typeof record.stack === "string"
      ? truncate(record.stack, MAX_STACK_CHARS)
      : `${name}: ${message}`,
  );
  if (typeof record.code === "string") define("code", truncate(record.code, MAX_NAME_CHARS), true);
  if (record.cause !== undefined && depth < MAX_ERROR_DEPTH && budget.left > 0) {
    define("cause", rebuild(record.cause, depth + 1, budget, hooks));
  }
  if (!isObject(record.props)) return error;
  let kept = 0;
  for (const key of Object.keys(record.props)) {
    // Keys the class or Object.prototype already has (toString, valueOf, …) are not shadowed.
    if (RESERVED.has(key) || key in error) continue;
    if (kept++ >= MAX_PROPS) break;
    const value = record.props[key];
    define(
      key,
      key === "failed" && Array.isArray(value)
        ? value.slice(0, MAX_ERROR_RECORDS).map((f: unknown) => ({
          taskId: isObject(f) && typeof f.taskId === "string" ? f.taskId : "?",
          error: depth < MAX_ERROR_DEPTH && budget.left > 0
            ? rebuild(isObject(f) ? f.error : undefined, depth + 1, budget, hooks)
            : hooks.bad("too many nested errors"),
        }))
        : value,
      true,
    );
  }
  return error;
}

/**
 * A value as JSON data (at most 64 KiB of JSON text), or its text when it is not JSON. Never
 * throws.
 *
 * @param value Any value.
 * @returns JSON data or a string.
 */
export function jsonSafe(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return safeString(value, MAX_PROP_CHARS);
    if (text.length > MAX_PROP_CHARS) return truncate(text, MAX_PROP_CHARS);
    return JSON.parse(text);
  } catch {
    return safeString(value, MAX_PROP_CHARS);
  }
}
