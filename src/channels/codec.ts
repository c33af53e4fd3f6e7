/**
 * Faithful JSON encoding of structured values: JSON types plus `undefined`, non-finite numbers,
 * `BigInt`, `Date`, `Map`, `Set` and `Uint8Array`. Anything else (functions, symbols, class
 * instances, cycles, sparse arrays, objects with symbol keys, nesting deeper than
 * {@linkcode MAX_DEPTH}, BigInts longer than {@linkcode MAX_BIGINT_DIGITS} digits) is refused
 * with a `TypeError` that names where it was found.
 *
 * Decoding is strict: text or trees that the encoder cannot have written (an unknown `$type`
 * tag, a tag with a malformed value, nesting too deep) are refused with a `TypeError` naming the
 * path, never half-decoded; decoding never runs code and never changes a prototype.
 *
 * @module
 */

/** Key marking a tagged value in the encoded JSON tree. */
const TAG = "$type";

/** Deepest nesting of arrays, objects, maps and sets that is encoded or decoded. */
export const MAX_DEPTH = 1000;

/** Most decimal digits of a `BigInt` that is encoded or decoded. */
export const MAX_BIGINT_DIGITS = 1_000_000;

const BIGINT = /^-?\d+$/;
const SPECIAL_NUMBERS: Record<string, number> = {
  "NaN": NaN,
  "Infinity": Infinity,
  "-Infinity": -Infinity,
  "-0": -0,
};

/**
 * Encodes `value` as a JSON string.
 *
 * @param value The value.
 * @param label How to name the value in errors, e.g. `channel key "k"`.
 * @returns JSON text.
 * @throws {TypeError} When part of the value cannot be stored faithfully.
 */
export function encodeValue(value: unknown, label = "value"): string {
  return JSON.stringify(toTree(value, label, "value", new Set(), 0));
}

/**
 * Encodes every item of an array on its own (a channel list): like {@linkcode encodeValue} of
 * each item, and a sparse array is refused like it is inside a value.
 *
 * @param items The array.
 * @param label How to name the array in errors, e.g. `channel key "k"`.
 * @returns One JSON text per item.
 * @throws {TypeError} When the array has a hole or an item cannot be stored faithfully.
 */
export function encodeItems(items: readonly unknown[], label = "value"): string[] {
  const seen = new Set<object>([items]);
  const out = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    if (!(i in items)) refuse(label, `value[${i}]`, "a hole in a sparse array");
    out[i] = JSON.stringify(toTree(items[i], label, `value[${i}]`, seen, 1));
  }
  return out;
}

/**
 * Decodes text written by {@linkcode encodeValue}.
 *
 * @param text JSON text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not JSON.
 * @throws {TypeError} When the JSON is not something {@linkcode encodeValue} writes.
 */
export function decodeValue<T = unknown>(text: string): T {
  return fromTree(JSON.parse(text), "value", 0) as T;
}

/**
 * Encodes to a JSON-compatible tree (for embedding in larger JSON documents).
 *
 * @param value The value.
 * @param label How to name it in errors.
 * @returns A JSON-compatible tree.
 */
export function toJsonTree(value: unknown, label = "value"): unknown {
  return toTree(value, label, "value", new Set(), 0);
}

/**
 * Decodes a tree made by {@linkcode toJsonTree}.
 *
 * @param tree The tree.
 * @returns The value.
 * @throws {TypeError} When the tree is not something {@linkcode toJsonTree} makes.
 */
export function fromJsonTree<T = unknown>(tree: unknown): T {
  return fromTree(tree, "value", 0) as T;
}

function refuse(label: string, path: string, what: string): never {
  throw new TypeError(
    `Cannot store ${label}: ${path} is ${what}, which cannot be stored faithfully ` +
      `(allowed: JSON types, undefined, BigInt, Date, Map, Set, Uint8Array)`,
  );
}

