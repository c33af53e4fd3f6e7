/**
 * The {@linkcode Channel} of a run kept in Redis, shared by the producer and every worker.
 *
 * @module
 */
import type { Redis } from "ioredis";
import {
  type ChannelSnapshot,
  checkIncrement,
  checkKey,
  checkSize,
  checkTtl,
  DEFAULT_MAX_VALUE_BYTES,
  type SetOptions,
  type SnapshotChannel,
} from "../channels/channel.ts";
import { decodeValue, encodeItems, encodeValue } from "../channels/codec.ts";
import {
  connectRedis,
  explainRedisError,
  type RedisConnectionOptions,
  redisUrl,
} from "./connection.ts";
import type { LuaScript } from "./lua_script.ts";
import { RedisKeys } from "./keys.ts";
import {
  CHANNEL_APPEND,
  CHANNEL_CLEAR,
  CHANNEL_DELETE,
  CHANNEL_DUMP,
  CHANNEL_GET,
  CHANNEL_INCREMENT,
  CHANNEL_KEYS,
  CHANNEL_SET,
} from "./channel_scripts.ts";

/** Options of {@linkcode RedisChannel}. */
export interface RedisChannelOptions extends RedisConnectionOptions {
  /** The run whose channel this is. */
  runId: string;
  /** Key prefix. @default {"graflow"} */
  prefix?: string;
  /** Largest encoded value accepted by `set`/`append`. @default {16777216} (16 MiB) */
  maxValueBytes?: number;
}

const RUN_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Set once by the class: gives a channel a connection it does not own. */
let attach: (channel: RedisChannel, redis: Redis) => RedisChannel;

/**
 * A run's channel on an existing connection (the backend's or a worker's), which `close()`
 * leaves open.
 *
 * @param redis The connection.
 * @param options Run id, prefix, value size limit (no connection options).
 * @returns The channel.
 */
export function redisChannelOn(
  redis: Redis,
  options: Omit<RedisChannelOptions, keyof RedisConnectionOptions>,
): RedisChannel {
  return attach(new RedisChannel(options), redis);
}

/**
 * A run's channel in Redis: every key is a Redis string (one encoded value) or a Redis list
 * (`append`, and arrays given to `set`), under `<prefix>:run:{<runId>}:ch:`. Behaves exactly
 * like `MemoryChannel` (same conformance suite): same value types, TTLs (a plain `set` clears
 * one, `increment`/`append` keep it), `increment` atomic with JS number semantics, sorted `keys()`.
 *
 * @example A channel shared by producer and workers
 * ```ts ignore
 * import { RedisChannel } from "@graflow/graflow/redis";
 * await using channel = new RedisChannel({ url: "redis://127.0.0.1:6379", runId: "run-1" });
 * await channel.increment("rows", 10);
 * await channel.append("log", "loaded");
 * ```
 */
export class RedisChannel implements SnapshotChannel, AsyncDisposable {
  /** The run. */
  readonly runId: string;
  readonly #keys: RedisKeys;
  readonly #options: RedisConnectionOptions;
  #connection: Redis | undefined;
  #owned = true;
  readonly #index: string;
  readonly #base: string;
  readonly #max: number;
  #closed = false;

  static {
    attach = (channel, redis) => {
      channel.#connection = redis;
      channel.#owned = false;
      return channel;
    };
  }

