/**
 * The in-process {@linkcode Channel}.
 *
 * @module
 */
import {
  type ChannelSnapshot,
  checkIncrement,
  checkKey,
  checkSize,
  checkTtl,
  DEFAULT_MAX_VALUE_BYTES,
  type SetOptions,
  type SnapshotChannel,
} from "./channel.ts";
import { decodeValue, encodeItems, encodeValue } from "./codec.ts";

/** Options of {@linkcode MemoryChannel}. */
export interface MemoryChannelOptions {
  /** Clock for TTLs. @default {Date.now} */
  now?: () => number;
  /** Largest encoded value accepted by `set`/`append`. @default {16777216} (16 MiB) */
  maxValueBytes?: number;
}

interface Entry {
  value?: string;
  list?: string[];
  expiresAt?: number;
}

/**
 * A channel held in memory. Values are stored encoded (like the Redis channel), so a value read
 * back is a copy and whatever cannot be stored faithfully is refused at `set`.
 *
 * @example Counting and logging
 * ```ts
 * import { MemoryChannel } from "@graflow/graflow";
 * const channel = new MemoryChannel();
 * await channel.increment("rows", 10);
 * await channel.append("log", "loaded");
 * const rows = await channel.get<number>("rows");
 * if (rows !== 10) throw new Error("unexpected");
 * ```
 */
export class MemoryChannel implements SnapshotChannel {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #max: number;

  /**
   * Creates the instance.
   *
   * @param options Clock and value size limit.
   */
  constructor(options: MemoryChannelOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#max = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!(this.#max > 0)) {
      throw new RangeError(
        `Cannot create MemoryChannel: maxValueBytes must be positive, got ${this.#max}`,
      );
    }
  }

  /**
   * Restores a channel from a checkpoint snapshot.
   *
   * @param snapshot What {@linkcode MemoryChannel.snapshot} returned.
   * @param options Channel options.
   * @returns The channel.
   */
  static fromSnapshot(snapshot: ChannelSnapshot, options?: MemoryChannelOptions): MemoryChannel {
    const channel = new MemoryChannel(options);
    for (const e of snapshot.entries ?? []) {
      channel.#entries.set(e.key, { value: e.value, list: e.list, expiresAt: e.expiresAt });
    }
    return channel;
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** {@inheritDoc Channel.get} */
  async get<T>(key: string, fallback?: T): Promise<T | undefined> {
    checkKey(key, "get");
    const e = this.#live(key);
    if (!e) return fallback;
    if (e.list) return e.list.map((item) => decodeValue(item)) as T;
    return decodeValue<T>(e.value!);
  }

  /** {@inheritDoc Channel.set} */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    checkKey(key, "set");
    const ttl = checkTtl(key, options.ttlMs);
    const expiresAt = ttl === undefined ? undefined : this.#now() + ttl;
    if (Array.isArray(value)) {
      const list = encodeItems(value, `channel key "${key}"`);
      checkSize(key, list.join(","), this.#max);
      this.#entries.set(key, { list, expiresAt });
    } else {
      const encoded = encodeValue(value, `channel key "${key}"`);
      checkSize(key, encoded, this.#max);
      this.#entries.set(key, { value: encoded, expiresAt });
    }
    return;
  }

  /** {@inheritDoc Channel.delete} */
  async delete(key: string): Promise<boolean> {
    checkKey(key, "delete");
    const existed = this.#live(key) !== undefined;
    this.#entries.delete(key);
    return existed;
  }

  /** {@inheritDoc Channel.has} */
  async has(key: string): Promise<boolean> {
    checkKey(key, "check");
    return this.#live(key) !== undefined;
  }

  /** {@inheritDoc Channel.keys} */
  async keys(): Promise<string[]> {
    const keys: string[] = [];
    for (const key of [...this.#entries.keys()]) if (this.#live(key)) keys.push(key);
    return keys.sort();
  }

  /** {@inheritDoc Channel.clear} */
  async clear(): Promise<void> {
    this.#entries.clear();
    return;
  }

  /** {@inheritDoc Channel.append} */
  async append(key: string, value: unknown): Promise<number> {
    checkKey(key, "append to");
    const encoded = encodeValue(value, `channel key "${key}" (append)`);
    checkSize(key, encoded, this.#max);
    const e = this.#live(key);
    if (!e) {
      this.#entries.set(key, { list: [encoded] });
      return 1;
    }
    if (!e.list) {
      throw new TypeError(
        `Cannot append to channel key "${key}": it holds a value that is not a list`,
      );
    }
    e.list.push(encoded);
    return e.list.length;
  }

  /** {@inheritDoc Channel.increment} */
  async increment(key: string, by?: number): Promise<number> {
    checkKey(key, "increment");
    const step = checkIncrement(key, by);
    const e = this.#live(key);
    let current = 0;
    if (e) {
      const v = e.list ? undefined : decodeValue(e.value!);
      if (typeof v !== "number") {
        throw new TypeError(
          `Cannot increment channel key "${key}": it holds a value that is not a number`,
        );
      }
      current = v;
    }
    const next = current + step;
    if (e) e.value = encodeValue(next);
    else this.#entries.set(key, { value: encodeValue(next) });
    return next;
  }

  /**
   * The contents, for checkpoints.
   *
   * @returns The contents, for checkpoints.
   */
  async snapshot(): Promise<ChannelSnapshot> {
    const entries: NonNullable<ChannelSnapshot["entries"]> = [];
    for (const key of [...this.#entries.keys()].sort()) {
      const e = this.#live(key);
      if (!e) continue;
      entries.push({
        key,
        ...(e.list ? { list: [...e.list] } : { value: e.value }),
        ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}),
      });
    }
    return { kind: "memory", entries };
  }
}
