/**
 * Human-in-the-loop requests and answers in Redis, for runs on the Redis backend: any process
 * (a web server, a CLI) can answer with `provideFeedback(id, response, { store })`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { FeedbackResponse } from "../context/task_context.ts";
import {
  type FeedbackCancellation,
  type FeedbackListOptions,
  type FeedbackRecord,
  type FeedbackStore,
  selectFeedback,
} from "../checkpoint/feedback_store.ts";
import {
  alreadyAnswered,
  cancelledError,
  checkResponse,
  notFound,
} from "../checkpoint/feedback_errors.ts";
import { connectRedis, type RedisConnectionOptions } from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { LuaScript } from "./lua_script.ts";
import { quit } from "./redis_channel.ts";
import { Subscriber } from "./subscriber.ts";

/**
 * Settles a request once (an answer, or `{"cancelled": …}`).
 * KEYS: feedback hash. ARGV: settlement JSON, channel. Returns -1 unknown, 0 settled, 1 ok.
 */
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
    await this.#redis.zadd(
      this.#keys.feedbackIndex(),
      Date.parse(record.createdAt) || 0,
      record.id,
    );
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
    if (response) {
      const settled = JSON.parse(response);
      if (settled.cancelled) r.cancelled = settled.cancelled;
      else r.response = settled;
    }
    return r;
  }

  async #settle(
    id: string,
    settlement: FeedbackResponse | { cancelled: FeedbackCancellation },
  ): Promise<FeedbackRecord> {
    const record = await this.get(id);
    const refuse = (r: FeedbackRecord | undefined) =>
      !r
        ? notFound(id)
        : r.cancelled
        ? cancelledError(id, r.cancelled.reason)
        : alreadyAnswered(id);
    if (!record || record.response || record.cancelled) throw refuse(record);
    if (!("cancelled" in settlement)) checkResponse(record, settlement);
    const r = await RESPOND.run(this.#redis, [this.#keys.feedback(id)], [
      JSON.stringify(settlement),
      this.#keys.feedbackAnswered(id),
    ]);
    if (r !== 1) throw refuse(await this.get(id));
    return (await this.get(id))!;
  }

  /** Stores the answer; refuses unknown, answered and cancelled requests. */
  respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord> {
    return this.#settle(id, response);
  }

  /** Cancels an open request. */
  cancel(id: string, cancellation: FeedbackCancellation): Promise<FeedbackRecord> {
    return this.#settle(id, { cancelled: cancellation });
  }

  /** Requests, newest first (from the index; entries whose request expired are dropped). */
  async list(options: FeedbackListOptions = {}): Promise<FeedbackRecord[]> {
    const limit = options.limit ?? 100;
    const out: FeedbackRecord[] = [];
    const index = this.#keys.feedbackIndex();
    for (let start = 0;;) {
      const ids = await this.#redis.zrevrange(index, start, start + 499);
      if (!ids.length) break;
      for (const id of ids) {
        const r = await this.get(id);
        if (!r) await this.#redis.zrem(index, id); // the next entries move up by one
        else {
          start++;
          if (selectFeedback([r], options).length) out.push(r);
        }
      }
      if (out.length >= limit) break;
    }
    return selectFeedback(out, options);
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
        if (response) {
          const settled = JSON.parse(response);
          if (settled.cancelled) throw cancelledError(id, settled.cancelled.reason);
          return settled;
        }
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
