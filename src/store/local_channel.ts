/**
 * The channel of a run recorded in `localRunStore()`: its keys live in the store's database,
 * so a process that continues the run sees what the tasks wrote before their owner died.
 * Behaves exactly like `MemoryChannel` (the channel conformance suite).
 *
 * @module
 */
import type { DatabaseSync } from "../deps/sqlite.ts";
import { sql, transaction } from "./sqlite_schema.ts";
import {
  type ChannelSnapshot,
  checkIncrement,
  checkKey,
  checkSize,
  checkTtl,
  type SetOptions,
  type SnapshotChannel,
} from "../channels/channel.ts";
import { decodeValue, encodeItems, encodeValue } from "../channels/codec.ts";
import type { Clock } from "../time/clock.ts";

interface Row {
  key: string;
  value: string | null;
  list: string | null;
  expires_at: number | null;
}

/** The largest value a key holds, as in `MemoryChannel`. */
const MAX_VALUE_BYTES = 64 * 1024 * 1024;

/** A run's channel in the local store's database. */
export class LocalChannel implements SnapshotChannel {
  readonly #db: DatabaseSync;
  readonly #runId: string;
  readonly #clock: Clock;

  /**
   * @internal Made by the local store.
   *
   * @param db The database.
   * @param runId The run.
   * @param clock Time source of TTLs.
   */
  constructor(db: DatabaseSync, runId: string, clock: Clock) {
    this.#db = db;
    this.#runId = runId;
    this.#clock = clock;
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.#db, fn);
  }

  #live(key: string): Row | undefined {
    const row = sql(
      this.#db,
      "SELECT key, value, list, expires_at FROM channel WHERE run_id = ? AND key = ?",
    ).get(this.#runId, key) as Row | undefined;
    if (row?.expires_at != null && row.expires_at <= this.#clock.now()) {
      sql(this.#db, "DELETE FROM channel WHERE run_id = ? AND key = ?").run(this.#runId, key);
      return undefined;
    }
    return row;
  }

  #put(key: string, value: string | null, list: string[] | null, expiresAt?: number): void {
    sql(
      this.#db,
      "INSERT OR REPLACE INTO channel (run_id, key, value, list, expires_at) VALUES (?, ?, ?, ?, ?)",
    ).run(this.#runId, key, value, list ? JSON.stringify(list) : null, expiresAt ?? null);
  }

  /** {@inheritDoc Channel.get} */
  async get<T>(key: string, fallback?: T): Promise<T | undefined> {
    checkKey(key, "get");
    const row = this.#live(key);
    if (!row) return fallback;
    if (row.list !== null) {
      return (JSON.parse(row.list) as string[]).map((item) => decodeValue(item)) as T;
    }
    return decodeValue<T>(row.value!);
  }

  /** {@inheritDoc Channel.set} */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    checkKey(key, "set");
    const ttl = checkTtl(key, options.ttlMs);
    // An expiry past 2^53 ms is never (SQLite would not read it back as a number).
    const expiresAt = ttl === undefined
      ? undefined
      : Math.min(this.#clock.now() + ttl, Number.MAX_SAFE_INTEGER);
    if (Array.isArray(value)) {
      const list = encodeItems(value, `channel key "${key}"`);
      checkSize(key, list.join(","), MAX_VALUE_BYTES);
      this.#put(key, null, list, expiresAt);
    } else {
      const encoded = encodeValue(value, `channel key "${key}"`);
      checkSize(key, encoded, MAX_VALUE_BYTES);
      this.#put(key, encoded, null, expiresAt);
    }
  }

  /** {@inheritDoc Channel.delete} */
  async delete(key: string): Promise<boolean> {
    checkKey(key, "delete");
    return this.#tx(() => {
      const existed = this.#live(key) !== undefined;
      sql(this.#db, "DELETE FROM channel WHERE run_id = ? AND key = ?").run(this.#runId, key);
      return existed;
    });
  }

  /** {@inheritDoc Channel.has} */
  async has(key: string): Promise<boolean> {
    checkKey(key, "check");
    return this.#live(key) !== undefined;
  }

  /** {@inheritDoc Channel.keys} */
  async keys(): Promise<string[]> {
    const rows = sql(
      this.#db,
      "SELECT key FROM channel WHERE run_id = ? AND (expires_at IS NULL OR expires_at > ?)",
    ).all(this.#runId, this.#clock.now()) as unknown as { key: string }[];
    return rows.map((r) => r.key).sort();
  }

  /** {@inheritDoc Channel.clear} */
  async clear(): Promise<void> {
    sql(this.#db, "DELETE FROM channel WHERE run_id = ?").run(this.#runId);
  }

  /** {@inheritDoc Channel.append} */
  async append(key: string, value: unknown): Promise<number> {
    checkKey(key, "append to");
    const encoded = encodeValue(value, `channel key "${key}" (append)`);
    checkSize(key, encoded, MAX_VALUE_BYTES);
    return this.#tx(() => {
      const row = this.#live(key);
      if (!row) {
        this.#put(key, null, [encoded]);
        return 1;
      }
      if (row.list === null) {
        throw new TypeError(
          `Cannot append to channel key "${key}": it holds a value that is not a list`,
        );
      }
      const list = JSON.parse(row.list) as string[];
      list.push(encoded);
      this.#put(key, null, list, row.expires_at ?? undefined);
      return list.length;
    });
  }

  /** {@inheritDoc Channel.increment} */
  async increment(key: string, by?: number): Promise<number> {
    checkKey(key, "increment");
    const step = checkIncrement(key, by);
    return this.#tx(() => {
      const row = this.#live(key);
      let current = 0;
      if (row) {
        const v = row.list !== null ? undefined : decodeValue(row.value!);
        if (typeof v !== "number") {
          throw new TypeError(
            `Cannot increment channel key "${key}": it holds a value that is not a number`,
          );
        }
        current = v;
      }
      const next = current + step;
      this.#put(key, encodeValue(next), null, row?.expires_at ?? undefined);
      return next;
    });
  }

  /**
   * The contents, for checkpoints (restored as a memory channel on resume).
   *
   * @returns The contents.
   */
  async snapshot(): Promise<ChannelSnapshot> {
    const rows = sql(
      this.#db,
      "SELECT key, value, list, expires_at FROM channel WHERE run_id = ? ORDER BY key",
    ).all(this.#runId) as unknown as Row[];
    const now = this.#clock.now();
    return {
      kind: "memory",
      entries: rows.filter((r) => r.expires_at === null || r.expires_at > now).map((r) => ({
        key: r.key,
        ...(r.list !== null ? { list: JSON.parse(r.list) } : { value: r.value! }),
        ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
      })),
    };
  }
}
