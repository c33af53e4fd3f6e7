/**
 * Options of `runWorker()`, their defaults and checks.
 *
 * @module
 */
import { type RedisConnectionOptions, redisUrl, safeUrl } from "../redis/connection.ts";
import { checkTransport } from "../redis/transport_policy.ts";
import { checkPrefix } from "../redis/keys.ts";

/** Something that happened in a worker (for logs). */
export type WorkerEvent =
  | { type: "started"; workerId: string; leaseMs: number; port?: number }
  | { type: "reclaimed"; workerId: string; entry: string; deliveries: number }
  | { type: "dead-lettered"; workerId: string; entry: string; reason: string }
  | { type: "dropped"; workerId: string; entry: string; job: string; reason: string }
  | { type: "lease"; workerId: string; leaseMs: number }
  | { type: "warning"; workerId: string; message: string }
  | { type: "stopped"; workerId: string; handedBack: number }
  | { type: "error"; workerId: string; error: string };

/** Options of `runWorker()`. */
export interface RunWorkerOptions extends RedisConnectionOptions {
  /** Key prefix shared with the producers. @default {"graflow"} */
  prefix?: string;
  /**
   * Modules to import at start (URLs or paths): the modules that define the tasks. A queue entry
   * runs only a task these (or `allowImport`) define.
   */
  modules?: string[];
  /** Tasks run at once. @default {10} */
  concurrency?: number;
  /**
   * Entries reserved ahead of free slots (they wait in the worker, under its lease). Raises
   * throughput of short tasks; use 0 for long tasks so that idle workers get them.
   * @default {the concurrency}
   */
  prefetch?: number;
  /** Consumer name in the group; must be unique among live workers. @default {"<host>-<pid>-<random>"} */
  workerId?: string;
  /**
   * How long a job may go without lease renewal before another worker takes it (100 to
   * 3600000 ms). Without it, the worker uses the prefix's lease set by `redisBackend({ leaseMs })`
   * (signed when a secret is set, clamped to 1000-3600000 ms) and follows its changes.
   * @default {the prefix's lease, else 15000}
   */
  leaseMs?: number;
  /**
   * HMAC secret shared with the producers: unsigned, tampered, copied and replayed messages are
   * refused. @default {env GRAFLOW_SECRET}
   */
  secret?: string;
  /**
   * Without a secret, allow a Redis that is not on this machine (messages are then not
   * authenticated). @default {false}
   */
  insecure?: boolean;
  /** How long in-flight tasks may finish after stop. @default {10000} */
  graceMs?: number;
  /** Serve `/metrics` and `/health` on this port (0: any free port). @default {undefined} (off) */
  metricsPort?: number;
  /** Address of the metrics server (`"0.0.0.0"` to serve other machines). @default {"127.0.0.1"} */
  metricsHostname?: string;
  /** Longest blocking read. @default {1000} */
  blockMs?: number;
  /** Deliveries without an outcome after which a job is dead-lettered. @default {10} */
  maxDeliveries?: number;
  /**
   * Directories or files (paths or `file:` URLs) whose modules the worker may import when a queue
   * entry names a task it does not know. Checked after percent-decoding, `..` and symlink
   * resolution, by path segments; never `data:`, `blob:`, remote or package modules.
   * @default {[]} (only the tasks of `modules`)
   */
  allowImport?: string[];
  /** Most entries kept in the dead-letter stream (trimmed approximately). @default {10000} */
  deadLetterMax?: number;
  /** How often context call replies are polled besides pub/sub. @default {1000} */
  pollMs?: number;
  /** Aborting it stops the worker gracefully. */
  signal?: AbortSignal;
  /** Receives worker events. */
  onEvent?: (event: WorkerEvent) => void;
}

