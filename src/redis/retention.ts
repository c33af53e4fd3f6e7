/**
 * The one retention setting of the Redis side, and the checks of duration options.
 *
 * @module
 */
import { RETENTION_RANGE } from "./wire.ts";

/** How long run-scoped keys live by default: 7 days (see `retentionMs` of `redisBackend`). */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

/**
 * Checks a duration option.
 *
 * @param what The action, for the message, e.g. `"Cannot create redisBackend"`.
 * @param name The option.
 * @param value Its value.
 * @param fallback The default.
 * @returns Whole milliseconds.
 * @throws {RangeError} When out of range: retentionMs from 1 s to 10 years; pollMs (a timer) up
 * to 2^31-1 ms; others up to `Number.MAX_SAFE_INTEGER` ms (they are compared, never timers).
 */
export function checkDuration(
  what: string,
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const [lo, hi] = name === "retentionMs"
    ? RETENTION_RANGE
    : name === "pollMs"
    ? [1, 2 ** 31 - 1]
    : [1, Number.MAX_SAFE_INTEGER];
  if (typeof value !== "number" || !(value >= lo && value <= hi)) {
    throw new RangeError(`${what}: ${name} must be a number from ${lo} to ${hi}, got ${value}`);
  }
  return Math.round(value);
}
