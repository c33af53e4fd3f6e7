/**
 * Human-in-the-loop requests and answers in Redis, for runs on the Redis backend: any process
 * (a web server, a CLI) can answer with `provideFeedback(id, response, { store })`.
 *
 * With a secret, a request and its answer are signed (bound to the request id and direction):
 * an answer written into Redis by anyone without the secret is never taken, and a genuine
 * answer can still replace it. Every request expires after the retention.
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
import {
  connectRedis,
  envVar,
  type RedisConnectionOptions,
  redisUrl,
  safeUrl,
} from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { LuaScript } from "./lua_script.ts";
import { quit } from "./redis_channel.ts";
import { Subscriber } from "./subscriber.ts";
import { Signer } from "./signing.ts";
import { checkTransport } from "./transport_policy.ts";
import { checkDuration, DEFAULT_RETENTION_MS } from "./retention.ts";

/**
 * Settles a request once: its answer, or `{"cancelled": …}`, sealed.
 * KEYS: feedback hash. ARGV: sealed settlement, channel, retention ms, the settlement found before
 * ('' for none). Settles unless another settlement was stored meanwhile. Returns -1 unknown,
 * 0 settled, 1 ok.
 */
const RESPOND = new LuaScript(
  "feedback_respond",
  `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'response')
if (cur or '') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'response', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[2], '1')
return 1`,
);

/** Options of {@linkcode RedisFeedbackStore}. */
export interface RedisFeedbackStoreOptions extends RedisConnectionOptions {
  /** Key prefix. @default {"graflow"} */
  prefix?: string;
  /** HMAC secret (the backend's): requests and answers are signed. @default {env GRAFLOW_SECRET} */
  secret?: string;
  /** Without a secret, allow a Redis that is not on this machine. @default {false} */
  insecure?: boolean;
  /** How often `wait` checks besides pub/sub. @default {1000} */
  pollMs?: number;
  /** How long a request (and its answer) stays in Redis. @default {604800000} (7 days) */
  retentionMs?: number;
}

let attach: (store: RedisFeedbackStore, redis: Redis, signer: Signer) => RedisFeedbackStore;
/** True while {@linkcode redisFeedbackStoreOn} constructs (no connection of its own). */
let attaching = false;

/**
 * A feedback store on an existing connection (the backend's), signed with its signer.
 *
 * @param redis The connection (left open by `close()`).
 * @param signer The backend's signer.
 * @param options Prefix, poll interval, retention.
 * @returns The store.
 */
export function redisFeedbackStoreOn(
  redis: Redis,
  signer: Signer,
  options: { prefix: string; pollMs: number; retentionMs: number },
): RedisFeedbackStore {
  attaching = true;
  try {
    return attach(new RedisFeedbackStore(options), redis, signer);
  } finally {
    attaching = false;
  }
}

/**
 * A {@linkcode FeedbackStore} in Redis (a hash per request: `record` and, once answered,
 * `response`); `wait` wakes up by pub/sub and polls.
 *
 * @example Answering from another process
 * ```ts ignore
 * import { provideFeedback } from "@graflow/graflow";
 * import { RedisFeedbackStore } from "@graflow/graflow/redis";
 * await using store = new RedisFeedbackStore({ url: "redis://127.0.0.1:6379", secret });
 * await provideFeedback(id, { approved: true }, { store });
 * ```
 */
export class RedisFeedbackStore implements FeedbackStore, AsyncDisposable {
  #redis!: Redis;
  #owned = true;
  #signer: Signer;
  readonly #keys: RedisKeys;
  readonly #pollMs: number;
  readonly #retention: number;
  #subscriber: Subscriber | undefined;
  #closed = false;

  static {
    attach = (store, redis, signer) => {
      store.#redis = redis;
      store.#owned = false;
      store.#signer = signer;
      return store;
    };
  }

