/**
 * Helpers of the Redis attack tests: a raw client (the attacker's: anyone who can write to
 * Redis), a pub/sub spy, and waiting without fixed sleeps.
 *
 * @module
 */
import { Redis } from "ioredis";

export { NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";

/** A raw connection, disposed with `await using`. */
export function attacker(url: string): Redis & AsyncDisposable {
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  redis.on("error", () => {});
  return Object.assign(redis, { [Symbol.asyncDispose]: async () => redis.disconnect() });
}

/** Every pub/sub message on channels matching a pattern, as it arrives. */
export class Spy implements AsyncDisposable {
  readonly messages: { channel: string; message: string }[] = [];
  readonly #redis: Redis;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Listens on `pattern` (PSUBSCRIBE). */
  static async on(url: string, pattern: string): Promise<Spy> {
    const redis = new Redis(url);
    redis.on("error", () => {});
    const spy = new Spy(redis);
    redis.on("pmessage", (_p: string, channel: string, message: string) => {
      spy.messages.push({ channel, message });
    });
    await redis.psubscribe(pattern);
    return spy;
  }

  /** Waits for a message that `match` accepts. */
  async next(match: (m: { channel: string; message: string }) => boolean, ms = 10_000) {
    return await waitFor(async () => this.messages.find(match), ms);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#redis.disconnect();
  }
}

/** Polls `f` until it returns something other than `undefined` (or fails after `ms`). */
export async function waitFor<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${ms} ms`);
}

/** The fields of stream entries as objects. */
export function entries(rows: [string, string[]][]): { id: string; f: Record<string, string> }[] {
  return rows.map(([id, raw]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < raw.length; i += 2) f[raw[i]] = raw[i + 1];
    return { id, f };
  });
}

/** A non-loopback IPv4 address of this machine, if it has one. */
export function externalAddress(): string | undefined {
  try {
    return Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    )?.address;
  } catch {
    return undefined;
  }
}
