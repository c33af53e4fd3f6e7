/**
 * What a worker keeps up besides its tasks: it announces itself (a heartbeat in Redis that
 * expires, so producers can tell that no worker is live), and, unless it was given its own
 * lease, it follows the lease its prefix's producers set (signed when a secret is set, clamped)
 * without a restart.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import type { PrefixConfig } from "../redis/prefix_config.ts";
import { WORKER_HEARTBEAT } from "../redis/queue_scripts.ts";

/** How often a worker announces itself. */
export const HEARTBEAT_MS = 1000;
/** How long an announcement lasts (a worker whose loop stalls longer counts as gone). */
export const HEARTBEAT_TTL_MS = 10_000;
/** How often a worker re-reads the prefix's lease besides change notices. */
export const CONFIG_POLL_MS = 5000;

/** What {@linkcode WorkerPresence} reports to its worker. */
export interface PresenceHooks {
  /** The lease to use changed. */
  onLease(leaseMs: number): void;
  /** A stored setting was ignored or clamped. */
  onWarning(message: string): void;
}

/** A worker's heartbeat and lease following. */
export class WorkerPresence {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #config: PrefixConfig;
  readonly #workerId: string;
  readonly #follow: boolean;
  readonly #hooks: PresenceHooks;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #lease: number | undefined;
  #problem: string | undefined;

  /**
   * Creates the presence (no I/O).
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param config The prefix's settings.
   * @param workerId The worker.
   * @param follow Whether to follow the prefix's lease (the worker has no lease of its own).
   * @param hooks Where changes and problems go.
   */
  constructor(
    redis: Redis,
    keys: RedisKeys,
    config: PrefixConfig,
    workerId: string,
    follow: boolean,
    hooks: PresenceHooks,
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#config = config;
    this.#workerId = workerId;
    this.#follow = follow;
    this.#hooks = hooks;
  }

  /**
   * The prefix's lease now (when followed).
   *
   * @returns Milliseconds, or undefined when none is set or it is not followed.
   */
  async initialLease(): Promise<number | undefined> {
    if (!this.#follow) return undefined;
    await this.refresh();
    return this.#lease;
  }

  /** Starts the heartbeat and the periodic lease check. */
  async start(): Promise<void> {
    await this.#beat();
    this.#timers.push(setInterval(() => this.#beat().catch(() => {}), HEARTBEAT_MS));
    if (this.#follow) {
      this.#timers.push(setInterval(() => this.refresh().catch(() => {}), CONFIG_POLL_MS));
    }
  }

  async #beat(): Promise<void> {
    await WORKER_HEARTBEAT.run(this.#redis, [this.#keys.workers()], [
      this.#workerId,
      HEARTBEAT_TTL_MS,
    ]);
  }

  /** Re-reads the prefix's lease (on a change notice, and periodically). */
  async refresh(): Promise<void> {
    if (!this.#follow) return;
    const { leaseMs, problem } = await this.#config.lease();
    if (problem && problem !== this.#problem) this.#hooks.onWarning(problem);
    this.#problem = problem;
    if (leaseMs !== undefined && leaseMs !== this.#lease) {
      const first = this.#lease === undefined;
      this.#lease = leaseMs;
      if (!first || this.#timers.length) this.#hooks.onLease(leaseMs);
    }
  }

  /** Stops the timers and withdraws the announcement. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    await this.#redis.zrem(this.#keys.workers(), this.#workerId);
  }
}
