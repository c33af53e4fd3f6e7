/**
 * The part of ioredis 5's API that Graflow's Redis modules and tests use, declared as ioredis
 * declares it (callbacks left out); see `ioredis.ts` for why it is declared here.
 *
 * @module
 */

/** A key, field or channel name. */
export type RedisKey = string | Uint8Array;
/** A command argument. */
export type RedisArg = string | number | Uint8Array;

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
  /** Host of the server. */
  host?: string;
  /** Port of the server. */
  port?: number;
  /** Node's `tls.connect` options (passed through). */
  tls?: unknown;
  /** Name shown by `CLIENT LIST`. */
  connectionName?: string;
  /** Reconnection attempts a command waits for before it fails. */
  maxRetriesPerRequest?: number | null;
  /** Delay before reconnection attempt `times`. */
  retryStrategy?: (times: number) => number | void | null;
  /** Connect on the first command rather than at once. */
  lazyConnect?: boolean;
  /** Send commands issued in the same tick as one pipeline. */
  enableAutoPipelining?: boolean;
}

/** Commands queued by `multi()`, sent with `exec()`. */
export interface ChainableCommander {
  /** `HSET key field value [field value ...]`. */
  hset(key: RedisKey, ...fieldValues: RedisArg[]): ChainableCommander;
  /** `PEXPIRE key milliseconds`. */
  pexpire(key: RedisKey, milliseconds: number | string): ChainableCommander;
  /** `PUBLISH channel message`. */
  publish(channel: RedisKey, message: RedisKey): ChainableCommander;
  /** `HSETNX key field value`. */
  hsetnx(key: RedisKey, field: RedisKey, value: RedisArg): ChainableCommander;
  /** `ZADD key score member [score member ...]`. */
  zadd(key: RedisKey, ...scoreMembers: RedisArg[]): ChainableCommander;
  /** `SET key value [options...]`. */
  set(key: RedisKey, value: RedisArg, ...options: RedisArg[]): ChainableCommander;
  /** `DEL key...`. */
  del(...keys: RedisKey[]): ChainableCommander;
  /** `XADD key id field value...`. */
  xadd(key: RedisKey, ...args: RedisArg[]): ChainableCommander;
  /** Runs the queued commands in a transaction; each result with its error. */
  exec(): Promise<[error: Error | null, result: unknown][] | null>;
}

/** A connection to Redis (ioredis's `Redis` class). */
export declare class Redis {
  /**
   * Opens a connection.
   *
   * @param url `redis://…` or `rediss://…`.
   * @param options Connection options.
   */
  constructor(url: string, options?: RedisOptions);
  /**
   * Opens a connection.
   *
   * @param options Connection options.
   */
  constructor(options?: RedisOptions);
  /** The options it was opened with. */
  options: RedisOptions;
  /** The connection's state. */
  status: RedisStatus;

  /** Listens: `"error"` passes an `Error`, `"message"` a channel and a message, a status nothing. */
  // deno-lint-ignore no-explicit-any
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  /** Stops listening. */
  // deno-lint-ignore no-explicit-any
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  /** A new connection with the same options (for blocking reads and subscriptions). */
  duplicate(override?: Partial<RedisOptions>): Redis;
  /** Closes the connection at once. */
  disconnect(reconnect?: boolean): void;
  /** Closes the connection after the replies to commands sent. */
  quit(): Promise<"OK">;
  /** Starts a transaction. */
  multi(): ChainableCommander;

