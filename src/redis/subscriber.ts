/**
 * One pub/sub connection per process side, dispatching messages to handlers by channel.
 * Pub/sub only wakes waiters up; everything it carries is also stored, and waiters poll, so a
 * message lost while Redis was away delays nothing for long.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { quit } from "./redis_channel.ts";

/** Handles a message of one pub/sub channel. */
export type MessageHandler = (message: string) => void;

/** A subscriber connection (a duplicate of a command connection). */
export class Subscriber implements AsyncDisposable {
  readonly #redis: Redis;
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  #closed = false;

  /**
   * Creates the subscriber.
   *
   * @param base The command connection to duplicate (URL, TLS and credentials).
   */
  constructor(base: Redis) {
    this.#redis = base.duplicate();
    this.#redis.on("error", () => {});
    this.#redis.on("message", (channel: string, message: string) => {
      for (const h of this.#handlers.get(channel) ?? []) {
        try {
          h(message);
        } catch { /* a failing handler must not stop the others */ }
      }
    });
  }

  /**
   * Listens on a channel (subscribing on first use).
   *
   * @param channel The pub/sub channel.
   * @param handler Called with each message.
   * @returns Resolves once subscribed.
   */
  async on(channel: string, handler: MessageHandler): Promise<void> {
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set([handler]);
      this.#handlers.set(channel, set);
      try {
        await this.#redis.subscribe(channel);
      } catch (error) {
        if (this.#handlers.get(channel) === set) this.#handlers.delete(channel);
        throw error;
      }
      return;
    }
    set.add(handler);
  }

  /**
   * Stops a handler (unsubscribing when it was the last of its channel).
   *
   * @param channel The pub/sub channel.
   * @param handler The handler given to {@linkcode Subscriber.on}.
   */
  async off(channel: string, handler: MessageHandler): Promise<void> {
    const set = this.#handlers.get(channel);
    if (!set?.delete(handler) || set.size > 0) return;
    this.#handlers.delete(channel);
    if (!this.#closed) await this.#redis.unsubscribe(channel).catch(() => {});
  }

  /** Closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    await quit(this.#redis);
  }

  /** Same as {@linkcode Subscriber.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
