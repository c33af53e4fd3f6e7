/**
 * Faithful JSON encoding of structured values: JSON types plus `undefined`, non-finite numbers,
 * `BigInt`, `Date`, `Map`, `Set` and `Uint8Array`. Anything else (functions, symbols, class
 * instances, cycles) is refused with a `TypeError` that names where it was found.
 *
 * @module
 */

/** Key marking a tagged value in the encoded JSON tree. */
const TAG = "$type";

/**
 * Encodes `value` as a JSON string.
 *
 * @param value The value.
 * @param label How to name the value in errors, e.g. `channel key "k"`.
 * @returns JSON text.
 * @throws {TypeError} When part of the value cannot be stored faithfully.
 */
export function encodeValue(value: unknown, label = "value"): string {
  return JSON.stringify(toTree(value, label, "value", new Set()));
}

/**
 * Decodes text written by {@linkcode encodeValue}.
 *
 * @param text JSON text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not JSON.
 */
export function decodeValue<T = unknown>(text: string): T {
  return fromTree(JSON.parse(text)) as T;
}

/**
 * Encodes to a JSON-compatible tree (for embedding in larger JSON documents).
 *
 * @param value The value.
 * @param label How to name it in errors.
 * @returns A JSON-compatible tree.
 */
export function toJsonTree(value: unknown, label = "value"): unknown {
  return toTree(value, label, "value", new Set());
}

/**
 * Decodes a tree made by {@linkcode toJsonTree}.
 *
 * @param tree The tree.
 * @returns The value.
 */
export function fromJsonTree<T = unknown>(tree: unknown): T {
  return fromTree(tree) as T;
}

function refuse(label: string, path: string, what: string): never {
  throw new TypeError(
    `Cannot store ${label}: ${path} is ${what}, which cannot be stored faithfully ` +
      `(allowed: JSON types, undefined, BigInt, Date, Map, Set, Uint8Array)`,
  );
}

function toTree(v: unknown, label: string, path: string, seen: Set<object>): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { [TAG]: "Number", value: String(Object.is(v, -0) ? "-0" : v) };
    case "undefined":
      return { [TAG]: "undefined" };
    case "bigint":
      return { [TAG]: "BigInt", value: v.toString() };
    case "function":
      return refuse(label, path, `a function (${(v as { name?: string }).name || "anonymous"})`);
    case "symbol":
      return refuse(label, path, "a symbol");
  }
  if (v === null) return null;
  const o = v as object;
  if (seen.has(o)) refuse(label, path, "a circular reference");
  seen.add(o);
  try {
    if (Array.isArray(o)) {
      const out = new Array(o.length);
      for (let i = 0; i < o.length; i++) out[i] = toTree(o[i], label, `${path}[${i}]`, seen);
      return out;
    }
    const proto = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(o)) {
        setOwn(
          out,
          key,
          toTree((o as Record<string, unknown>)[key], label, `${path}.${key}`, seen),
        );
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
          toTree(k, label, `${path}<key ${i}>`, seen),
          toTree(val, label, `${path}<value ${i}>`, seen),
        ]);
        i++;
      }
      return { [TAG]: "Map", value: entries };
    }
    if (o instanceof Set && proto === Set.prototype) {
      const items: unknown[] = [];
      let i = 0;
      for (const item of o) items.push(toTree(item, label, `${path}<item ${i++}>`, seen));
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

function fromTree(t: unknown): unknown {
  if (t === null || typeof t !== "object") return t;
  if (Array.isArray(t)) return t.map(fromTree);
  const o = t as Record<string, unknown>;
  const tag = o[TAG];
  if (typeof tag === "string") {
    const v = o.value;
    switch (tag) {
      case "Number":
        return v === "-0" ? -0 : Number(v);
      case "undefined":
        return undefined;
      case "BigInt":
        return BigInt(v as string);
      case "Date":
        return new Date(v === null ? NaN : (v as string));
      case "Map":
        return new Map((v as [unknown, unknown][]).map(([k, x]) => [fromTree(k), fromTree(x)]));
      case "Set":
        return new Set((v as unknown[]).map(fromTree));
      case "Uint8Array":
        return base64ToBytes(v as string);
      case "Object":
        return fromPlain(v as Record<string, unknown>);
    }
  }
  return fromPlain(o);
}

function fromPlain(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) setOwn(out, key, fromTree(o[key]));
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

function base64ToBytes(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
