/**
 * Checks the shape of a parsed checkpoint state file field by field: what a file from elsewhere
 * holds is data, so every field is checked before use and a malformed one is a
 * `CheckpointError` that names it (`state.pending[3].kind`).
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";

/** Checks one value; throws a message naming the path when it does not fit. */
type Check = (value: unknown, path: string) => void;

class Bad extends Error {}

function fail(path: string, what: string): never {
  throw new Bad(`${path} ${what}`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Any value (checked later by the codec). */
export const any: Check = () => {};

/** A string, optionally matching a pattern. */
export function str(pattern?: RegExp): Check {
  return (v, path) => {
    if (typeof v !== "string") fail(path, `must be a string, got ${typeName(v)}`);
    if (pattern && !pattern.test(v)) fail(path, `is malformed: ${JSON.stringify(v).slice(0, 80)}`);
  };
}

/** A whole number at least `min`. */
export function int(min = 0): Check {
  return (v, path) => {
    if (!Number.isSafeInteger(v) || (v as number) < min) {
      fail(path, `must be a whole number >= ${min}, got ${JSON.stringify(v)?.slice(0, 40)}`);
    }
  };
}

/** A boolean. */
export const bool: Check = (v, path) => {
  if (typeof v !== "boolean") fail(path, `must be true or false, got ${typeName(v)}`);
};

/** One of some strings. */
export function oneOf(...values: string[]): Check {
  return (v, path) => {
    if (!values.includes(v as string)) {
      fail(path, `must be one of ${values.join(", ")}, got ${JSON.stringify(v)?.slice(0, 40)}`);
    }
  };
}

/** An array of items. */
export function arr(item: Check): Check {
  return (v, path) => {
    if (!Array.isArray(v)) fail(path, `must be an array, got ${typeName(v)}`);
    v.forEach((x, i) => item(x, `${path}[${i}]`));
  };
}

/** An array of exactly these items. */
export function tuple(...items: Check[]): Check {
  return (v, path) => {
    if (!Array.isArray(v) || v.length !== items.length) {
      fail(path, `must be an array of ${items.length} items`);
    }
    items.forEach((c, i) => c(v[i], `${path}[${i}]`));
  };
}

/** A record of values. */
export function rec(value: Check): Check {
  return (v, path) => {
    if (!isObject(v)) fail(path, `must be an object, got ${typeName(v)}`);
    for (const [k, x] of Object.entries(v)) value(x, `${path}[${JSON.stringify(k)}]`);
  };
}

/** An object with these fields (a `?` after a name makes it optional). */
export function obj(fields: Record<string, Check>): Check {
  return (v, path) => {
    if (!isObject(v)) fail(path, `must be an object, got ${typeName(v)}`);
    for (const [key, check] of Object.entries(fields)) {
      const optional = key.endsWith("?");
      const name = optional ? key.slice(0, -1) : key;
      const x = v[name];
      if (x === undefined) {
        if (!optional) fail(`${path}.${name}`, "is missing");
        continue;
      }
      check(x, `${path}.${name}`);
    }
  };
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/**
 * Runs a check, turning its complaint into a `CheckpointError` of `file`.
 *
 * @param check The check.
 * @param value The value.
 * @param path Name of the value.
 * @param file The file (for the error).
 * @throws {CheckpointError} Naming the field that does not fit.
 */
export function checkOrThrow(check: Check, value: unknown, path: string, file: string): void {
  try {
    check(value, path);
  } catch (error) {
    if (error instanceof Bad) throw new CheckpointError(file, error.message);
    throw error;
  }
}

/** Both checks. */
function both(a: Check, b: Check): Check {
  return (v, path) => {
    a(v, path);
    b(v, path);
  };
}

/** A map's finished items are named by index, each below the item count, done once. */
const itemIndices: Check = (v, path) => {
  const m = v as { items: unknown[]; results: object; failed: object };
  const n = m.items.length;
  const seen = new Set<string>();
  for (const field of ["results", "failed"] as const) {
    for (const key of Object.keys(m[field])) {
      if (!/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= n) {
        fail(`${path}.${field}`, `names item ${JSON.stringify(key)}, not an index below ${n}`);
      }
      if (seen.has(key)) fail(`${path}.failed`, `names item ${key}, which also succeeded`);
      seen.add(key);
    }
  }
};

// deno-lint-ignore no-control-regex -- ids never hold NUL
const ID = str(/^[^\u0000]{1,400}$/);
const KIND = oneOf("start", "edge", "back", "next", "goto", "iterate", "map", "item", "resume");
const POLICY_TYPES = ["strict", "bestEffort", "atLeast", "critical", "firstSuccess"];
const NAME = str(/^[A-Za-z_][A-Za-z0-9_.-]*$/);
const RUN_ID = str(/^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,128}$/);

/** The run state inside a state file (values are codec trees). */
export const runStateCheck: Check = obj({
  runId: RUN_ID,
  steps: int(0),
  results: rec(any),
  completed: arr(ID),
  cycles: rec(int(0)),
  "output?": any,
  "lastTask?": ID,
  pending: arr(obj({ node: ID, "input?": any, from: ID, kind: KIND, "attempt?": int(1) })),
  arrivals: rec(rec(any)),
  groups: rec(rec(obj({
    remaining: int(0),
    results: rec(any),
    settled: bool,
    "failed?": obj({ taskId: ID, "error?": any }),
  }))),
  dynamic: arr(obj({ id: NAME, by: ID })),
  trace: arr(obj({ from: ID, to: ID, kind: KIND, count: int(1) })),
  feedback: rec(arr(ID)),
  checkpoints: arr(str()),
  "terminated?": bool,
  "maps?": rec(both(
    obj({
      task: NAME,
      node: ID,
      items: arr(any),
      results: rec(any),
      failed: rec(any),
      cycle: int(1),
      "policy?": obj({ type: oneOf(...POLICY_TYPES) }),
      "concurrency?": int(1),
    }),
    itemIndices,
  )),
  "itemSteps?": int(0),
});

/** A flow's graph inside a state file. */
export const flowCheck: Check = obj({
  nodes: arr(obj({
    id: ID,
    kind: oneOf("task", "fork", "barrier", "map"),
    "module?": str(),
    "group?": ID,
    "parent?": obj({ group: ID, member: ID }),
    "map?": obj({
      task: NAME,
      "policy?": obj({ type: oneOf(...POLICY_TYPES, "custom") }),
      "concurrency?": int(1),
      named: bool,
    }),
  })),
  edges: arr(tuple(ID, ID)),
  groups: arr(obj({
    id: ID,
    members: arr(obj({ id: ID, entries: arr(ID), exits: arr(ID) })),
    "policy?": obj({ type: oneOf(...POLICY_TYPES, "custom") }),
    "executor?": str(),
    named: bool,
  })),
  starts: arr(ID),
});

/** The whole state file. */
export const stateFileCheck: Check = obj({
  schemaVersion: int(1),
  runId: RUN_ID,
  state: runStateCheck,
  flow: flowCheck,
  options: obj({
    "maxSteps?": int(1),
    "executor?": str(),
    "checkpointDir?": str(),
    "keepCheckpoints?": int(1),
    "trace?": obj({
      traceparent: str(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/),
      "tracestate?": str(/^[\x20-\x7e]{0,512}$/),
    }),
  }),
});
