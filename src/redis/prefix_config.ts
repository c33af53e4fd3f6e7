/**
 * Settings a producer shares with the workers of its prefix through Redis (today: the lease).
 * Values are signed when a secret is set (an unsigned or forged value is ignored), and a lease
 * read from Redis is clamped to {@linkcode LEASE_RANGE_MS} whatever it says: data in Redis can
 * neither make workers reclaim running tasks at once (`leaseMs 1`) nor stall recovery for days.
 * A change is announced on the control channel; running workers also re-read it periodically.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "./keys.ts";
import type { Signer } from "./signing.ts";
import { encodeWake } from "./wake.ts";

/** The lease a producer may set for its prefix, and the range a lease read from Redis is clamped to. */
export const LEASE_RANGE_MS = [1000, 3_600_000] as const;

/** What {@linkcode PrefixConfig.lease} found. */
export interface LeaseSetting {
  /** The lease to use, when one is set (clamped). */
  leaseMs?: number;
  /** Why the stored value was ignored or clamped. */
  problem?: string;
}

/**
 * Clamps a lease to {@linkcode LEASE_RANGE_MS}.
 *
 * @param ms The lease.
 * @returns The clamped lease.
 */
export function clampLease(ms: number): number {
  return Math.min(LEASE_RANGE_MS[1], Math.max(LEASE_RANGE_MS[0], Math.round(ms)));
}

/** The prefix's shared settings. */
export class PrefixConfig {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #signer: Signer;

  /**
   * Creates the handle (no I/O).
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param signer Signs and checks the values.
   */
  constructor(redis: Redis, keys: RedisKeys, signer: Signer) {
    this.#redis = redis;
    this.#keys = keys;
    this.#signer = signer;
  }

  /**
   * Sets the lease of the prefix's queue and tells running workers.
   *
   * @param leaseMs Milliseconds, within {@linkcode LEASE_RANGE_MS}.
   */
  async setLease(leaseMs: number): Promise<void> {
    const value = this.#signer.seal("config", "", "leaseMs", String(leaseMs));
    await this.#redis.multi()
      .hset(this.#keys.config(), "leaseMs", value)
      .publish(this.#keys.control(), encodeWake({ kind: "config" }))
      .exec();
  }

  /**
   * Reads the lease of the prefix's queue.
   *
   * @returns The lease (clamped), or why the stored value was ignored.
   */
  async lease(): Promise<LeaseSetting> {
    const raw = await this.#redis.hget(this.#keys.config(), "leaseMs");
    return raw === null ? {} : readLease(raw, this.#signer, this.#keys.config());
  }
}

/**
 * Decodes a stored lease.
 *
 * @param raw The stored value (untrusted).
 * @param signer Checks its signature.
 * @param where The hash, for messages.
 * @returns The lease (clamped), or why it was ignored.
 */
export function readLease(raw: unknown, signer: Signer, where: string): LeaseSetting {
  let text: string;
  if (signer.signs) {
    try {
      text = signer.open("config", "", "leaseMs", raw);
    } catch {
      return { problem: `the leaseMs in ${where} is not signed with this secret: ignored` };
    }
  } else {
    const s = String(raw);
    text = s.slice(s.indexOf("|") + 1);
  }
  if (!/^\d{1,16}$/.test(text)) {
    return { problem: `the leaseMs in ${where} is not a whole number: ignored` };
  }
  const n = Number(text);
  const leaseMs = clampLease(n);
  return leaseMs === n ? { leaseMs } : {
    leaseMs,
    problem: `the leaseMs in ${where} (${n}) is outside ${LEASE_RANGE_MS[0]}-${
      LEASE_RANGE_MS[1]
    } ms: clamped to ${leaseMs}`,
  };
}
