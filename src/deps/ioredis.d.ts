/**
 * The part of ioredis 5's API that Graflow's Redis modules and tests use, declared as ioredis declares it
 * (callbacks left out); see `ioredis.ts` for why it is declared here.
 *
 * @module
 */

/** A key or field. */
type Key = string | Uint8Array;
/** A command argument. */
type Arg = string | number | Uint8Array;

/** Connection states. */
export type RedisStatus =
  | "wait"
  | "reconnecting"
  | "connecting"
  | "connect"
  | "ready"
  | "close"
  | "end";

/** The connection options Graflow sets (ioredis accepts many more). */
export interface RedisOptions {
  host?: string;
  port?: number;
  /** Node's `tls.connect` options (passed through). */
  tls?: unknown;
  connectionName?: string;
  maxRetriesPerRequest?: number | null;
  retryStrategy?: (times: number) => number | void | null;
  lazyConnect?: boolean;
  enableAutoPipelining?: boolean;
}

/** Commands queued by `multi()`. */
export interface ChainableCommander {
  hset(key: Key, ...fieldValues: Arg[]): ChainableCommander;
  pexpire(key: Key, milliseconds: number | string): ChainableCommander;
  publish(channel: Key, message: Key): ChainableCommander;
  exec(): Promise<[error: Error | null, result: unknown][] | null>;
}

/** A connection to Redis. */
export declare class Redis {
  constructor(url: string, options?: RedisOptions);
  constructor(options?: RedisOptions);
  options: RedisOptions;
  status: RedisStatus;

  /** `"error"` passes an `Error`, `"message"` a channel and a message, a status nothing. */
  // deno-lint-ignore no-explicit-any
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  // deno-lint-ignore no-explicit-any
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  duplicate(override?: Partial<RedisOptions>): Redis;
  disconnect(reconnect?: boolean): void;
  quit(): Promise<"OK">;
  multi(): ChainableCommander;

  call(command: string, ...args: Arg[]): Promise<unknown>;
  eval(script: Key, numkeys: number | string, ...keysAndArgs: Arg[]): Promise<unknown>;
  evalsha(sha1: Key, numkeys: number | string, ...keysAndArgs: Arg[]): Promise<unknown>;
  ping(): Promise<"PONG">;
  del(...keys: Key[]): Promise<number>;
  exists(...keys: Key[]): Promise<number>;
  pexpire(key: Key, milliseconds: number | string): Promise<number>;
  publish(channel: Key, message: Key): Promise<number>;
  subscribe(...channels: Key[]): Promise<unknown>;
  unsubscribe(...channels: Key[]): Promise<unknown>;
  hget(key: Key, field: Key): Promise<string | null>;
  hmget(key: Key, ...fields: Key[]): Promise<(string | null)[]>;
  hgetall(key: Key): Promise<Record<string, string>>;
  hset(key: Key, ...fieldValues: Arg[]): Promise<number>;
  hsetnx(key: Key, field: Key, value: Arg): Promise<number>;
  hdel(key: Key, ...fields: Key[]): Promise<number>;
  xadd(key: Key, ...args: Arg[]): Promise<string | null>;
  xlen(key: Key): Promise<number>;
  xrange(
    key: Key,
    start: Arg,
    end: Arg,
    ...count: Arg[]
  ): Promise<[id: string, fields: string[]][]>;
  xgroup(subcommand: string, ...args: Arg[]): Promise<unknown>;
  xinfo(subcommand: string, ...args: Arg[]): Promise<unknown>;
  xpending(key: Key, group: Key, ...args: Arg[]): Promise<unknown[]>;
}