/** @internal Options after defaults and checks. */
export interface NormalizedWorkerOptions extends RedisConnectionOptions {
  prefix: string;
  modules: string[];
  concurrency: number;
  prefetch: number;
  workerId: string;
  leaseMs: number | undefined;
  secret: string | undefined;
  insecure: boolean;
  /** Set when messages will not be authenticated (the transport policy allowed it). */
  transportWarning: string | undefined;
  graceMs: number;
  metricsPort: number | undefined;
  metricsHostname: string;
  blockMs: number;
  maxDeliveries: number;
  allowImport: string[];
  deadLetterMax: number;
  pollMs: number;
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
}

function count(
  name: string,
  v: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`Cannot start worker: ${name} must be a whole number >= ${min}, got ${v}`);
  }
  if (v > max) {
    throw new RangeError(`Cannot start worker: ${name} must be at most ${max}, got ${v}`);
  }
  return v;
}

function checkList(name: string, v: string[] | undefined): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((e) => typeof e !== "string" || e === "")) {
    throw new TypeError(`Cannot start worker: ${name} must be a list of non-empty strings`);
  }
  return [...v];
}

/**
 * A module specifier as a URL (paths are resolved against the working directory).
 *
 * @param spec URL or path.
 * @returns The URL.
 */
export function moduleUrl(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) return spec;
  const base = new URL(`file://${Deno.cwd()}/`);
  return new URL(spec, base).href;
}

/**
 * Applies defaults and checks.
 *
 * @param o The options.
 * @param env Reads an environment variable.
 * @returns The normalized options.
 * @throws {TypeError | RangeError} Naming the bad option; `TypeError` too when there is no
 * secret for a Redis that is not on this machine (without `insecure`).
 */
export function normalizeWorkerOptions(
  o: RunWorkerOptions,
  env: (name: string) => string | undefined,
): NormalizedWorkerOptions {
  const workerId = o.workerId ?? `${safeHost()}-${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(workerId)) {
    throw new TypeError(
      `Cannot start worker: workerId must be 1-100 characters of [A-Za-z0-9_.:-], got ${
        JSON.stringify(workerId)
      }`,
    );
  }
  const metricsPort = o.metricsPort;
  if (
    metricsPort !== undefined &&
    (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)
  ) {
    throw new RangeError(`Cannot start worker: metricsPort must be 0-65535, got ${metricsPort}`);
  }
  const concurrency = count("concurrency", o.concurrency, 10, 1);
  const url = redisUrl(o.url ?? env("GRAFLOW_REDIS_URL"));
  const secret = o.secret ?? env("GRAFLOW_SECRET");
  const transportWarning = checkTransport({
    action: "start worker",
    url,
    safeUrl: safeUrl(url),
    secret,
    insecure: o.insecure,
  });
  return {
    url,
    tls: o.tls,
    prefix: checkPrefix(o.prefix ?? "graflow"),
    modules: (o.modules ?? []).map(moduleUrl),
    concurrency,
    prefetch: count("prefetch", o.prefetch, concurrency, 0),
    workerId,
    leaseMs: o.leaseMs === undefined
      ? undefined
      : count("leaseMs", o.leaseMs, 15000, 100, 3_600_000),
    secret,
    insecure: o.insecure ?? false,
    transportWarning,
    graceMs: count("graceMs", o.graceMs, 10_000, 0),
    metricsPort,
    metricsHostname: o.metricsHostname ?? "127.0.0.1",
    blockMs: count("blockMs", o.blockMs, 1000, 1, 60_000),
    maxDeliveries: count("maxDeliveries", o.maxDeliveries, 10, 1),
    allowImport: checkList("allowImport", o.allowImport),
    deadLetterMax: count("deadLetterMax", o.deadLetterMax, 10_000, 1),
    pollMs: count("pollMs", o.pollMs, 1000, 1, 2 ** 31 - 1),
    signal: o.signal,
    onEvent: o.onEvent,
  };
}

function safeHost(): string {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "worker";
  } catch {
    return "worker";
  }
}
