/**
 * Shape checks for what a remote task sends back to its run: outcomes (value, directives or
 * error), context calls, and the codec trees inside them. What comes from a Web Worker, a
 * subprocess, a container or Redis is data that may have been written by hostile code; it is
 * checked here before the host uses any of it. Each check returns the first problem as a short
 * sentence (or `undefined`), and the transport turns it into its own error (for example
 * `WORKER_PROTOCOL`), so that a malformed message fails its task, never the host.
 *
 * @module
 */

/** Deepest codec tree accepted from a remote task. */
export const MAX_TREE_DEPTH = 512;
/** Longest name of a task accepted in a directive. */
const MAX_NAME = 200;

const CHANNEL_METHODS = new Set([
  "get",
  "set",
  "delete",
  "has",
  "keys",
  "clear",
  "append",
  "increment",
]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Whether `v` is a non-null object that is not an array.
 *
 * @param v Any value.
 * @returns Whether it is a plain-ish object.
 */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalString(v: unknown): boolean {
  return v === undefined || typeof v === "string";
}

/**
 * The first problem of an error record's shape (name and message strings, optional stack, code,
 * props, and causes at most 8 deep), or `undefined`.
 *
 * @param v Any value.
 * @returns The problem, or `undefined`.
 */
export function errorRecordProblem(v: unknown): string | undefined {
  for (let depth = 0; v !== undefined; depth++) {
    if (depth > 8) return "an error record has causes more than 8 deep";
    if (!isObject(v)) return "an error record is not an object";
    if (typeof v.name !== "string" || typeof v.message !== "string") {
      return "an error record has no string name or message";
    }
    if (!optionalString(v.stack) || !optionalString(v.code)) {
      return "an error record has a stack or code that is not a string";
    }
    if (v.props !== undefined && !isObject(v.props)) {
      return "an error record's props is not an object";
    }
    v = v.cause;
  }
  return undefined;
}

/**
 * The first problem of a codec tree (what `toJsonTree` makes), or `undefined`: depth at most
 * {@linkcode MAX_TREE_DEPTH}, only JSON types, and tagged values whose payload has the right
 * type. A tree that passes decodes with `fromJsonTree` without throwing.
 *
 * @param tree Any value.
 * @returns The problem, or `undefined`.
 */
export function treeProblem(tree: unknown): string | undefined {
  const stack: [unknown, number][] = [[tree, 0]];
  while (stack.length) {
    const [t, depth] = stack.pop()!;
    if (t === null || typeof t === "string" || typeof t === "boolean") continue;
    if (typeof t === "number") {
      if (!Number.isFinite(t)) return "a value holds a non-finite number outside its tag";
      continue;
    }
    if (typeof t !== "object") return `a value holds a ${typeof t}`;
    if (depth >= MAX_TREE_DEPTH) return `a value is nested more than ${MAX_TREE_DEPTH} levels deep`;
    if (Array.isArray(t)) {
      // Structured clone keeps extra own properties of arrays (even "constructor"), and holes.
      if (Object.keys(t).length !== t.length) {
        return "a value holds an array with holes or extra keys";
      }
      for (const item of t) stack.push([item, depth + 1]);
      continue;
    }
    if (Object.getPrototypeOf(t) !== Object.prototype && Object.getPrototypeOf(t) !== null) {
      return "a value holds an object that is not plain data";
    }
    const o = t as Record<string, unknown>;
    const tag = o.$type;
    if (Object.hasOwn(o, "$type")) {
      // The encoder writes `$type` only as one of its tags (other objects are wrapped).
      if (typeof tag !== "string" || !Object.hasOwn(TAGS, tag)) {
        return `a value has an unknown $type tag ${JSON.stringify(tag)?.slice(0, 40)}`;
      }
      const problem = tagProblem(tag, o.value);
      if (problem) return problem;
      if (tag === "Map" || tag === "Set" || tag === "Object") stack.push([o.value, depth + 1]);
      continue;
    }
    for (const key of Object.keys(o)) stack.push([o[key], depth + 1]);
  }
  return undefined;
}

const TAGS: Record<string, true> = {
  Number: true,
  undefined: true,
  BigInt: true,
  Date: true,
  Map: true,
  Set: true,
  Uint8Array: true,
  Object: true,
};

function tagProblem(tag: string, v: unknown): string | undefined {
  const ok = (() => {
    switch (tag) {
      case "Number":
        return typeof v === "string";
      case "undefined":
        return true;
      case "BigInt":
        return typeof v === "string" && /^-?\d{1,100000}$/.test(v);
      case "Date":
        return v === null || typeof v === "string";
      case "Map":
        return Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2);
      case "Set":
        return Array.isArray(v);
      case "Uint8Array":
        return typeof v === "string" && v.length % 4 === 0 && BASE64.test(v);
      case "Object":
        return isObject(v) && Object.getPrototypeOf(v) === Object.prototype;
      default:
        return true; // an ordinary object with a "$type" key of its own
    }
  })();
  return ok ? undefined : `a value tagged ${JSON.stringify(tag).slice(0, 50)} is malformed`;
}

