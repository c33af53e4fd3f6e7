/**
 * Reading what a task threw or returned without throwing: a value from a task can be a revoked
 * `Proxy`, an object whose getters or `toString`/`toJSON` throw, or a string of hundreds of
 * megabytes. These helpers turn any value into bounded text and never throw, so that reporting a
 * failure cannot itself fail.
 *
 * @module
 */

/** Longest error message kept (longer ones are cut, with a note of how much was cut). */
export const MAX_MESSAGE_CHARS = 16_384;
/** Longest stack trace kept. */
export const MAX_STACK_CHARS = 65_536;
/** Longest error name or code kept. */
export const MAX_NAME_CHARS = 200;

/**
 * Cuts `text` to `max` characters, saying how many were cut.
 *
 * @param text The text.
 * @param max The most characters kept.
 * @returns `text`, or its first `max` characters and a note.
 */
export function truncate(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * `Object.prototype.toString` of a value (`"[object Object]"`), or a fixed text when even that
 * throws (a revoked `Proxy`).
 *
 * @param value Any value.
 * @returns A short tag.
 */
export function tagOf(value: unknown): string {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return "[object Unreadable]";
  }
}

/**
 * `String(value)`, bounded, that never throws.
 *
 * @param value Any value.
 * @param max The most characters kept. @default {MAX_MESSAGE_CHARS}
 * @returns Its text.
 */
export function safeString(value: unknown, max: number = MAX_MESSAGE_CHARS): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : String(value);
  } catch {
    text = tagOf(value);
  }
  return truncate(text, max);
}

/**
 * A short preview of a value for a message: JSON for strings and objects when possible,
 * `String(value)` otherwise; never throws.
 *
 * @param value Any value.
 * @param max The most characters kept. @default {200}
 * @returns The preview.
 */
export function preview(value: unknown, max = 200): string {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : String(value);
    if (typeof value === "object" && value !== null) text = JSON.stringify(value) ?? text;
  } catch {
    text = tagOf(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What {@linkcode tryGet} read. */
export type Read = { ok: true; value: unknown } | { ok: false };

/**
 * Reads `object[key]`, catching what a getter or a `Proxy` trap throws.
 *
 * @param object The object.
 * @param key The property.
 * @returns The value, or `{ ok: false }`.
 */
export function tryGet(object: unknown, key: PropertyKey): Read {
  try {
    return { ok: true, value: (object as Record<PropertyKey, unknown>)[key] };
  } catch {
    return { ok: false };
  }
}

/**
 * Whether `value` is an `Error`, `false` when even asking throws (a revoked `Proxy`).
 *
 * @param value Any value.
 * @returns Whether it is an `Error` instance.
 */
export function isErrorSafe(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}
