/**
 * Opening Redis connections from a URL (`redis://`, `rediss://` for TLS, with password or ACL
 * user and password), with settings that suit long-running producers and workers.
 *
 * @module
 */
import { Redis } from "ioredis";

/** The URL used when none is given and `GRAFLOW_REDIS_URL` is not set. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** TLS settings of a `rediss://` connection (as in Node's `tls.connect`). */
export interface RedisTlsOptions {
  /** CA certificate(s), PEM, to trust besides the system's. */
  ca?: string | string[];
  /** Client certificate, PEM (when Redis asks for one). */
  cert?: string;
  /** Client key, PEM. */
  key?: string;
  /** Server name to check the certificate against. @default {the URL's host} */
  servername?: string;
  /** Refuse certificates that do not verify. @default {true} */
  rejectUnauthorized?: boolean;
}

/** Options of {@linkcode connectRedis}. */
export interface RedisConnectionOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://…` for TLS.
   * @default {env GRAFLOW_REDIS_URL, else "redis://127.0.0.1:6379"}
   */
  url?: string;
  /** TLS settings for `rediss://` (e.g. `{ ca }` for a private CA). @default {undefined} */
  tls?: RedisTlsOptions;
  /** Name shown by `CLIENT LIST`. @default {undefined} */
  connectionName?: string;
  /**
   * Reconnection attempts a command waits for before it fails (about 10 s for 20).
   * @default {20}
   */
  maxRetriesPerRequest?: number;
}

const lastErrors = new WeakMap<Redis, Error>();

/**
 * Makes a failure of a command clear: when it failed because the connection could not be made
 * (retries exhausted), the error says why the connection failed (refused, TLS, auth, ...).
 *
 * @param redis The connection.
 * @param error What the command rejected with.
 * @returns The error to throw.
 */
export function explainRedisError(redis: Redis, error: unknown): unknown {
  const e = error as Error;
  const where = `${redis.options.host}:${redis.options.port}`;
  if (/Command aborted due to connection close/.test(e?.message)) {
    // The command was sent and the connection dropped before its answer: it may have run.
    return new Error(
      `Cannot be sure a command reached Redis at ${where}: the connection closed before its answer (${e.message})`,
      { cause: error },
    );
  }
  if (e?.name !== "MaxRetriesPerRequestError" && !/Connection is closed/.test(e?.message)) {
    return error;
  }
  const last = lastErrors.get(redis);
  return new Error(
    `Cannot reach Redis at ${where}: ${last?.message ?? e.message}`,
    { cause: error },
  );
}

/**
 * The Redis URL: the option, else `GRAFLOW_REDIS_URL`, else the default.
 *
 * @param url The URL option.
 * @returns The URL to use.
 * @throws {TypeError} When the URL is not a `redis:` or `rediss:` URL.
 */
export function redisUrl(url?: string): string {
  const value = url ?? envVar("GRAFLOW_REDIS_URL") ?? DEFAULT_REDIS_URL;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new TypeError(`Cannot connect to Redis: ${JSON.stringify(value)} is not a URL`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `Cannot connect to Redis: the URL must start with redis:// or rediss://, got ${
        JSON.stringify(parsed.protocol)
      }`,
    );
  }
  return value;
}

/**
 * Reads an environment variable when allowed (never throws without `--allow-env`).
 *
 * @param name The variable.
 * @returns Its value, or `undefined`.
 */
export function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a connection. It reconnects by itself after network errors and Redis restarts (with a
 * backoff capped at 2 s); commands made while it is down wait for the reconnection (about 10 s at most, then they fail).
 *
 * @param options URL, TLS, connection name.
 * @returns The connection (connecting in the background).
 * @throws {TypeError} When the URL is malformed.
 *
 * @example Connecting with an ACL user over TLS
 * ```ts ignore
 * import { connectRedis } from "./connection.ts";
 * const redis = connectRedis({ url: "rediss://worker:s3cret@redis.internal:6380", tls: { ca } });
 * ```
 */
export function connectRedis(options: RedisConnectionOptions = {}): Redis {
  const url = redisUrl(options.url);
  const client = new Redis(url, {
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 20,
    retryStrategy: (times) => Math.min(50 * times, 2000),
    lazyConnect: false,
    enableAutoPipelining: true,
  });
  // Errors surface through the commands that fail; keep ioredis from reporting them as unhandled.
  client.on("error", (error: Error) => lastErrors.set(client, error));
  return client;
}

/**
 * Describes a URL without its password (for messages and logs).
 *
 * @param url A Redis URL.
 * @returns The URL with the password replaced by `***`.
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid URL>";
  }
}

/**
 * Resolves with `p`, or rejects after `ms` (the timer never outlives the race).
 *
 * @param p The promise.
 * @param ms The deadline.
 * @param what What is awaited, for the message.
 * @returns What `p` resolves with.
 * @throws {Error} `"<what> took longer than <ms> ms"`, or what `p` rejects with.
 */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