function checkpointOptionsProblem(c: unknown): string | undefined {
  if (!isObject(c)) return "checkpoint options are not an object";
  if (c.metadata !== undefined && !isObject(c.metadata)) {
    return "checkpoint metadata is not an object";
  }
  if (c.deferred !== undefined && typeof c.deferred !== "boolean") {
    return "checkpoint deferred is not a boolean";
  }
  if (!optionalString(c.path)) return "checkpoint path is not a string";
  return c.metadata === undefined ? undefined : treeProblem(c.metadata);
}

function taskNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME) {
    return "a task named by ctx.next() has no valid name";
  }
  return undefined;
}

function directivesProblem(d: unknown): string | undefined {
  if (d === undefined) return undefined;
  if (!isObject(d)) return "the directives are not an object";
  if (d.next !== undefined) {
    if (!Array.isArray(d.next)) return "directives.next is not an array";
    for (const n of d.next) {
      if (!isObject(n)) return "a ctx.next() directive is not an object";
      const problem = taskNameProblem(n.task) ??
        (typeof n.hasInput !== "boolean"
          ? "a ctx.next() directive has no hasInput flag"
          : undefined) ??
        (n.goto !== undefined && typeof n.goto !== "boolean"
          ? "ctx.next() goto is not a boolean"
          : undefined) ??
        (n.hasInput ? treeProblem(n.input) : undefined);
      if (problem) return problem;
    }
  }
  if (d.iterate !== undefined) {
    if (!isObject(d.iterate) || typeof d.iterate.hasInput !== "boolean") {
      return "directives.iterate is malformed";
    }
    if (d.iterate.hasInput) {
      const problem = treeProblem(d.iterate.input);
      if (problem) return problem;
    }
  }
  if (d.map !== undefined) {
    const m = d.map;
    if (!isObject(m)) return "directives.map is not an object";
    if (typeof m.task !== "string" || m.task.length === 0 || m.task.length > MAX_NAME) {
      return "the task named by ctx.map() has no valid name";
    }
    if (m.policy !== undefined && !(isObject(m.policy) && typeof m.policy.type === "string")) {
      return "ctx.map() policy is malformed";
    }
    if (m.concurrency !== undefined && typeof m.concurrency !== "number") {
      return "ctx.map() concurrency is not a number";
    }
    const problem = treeProblem(m.items);
    if (problem) return problem;
  }
  for (const k of ["terminate", "cancel"] as const) {
    const v = d[k];
    if (v !== undefined && !(isObject(v) && optionalString(v.reason))) {
      return `directives.${k} is malformed`;
    }
  }
  if (d.checkpoints !== undefined) {
    if (!Array.isArray(d.checkpoints)) return "directives.checkpoints is not an array";
    for (const c of d.checkpoints) {
      const problem = checkpointOptionsProblem(c);
      if (problem) return problem;
    }
  }
  return undefined;
}

/**
 * The first problem of a remote outcome (`{ ok: true, value, directives? }` or
 * `{ ok: false, error }`), or `undefined`.
 *
 * @param o Any value.
 * @returns The problem, or `undefined`.
 */
export function outcomeProblem(o: unknown): string | undefined {
  if (!isObject(o)) return "the outcome is not an object";
  if (o.ok === true) {
    if (!("value" in o)) return "the outcome has no value";
    return treeProblem(o.value) ?? directivesProblem(o.directives);
  }
  if (o.ok === false) return errorRecordProblem(o.error);
  return "the outcome has no boolean ok";
}

/**
 * The first problem of a context call (`channel`, `result`, `checkpoint`, `requestFeedback`),
 * or `undefined`.
 *
 * @param c Any value.
 * @returns The problem, or `undefined`.
 */
export function callProblem(c: unknown): string | undefined {
  if (!isObject(c)) return "the call is not an object";
  switch (c.op) {
    case "channel":
      if (typeof c.method !== "string" || !CHANNEL_METHODS.has(c.method)) {
        return `unknown channel method ${JSON.stringify(c.method)?.slice(0, 50)}`;
      }
      if (!Array.isArray(c.args) || c.args.length > 3) {
        return "the channel call's args are malformed";
      }
      return treeProblem(c.args);
    case "result":
      return typeof c.taskId === "string" ? undefined : "the result call has no task id";
    case "checkpoint":
      return checkpointOptionsProblem(c.options);
    case "requestFeedback":
      return isObject(c.request) ? treeProblem(c.request) : "the feedback request is not an object";
    default:
      return `unknown call ${JSON.stringify(c.op)?.slice(0, 50)}`;
  }
}