  /**
   * Creates the store.
   *
   * @param options Connection, prefix, secret, retention.
   * @throws {TypeError} When the URL or prefix is malformed, or there is no secret for a Redis
   * that is not on this machine (without `insecure`).
   * @throws {RangeError} When `pollMs` or `retentionMs` is out of range.
   */
  constructor(options: RedisFeedbackStoreOptions = {}) {
    const what = "Cannot create RedisFeedbackStore";
    this.#keys = new RedisKeys(options.prefix);
    this.#pollMs = checkDuration(what, "pollMs", options.pollMs, 1000);
    this.#retention = checkDuration(what, "retentionMs", options.retentionMs, DEFAULT_RETENTION_MS);
    const secret = options.secret ?? envVar("GRAFLOW_SECRET");
    this.#signer = new Signer(secret, this.#keys.prefix);
    if (attaching) return; // redisFeedbackStoreOn gives it the backend's connection
    const url = redisUrl(options.url);
    checkTransport({
      action: "create RedisFeedbackStore",
      url,
      safeUrl: safeUrl(url),
      secret,
      insecure: options.insecure,
    });
    this.#redis = connectRedis({ ...options, url });
  }

  /** Saves a new request (an existing id is kept as is). */
  async create(record: FeedbackRecord): Promise<void> {
    const key = this.#keys.feedback(record.id);
    const sealed = this.#signer.seal("feedback-request", "", record.id, JSON.stringify(record));
    const index = this.#keys.feedbackIndex();
    await this.#redis.multi()
      .hsetnx(key, "record", sealed)
      .pexpire(key, this.#retention)
      .zadd(index, Date.parse(record.createdAt) || 0, record.id)
      .pexpire(index, this.#retention) // the index outlives its newest request by the retention
      .exec();
  }

  /**
   * Reads a request and its answer (an answer that is not authentic is left out).
   *
   * @throws {WorkflowError} `BAD_SIGNATURE` when the stored request is not authentic.
   */
  async get(id: string): Promise<FeedbackRecord | undefined> {
    return (await this.#read(id)).record;
  }

  async #read(id: string): Promise<{ record?: FeedbackRecord; raw: string }> {
    const [rec, response] = await this.#redis.hmget(this.#keys.feedback(id), "record", "response");
    if (!rec) return { raw: "" };
    const r = JSON.parse(this.#signer.open("feedback-request", "", id, rec)) as FeedbackRecord;
    const settled = this.#settlement(r, response);
    if (settled?.cancelled) r.cancelled = settled.cancelled;
    else if (settled) r.response = settled as FeedbackResponse;
    return { record: r, raw: response ?? "" };
  }

  #settlement(
    record: FeedbackRecord,
    sealed: string | null,
  ): (FeedbackResponse & { cancelled?: FeedbackCancellation }) | undefined {
    if (!sealed) return undefined;
    const r = this.#signer.check("feedback-answer", record.runId ?? "", record.id, sealed);
    return "text" in r ? JSON.parse(r.text) : undefined;
  }

  async #settle(
    id: string,
    settlement: FeedbackResponse | { cancelled: FeedbackCancellation },
  ): Promise<FeedbackRecord> {
    const { record, raw } = await this.#read(id);
    const refuse = (r: FeedbackRecord | undefined) =>
      !r
        ? notFound(id)
        : r.cancelled
        ? cancelledError(id, r.cancelled.reason)
        : alreadyAnswered(id);
    if (!record || record.response || record.cancelled) throw refuse(record);
    if (!("cancelled" in settlement)) checkResponse(record, settlement);
    const sealed = this.#signer.seal(
      "feedback-answer",
      record.runId ?? "",
      id,
      JSON.stringify(settlement),
    );
    // `raw` is "" or a settlement that is not authentic: either may be replaced, nothing else.
    const r = await RESPOND.run(this.#redis, [this.#keys.feedback(id)], [
      sealed,
      this.#keys.feedbackAnswered(id),
      this.#retention,
      raw,
    ]);
    if (r !== 1) throw refuse((await this.#read(id)).record);
    return (await this.#read(id)).record!;
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
        const r = await this.get(id).catch(() => undefined);
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

  /** Resolves with the (authentic) answer once there is one; rejects with `signal.reason` on abort. */
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
        const record = (await this.#read(id)).record;
        if (record?.cancelled) throw cancelledError(id, record.cancelled.reason);
        if (record?.response) return record.response;
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