  /**
   * Creates the channel; its connection opens on first use.
   *
   * @param options Run id, prefix, connection.
   * @throws {TypeError} When the run id, prefix or URL is malformed.
   * @throws {RangeError} When `maxValueBytes` is not positive.
   */
  constructor(options: RedisChannelOptions) {
    if (typeof options?.runId !== "string" || !RUN_ID.test(options.runId)) {
      throw new TypeError(
        `Cannot create RedisChannel: runId must be 1-128 characters of [A-Za-z0-9_.:-], got ${
          JSON.stringify(options?.runId)
        }`,
      );
    }
    this.#max = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!(this.#max > 0)) {
      throw new RangeError(
        `Cannot create RedisChannel: maxValueBytes must be positive, got ${this.#max}`,
      );
    }
    this.runId = options.runId;
    this.#keys = new RedisKeys(options.prefix);
    this.#index = this.#keys.channelIndex(this.runId);
    this.#base = this.#keys.channelBase(this.runId);
    this.#options = { url: redisUrl(options.url), tls: options.tls };
  }

  get #redis(): Redis {
    if (this.#closed && this.#owned) {
      throw new Error(`Cannot use RedisChannel of run ${this.runId}: it is closed`);
    }
    return this.#connection ??= connectRedis(this.#options);
  }

  async #run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const redis = this.#redis;
    try {
      return await script.run(redis, keys, args);
    } catch (error) {
      throw explainRedisError(redis, error);
    }
  }

  #value(key: string): string {
    return this.#base + key;
  }

  /** {@inheritDoc Channel.get} */
  async get<T>(key: string, fallback?: T): Promise<T | undefined> {
    checkKey(key, "get");
    const r = await this.#run(CHANNEL_GET, [this.#value(key)], []) as
      | [string, string | string[]]
      | null;
    if (!r) return fallback;
    if (r[0] === "l") return (r[1] as string[]).map((item) => decodeValue(item)) as T;
    return decodeValue<T>(r[1] as string);
  }

  /** {@inheritDoc Channel.set} */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    checkKey(key, "set");
    const ttl = checkTtl(key, options.ttlMs);
    let args: string[];
    if (Array.isArray(value)) {
      const list = encodeItems(value, `channel key "${key}"`);
      checkSize(key, list.join(","), this.#max);
      args = [key, "l", ttl === undefined ? "" : String(ttl), ...list];
    } else {
      const encoded = encodeValue(value, `channel key "${key}"`);
      checkSize(key, encoded, this.#max);
      args = [key, "v", ttl === undefined ? "" : String(ttl), encoded];
    }
    await this.#run(CHANNEL_SET, [this.#index, this.#value(key)], args);
  }

  /** {@inheritDoc Channel.delete} */
  async delete(key: string): Promise<boolean> {
    checkKey(key, "delete");
    const n = await this.#run(CHANNEL_DELETE, [this.#index, this.#value(key)], [key]);
    return n === 1;
  }

  /** {@inheritDoc Channel.has} */
  async has(key: string): Promise<boolean> {
    checkKey(key, "check");
    const redis = this.#redis;
    try {
      return (await redis.exists(this.#value(key))) === 1;
    } catch (error) {
      throw explainRedisError(redis, error);
    }
  }

  /** {@inheritDoc Channel.keys} */
  async keys(): Promise<string[]> {
    const keys = await this.#run(CHANNEL_KEYS, [this.#index], [this.#base]) as string[];
    return keys.sort();
  }

  /** {@inheritDoc Channel.clear} */
  async clear(): Promise<void> {
    await this.#run(CHANNEL_CLEAR, [this.#index], [this.#base]);
  }

  /** {@inheritDoc Channel.append} */
  async append(key: string, value: unknown): Promise<number> {
    checkKey(key, "append to");
    const encoded = encodeValue(value, `channel key "${key}" (append)`);
    checkSize(key, encoded, this.#max);
    try {
      return await this.#run(CHANNEL_APPEND, [this.#index, this.#value(key)], [
        key,
        encoded,
      ]) as number;
    } catch (error) {
      if (String((error as Error)?.message).includes("GRAFLOW_NOT_LIST")) {
        throw new TypeError(
          `Cannot append to channel key "${key}": it holds a value that is not a list`,
        );
      }
      throw error;
    }
  }

  /** {@inheritDoc Channel.increment} */
  async increment(key: string, by?: number): Promise<number> {
    checkKey(key, "increment");
    const step = checkIncrement(key, by);
    try {
      const out = await this.#run(CHANNEL_INCREMENT, [this.#index, this.#value(key)], [
        key,
        Object.is(step, -0) ? "-0" : String(step),
      ]) as string;
      return decodeValue<number>(out);
    } catch (error) {
      if (String((error as Error)?.message).includes("GRAFLOW_NOT_NUMBER")) {
        throw new TypeError(
          `Cannot increment channel key "${key}": it holds a value that is not a number`,
        );
      }
      throw error;
    }
  }

  /**
   * The contents (for checkpoints): every live entry with its TTL, and how to reconnect.
   *
   * @returns The snapshot (`kind: "redis"`).
   */
  async snapshot(): Promise<ChannelSnapshot> {
    const rows = await this.#run(CHANNEL_DUMP, [this.#index], [this.#base]) as [
      string,
      string,
      string | string[],
      number,
    ][];
    const now = Date.now();
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return {
      kind: "redis",
      entries: rows.map(([key, kind, data, pttl]) => ({
        key,
        ...(kind === "l" ? { list: data as string[] } : { value: data as string }),
        ...(pttl > 0 ? { expiresAt: now + pttl } : {}),
      })),
      reference: { prefix: this.#keys.prefix, runId: this.runId },
    };
  }

  /** Closes the connection if this channel opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned && this.#connection) await quit(this.#connection);
  }

  /** Same as {@linkcode RedisChannel.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Closes a connection politely, or at once when Redis does not answer.
 *
 * @param redis The connection.
 */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status !== "ready") {
    redis.disconnect();
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      redis.quit(),
      new Promise((resolve) => timer = setTimeout(resolve, 1000)),
    ]);
  } catch {
    /* closing anyway */
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
