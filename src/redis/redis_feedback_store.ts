/**
 * Human-in-the-loop requests and answers in Redis, for runs on the Redis backend: any process
 * (a web server, a CLI) can answer with `provideFeedback(id, response, { store })`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { FeedbackResponse } from "../context/task_context.ts";
import type { FeedbackRecord, FeedbackStore } from "../checkpoint/feedback_store.ts";
import { alreadyAnswered, checkResponse, notFound } from "../checkpoint/feedback_errors.ts";
import { connectRedis, type RedisConnectionOptions } from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { LuaScript } from "./lua_script.ts";
import { quit } from "./redis_channel.ts";
import { Subscriber } from "./subscriber.ts";

/** KEYS: feedback hash. ARGV: response JSON, channel. Returns -1 unknown, 0 answered, 1 ok. */
const RESPOND = new LuaScript(
  "feedback_respond",
  `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], 'response', ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], '1')
return 1`,
);

/** Options of {@linkcode RedisFeedbackStore}. */
export interface RedisFeedbackStoreOptions extends RedisConnectionOptions {
  /** Key prefix. @default {"graflow"} */
  prefix?: string;
  /** A connection to use (not closed by `close()`). */
  redis?: Redis;
  /** How often `wait` checks besides pub/sub. @default {1000} */
  pollMs?: number;
  /** How long requests stay in Redis. @default {undefined} (until deleted) */
  ttlMs?: number;
}

/**
 * A {@linkcode FeedbackStore} in Redis (a hash per request: `record` and, once answered,
 * `response`); `wait` wakes up by pub/sub and polls.
 *
 * @example Answering from another process
 * ```ts ignore
 * import { provideFeedback } from "@graflow/graflow";
 * import { RedisFeedbackStore } from "@graflow/graflow/redis";
 * await using store = new RedisFeedbackStore({ url: "redis://127.0.0.1:6379" });
 * await provideFeedback(id, { approved: true }, { store });
 * ```
 */
export class RedisFeedbackStore implements FeedbackStore, AsyncDisposable {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #keys: RedisKeys;
  readonly #pollMs: number;
  readonly #ttlMs: number | undefined;
  #subscriber: Subscriber | undefined;
  #closed = false;

  /**
   * Creates the store.
   *
   * @param options Connection and prefix.
   */
  constructor(options: RedisFeedbackStoreOptions = {}) {
    this.#keys = new RedisKeys(options.prefix);
    this.#owned = !options.redis;
    this.#redis = options.redis ?? connectRedis(options);
    this.#pollMs = options.pollMs ?? 1000;
    this.#ttlMs = options.ttlMs;
  }

  /** Saves a new request (an existing id is kept as is). */
  async create(record: FeedbackRecord): Promise<void> {
    const key = this.#keys.feedback(record.id);
    await this.#redis.hsetnx(key, "record", JSON.stringify(record));
    if (this.#ttlMs) await this.#redis.pexpire(key, this.#ttlMs);
  }

  /** Reads a request and its answer. */
  async get(id: string): Promise<FeedbackRecord | undefined> {
    const [record, response] = await this.#redis.hmget(
      this.#keys.feedback(id),
      "record",
      "response",
    );
    if (!record) return undefined;
    const r = JSON.parse(record) as FeedbackRecord;
    if (response) r.response = JSON.parse(response);
    return r;
  }

  /** Stores the answer; refuses unknown and already answered requests. */
  async respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord> {
    const record = await this.get(id);
    if (!record) throw notFound(id);
    if (record.response) throw alreadyAnswered(id);
    checkResponse(record, response);
    const r = await RESPOND.run(this.#redis, [this.#keys.feedback(id)], [
      JSON.stringify(response),
      this.#keys.feedbackAnswered(id),
    ]);
    if (r === -1) throw notFound(id);
    if (r === 0) throw alreadyAnswered(id);
    return { ...record, response: structuredClone(response) };
  }

  /** Resolves with the answer once there is one; rejects with `signal.reason` on abort. */
  async wait(id: string, signal: AbortSignal): Promise<FeedbackResponse> {
    signal.throwIfAborted();
    const channel = this.#keys.feedbackAnswered(id);
    this.#subscriber ??= new Subscriber(this.#redis);
    const sub = this.#subscriber;
    let wake!: () => void;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onMessage = () => wake?.();
    const onAbort = () => wake?.();
    await sub.on(channel, onMessage);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (true) {
        const response = await this.#redis.hget(this.#keys.feedback(id), "response");
        if (response) return JSON.parse(response);
        signal.throwIfAborted();
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, this.#pollMs);
        });
        clearTimeout(timer);
        signal.throwIfAborted();
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      await sub.off(channel, onMessage);
    }
  }

  /** Closes the connections this store opened. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#subscriber?.close().catch(() => {});
    if (this.#owned) await quit(this.#redis);
  }

  /** Same as {@linkcode RedisFeedbackStore.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