function toTree(
  v: unknown,
  label: string,
  path: string,
  seen: Set<object>,
  depth: number,
): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { [TAG]: "Number", value: String(Object.is(v, -0) ? "-0" : v) };
    case "undefined":
      return { [TAG]: "undefined" };
    case "bigint": {
      const digits = v.toString();
      if (digits.length - (v < 0n ? 1 : 0) > MAX_BIGINT_DIGITS) {
        refuse(label, path, `a BigInt of more than ${MAX_BIGINT_DIGITS} digits`);
      }
      return { [TAG]: "BigInt", value: digits };
    }
    case "function":
      return refuse(label, path, `a function (${(v as { name?: string }).name || "anonymous"})`);
    case "symbol":
      return refuse(label, path, "a symbol");
  }
  if (v === null) return null;
  const o = v as object;
  if (depth >= MAX_DEPTH) refuse(label, path, `nested deeper than ${MAX_DEPTH} levels`);
  if (seen.has(o)) refuse(label, path, "a circular reference");
  seen.add(o);
  const d = depth + 1;
  try {
    if (Array.isArray(o)) {
      const out = new Array(o.length);
      for (let i = 0; i < o.length; i++) {
        if (!(i in o)) refuse(label, `${path}[${i}]`, "a hole in a sparse array");
        out[i] = toTree(o[i], label, `${path}[${i}]`, seen, d);
      }
      return out;
    }
    const proto = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(o)) {
        setOwn(
          out,
          key,
          toTree((o as Record<string, unknown>)[key], label, `${path}.${key}`, seen, d),
        );
      }
      for (const s of Object.getOwnPropertySymbols(o)) {
        if (Object.prototype.propertyIsEnumerable.call(o, s)) {
          refuse(label, path, `an object with a symbol key (${String(s)})`);
        }
      }
      return TAG in out ? { [TAG]: "Object", value: out } : out;
    }
    if (o instanceof Date) {
      const t = o.getTime();
      return { [TAG]: "Date", value: Number.isNaN(t) ? null : o.toISOString() };
    }
    if (o instanceof Map && proto === Map.prototype) {
      const entries: unknown[] = [];
      let i = 0;
      for (const [k, val] of o) {
        entries.push([
          toTree(k, label, `${path}<key ${i}>`, seen, d),
          toTree(val, label, `${path}<value ${i}>`, seen, d),
        ]);
        i++;
      }
      return { [TAG]: "Map", value: entries };
    }
    if (o instanceof Set && proto === Set.prototype) {
      const items: unknown[] = [];
      let i = 0;
      for (const item of o) items.push(toTree(item, label, `${path}<item ${i++}>`, seen, d));
      return { [TAG]: "Set", value: items };
    }
    if (o instanceof Uint8Array && proto === Uint8Array.prototype) {
      return { [TAG]: "Uint8Array", value: bytesToBase64(o) };
    }
    const name = (proto?.constructor as { name?: string } | undefined)?.name ?? "unknown";
    return refuse(label, path, `an instance of ${name}`);
  } finally {
    seen.delete(o);
  }
}

function malformed(path: string, what: string): never {
  throw new TypeError(`Cannot decode value: ${path} ${what}`);
}

function fromTree(t: unknown, path: string, depth: number): unknown {
  if (t === null || typeof t !== "object") {
    if (typeof t === "number" && !Number.isFinite(t)) malformed(path, "is not a finite number");
    if (t === undefined || typeof t === "function" || typeof t === "symbol") {
      malformed(path, `is ${typeof t}, not JSON`);
    }
    return t;
  }
  if (depth >= MAX_DEPTH) malformed(path, `is nested deeper than ${MAX_DEPTH} levels`);
  const d = depth + 1;
  if (Array.isArray(t)) {
    const out = new Array(t.length);
    for (let i = 0; i < t.length; i++) out[i] = fromTree(t[i], `${path}[${i}]`, d);
    return out;
  }
  const o = t as Record<string, unknown>;
  if (!Object.hasOwn(o, TAG)) return fromPlain(o, path, d);
  const tag = o[TAG];
  const v = o.value;
  switch (tag) {
    case "Number":
      if (typeof v === "string" && Object.hasOwn(SPECIAL_NUMBERS, v)) return SPECIAL_NUMBERS[v];
      return malformed(path, `is a tagged Number with value ${preview(v)}`);
    case "undefined":
      return undefined;
    case "BigInt":
      if (
        typeof v !== "string" || !BIGINT.test(v) ||
        v.length - (v.startsWith("-") ? 1 : 0) > MAX_BIGINT_DIGITS
      ) {
        return malformed(path, `is a tagged BigInt with value ${preview(v)}`);
      }
      return BigInt(v);
    case "Date":
      if (v !== null && typeof v !== "string") {
        return malformed(path, `is a tagged Date with value ${preview(v)}`);
      }
      return new Date(v === null ? NaN : v);
    case "Map":
      if (!Array.isArray(v) || !v.every((e) => Array.isArray(e) && e.length === 2)) {
        return malformed(path, "is a tagged Map whose value is not a list of [key, value] pairs");
      }
      return new Map(
        v.map((
          [k, x],
          i,
        ) => [fromTree(k, `${path}<key ${i}>`, d), fromTree(x, `${path}<value ${i}>`, d)]),
      );
    case "Set":
      if (!Array.isArray(v)) return malformed(path, "is a tagged Set whose value is not a list");
      return new Set(v.map((x, i) => fromTree(x, `${path}<item ${i}>`, d)));
    case "Uint8Array":
      if (typeof v !== "string") return malformed(path, "is a tagged Uint8Array without base64");
      return base64ToBytes(v, path);
    case "Object":
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        return malformed(path, "is a tagged Object whose value is not an object");
      }
      return fromPlain(v as Record<string, unknown>, path, d);
  }
  return malformed(path, `has an unknown ${TAG} tag ${preview(tag)}`);
}

function preview(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = typeof v;
  }
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function fromPlain(
  o: Record<string, unknown>,
  path: string,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) setOwn(out, key, fromTree(o[key], `${path}.${key}`, depth));
  return out;
}

/** Sets an own property, even `"__proto__"` (a plain assignment would change the prototype). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  } else o[key] = value;
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(b64: string, path: string): Uint8Array {
  let s: string;
  try {
    s = atob(b64);
  } catch {
    return malformed(path, "is a tagged Uint8Array whose value is not base64");
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
