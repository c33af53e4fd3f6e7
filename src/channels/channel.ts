/**
 * The run-scoped key-value store shared by the tasks of a run.
 *
 * @module
 */

/** Options of {@linkcode Channel.set}. */
export interface SetOptions {
  /** Time to live in milliseconds; the key disappears afterwards. @default {undefined} (no TTL) */
  ttlMs?: number;
}

/**
 * A workflow-scoped key-value store. Values are structured data (JSON types plus `Date`, `Map`,
 * `Set`, `BigInt`, `Uint8Array`); anything else (functions, symbols, class instances, cycles,
 * sparse arrays, symbol-keyed objects) is a `TypeError` at `set`. Keys are non-empty,
 * well-formed UTF-16 strings of at most 1024 code units. Every implementation accepts and
 * refuses the same values and keys: they pass the same conformance suite
 * (`tests/channels/channel_suite.ts`).
 */
export interface Channel {
  /** Reads a key; `fallback` (or `undefined`) when it is missing or expired. */
  get<T>(key: string, fallback?: T): Promise<T | undefined>;
  /** Writes a key; a plain `set` clears an earlier TTL. */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>;
  /** Removes a key; `true` when it existed. */
  delete(key: string): Promise<boolean>;
  /** Whether a key exists (and has not expired). */
  has(key: string): Promise<boolean>;
  /** Every live key, sorted. */
  keys(): Promise<string[]>;
  /** Removes every key. */
  clear(): Promise<void>;
  /** Pushes onto the list at `key` (created when missing); returns the new length. */
  append(key: string, value: unknown): Promise<number>;
  /** Adds `by` (default 1) to the number at `key` (missing = 0) atomically; returns the new value. */
  increment(key: string, by?: number): Promise<number>;
}

/** Serialized channel contents, as stored in checkpoint `.channel` files. */
export interface ChannelSnapshot {
  /** What kind of channel wrote it. */
  kind: string;
  /** Entries: `value` or `list` holds encoded JSON text; `expiresAt` is epoch ms. */
  entries?: { key: string; value?: string; list?: string[]; expiresAt?: number }[];
  /** For channels whose data lives elsewhere (Redis): how to reconnect. */
  reference?: Record<string, unknown>;
}

/** A channel that can be saved into a checkpoint and restored from one. */
export interface SnapshotChannel extends Channel {
  /**
   * The channel contents or a reference to them.
   *
   * @returns The channel contents or a reference to them.
   */
  snapshot(): Promise<ChannelSnapshot>;
}

/**
 * @param channel Any channel.
 * @returns Whether it can be written into checkpoints.
 */
export function isSnapshotChannel(channel: Channel): channel is SnapshotChannel {
  return typeof (channel as Partial<SnapshotChannel>).snapshot === "function";
}

/** Longest channel key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 1024;

/** Longest `ttlMs` (the largest integer a double holds exactly). */
export const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;

/**
 * Checks a channel key: every channel refuses the same keys, so that a key that is distinct in
 * memory is distinct in Redis too (an ill-formed UTF-16 string such as a lone surrogate would
 * become U+FFFD in Redis and collide with it).
 *
 * @param key The key.
 * @param action The operation, for the message.
 * @throws {TypeError} When the key is not a non-empty, well-formed string of at most
 * {@linkcode MAX_KEY_LENGTH} code units.
 */
export function checkKey(key: unknown, action: string): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError(
      `Cannot ${action} channel key: a key must be a non-empty string, got ${
        typeof key === "string" ? '""' : typeof key === "symbol" ? "a symbol" : String(key)
      }`,
    );
  }
  if (key.length > MAX_KEY_LENGTH) {
    throw new TypeError(
      `Cannot ${action} channel key "${key.slice(0, 40)}…": a key must be at most ` +
        `${MAX_KEY_LENGTH} characters, got ${key.length}`,
    );
  }
  if (!key.isWellFormed()) {
    throw new TypeError(
      `Cannot ${action} channel key ${
        JSON.stringify(key.slice(0, 40))
      }: a key must be well-formed UTF-16 (it holds a lone surrogate)`,
    );
  }
}

/**
 * Checks `ttlMs`.
 *
 * @param key The key, for the message.
 * @param ttlMs The option.
 * @returns Whole milliseconds, or undefined.
 * @throws {RangeError} When not a positive number up to {@linkcode MAX_TTL_MS}.
 */
export function checkTtl(key: string, ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== "number" || !(ttlMs > 0) || !(ttlMs <= MAX_TTL_MS)) {
    throw new RangeError(
      `Cannot set channel key "${key}": ttlMs must be a positive number up to ${MAX_TTL_MS}, got ${
        String(ttlMs)
      }`,
    );
  }
  return Math.ceil(ttlMs);
}

/**
 * Checks the `by` of `increment`.
 *
 * @param key The key, for the message.
 * @param by The increment.
 * @returns `by` (default 1).
 * @throws {TypeError} When `by` is not a finite number.
 */
export function checkIncrement(key: string, by: number | undefined): number {
  if (by === undefined) return 1;
  if (typeof by !== "number" || !Number.isFinite(by)) {
    throw new TypeError(
      `Cannot increment channel key "${key}": by must be a finite number, got ${String(by)}`,
    );
  }
  return by;
}

/** Default limit of one encoded value (16 MiB). */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024;

/**
 * Checks the size of an encoded value.
 *
 * @param key The key, for the message.
 * @param encoded The encoded value.
 * @param max The limit in bytes (UTF-16 length is used as a cheap upper-bound proxy).
 * @throws {RangeError} When it is larger.
 */
export function checkSize(key: string, encoded: string, max: number): void {
  // A JS string of n code units encodes to at most 3n UTF-8 bytes; measure only when close.
  if (encoded.length <= max / 3) return;
  const bytes = new TextEncoder().encode(encoded).length;
  if (bytes > max) {
    throw new RangeError(
      `Cannot set channel key "${key}": the encoded value is ${bytes} bytes, over the limit of ${max} (maxValueBytes)`,
    );
  }
}