  /** Any command: `call("XREADGROUP", ...args)`. */
  call(command: string, ...args: RedisArg[]): Promise<unknown>;
  /** `EVAL script numkeys key... arg...`. */
  eval(script: RedisKey, numkeys: number | string, ...keysAndArgs: RedisArg[]): Promise<unknown>;
  /** `EVALSHA sha1 numkeys key... arg...`. */
  evalsha(sha1: RedisKey, numkeys: number | string, ...keysAndArgs: RedisArg[]): Promise<unknown>;
  /** `PING`. */
  ping(): Promise<"PONG">;
  /** `DEL key...`. */
  del(...keys: RedisKey[]): Promise<number>;
  /** `EXISTS key...`. */
  exists(...keys: RedisKey[]): Promise<number>;
  /** `PEXPIRE key milliseconds`. */
  pexpire(key: RedisKey, milliseconds: number | string): Promise<number>;
  /** `PUBLISH channel message`. */
  publish(channel: RedisKey, message: RedisKey): Promise<number>;
  /** `SUBSCRIBE channel...`. */
  subscribe(...channels: RedisKey[]): Promise<unknown>;
  /** `UNSUBSCRIBE channel...`. */
  unsubscribe(...channels: RedisKey[]): Promise<unknown>;
  /** `HGET key field`. */
  hget(key: RedisKey, field: RedisKey): Promise<string | null>;
  /** `HMGET key field...`. */
  hmget(key: RedisKey, ...fields: RedisKey[]): Promise<(string | null)[]>;
  /** `HGETALL key`. */
  hgetall(key: RedisKey): Promise<Record<string, string>>;
  /** `HSET key field value [field value ...]`. */
  hset(key: RedisKey, ...fieldValues: RedisArg[]): Promise<number>;
  /** `HSETNX key field value`. */
  hsetnx(key: RedisKey, field: RedisKey, value: RedisArg): Promise<number>;
  /** `ZADD key score member [score member ...]`. */
  zadd(key: RedisKey, ...scoreMembers: RedisArg[]): Promise<number>;
  /** `ZSCORE key member`. */
  zscore(key: RedisKey, member: RedisArg): Promise<string | null>;
  /** `PTTL key`. */
  pttl(key: RedisKey): Promise<number>;
  /** `SET key value [options...]`. */
  set(key: RedisKey, value: RedisArg, ...options: RedisArg[]): Promise<string | null>;
  /** `SADD key member...`. */
  sadd(key: RedisKey, ...members: RedisArg[]): Promise<number>;
  /** `HKEYS key`. */
  hkeys(key: RedisKey): Promise<string[]>;
  /** `KEYS pattern` (tests only: it blocks the server). */
  keys(pattern: string): Promise<string[]>;
  /** `SCAN cursor [MATCH pattern] [COUNT n]`. */
  scan(cursor: number | string, ...args: RedisArg[]): Promise<[cursor: string, keys: string[]]>;
  /** `XREVRANGE key end start [COUNT n]`. */
  xrevrange(
    key: RedisKey,
    end: string,
    start: string,
    ...args: RedisArg[]
  ): Promise<[id: string, fields: string[]][]>;
  /** `PSUBSCRIBE pattern...`. */
  psubscribe(...patterns: string[]): Promise<unknown>;
  /** A pipeline: commands queued and sent together (not a transaction). */
  pipeline(): ChainableCommander;
  /** `ZREM key member...`. */
  zrem(key: RedisKey, ...members: RedisArg[]): Promise<number>;
  /** `ZREVRANGE key start stop`. */
  zrevrange(key: RedisKey, start: number, stop: number): Promise<string[]>;
  /** `HDEL key field...`. */
  hdel(key: RedisKey, ...fields: RedisKey[]): Promise<number>;
  /** `XADD key id field value...`. */
  xadd(key: RedisKey, ...args: RedisArg[]): Promise<string | null>;
  /** `XLEN key`. */
  xlen(key: RedisKey): Promise<number>;
  /** `XRANGE key start end [COUNT n]`. */
  xrange(
    key: RedisKey,
    start: RedisArg,
    end: RedisArg,
    ...count: RedisArg[]
  ): Promise<[id: string, fields: string[]][]>;
  /** `XGROUP subcommand ...`. */
  xgroup(subcommand: string, ...args: RedisArg[]): Promise<unknown>;
  /** `XINFO subcommand ...`. */
  xinfo(subcommand: string, ...args: RedisArg[]): Promise<unknown>;
  /** `XPENDING key group ...`. */
  xpending(key: RedisKey, group: RedisKey, ...args: RedisArg[]): Promise<unknown[]>;
}
