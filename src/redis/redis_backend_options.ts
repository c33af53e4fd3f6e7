/**
 * Options of `redisBackend()`, their defaults and checks.
 *
 * @module
 */
import { envVar, type RedisConnectionOptions, redisUrl, safeUrl } from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { LEASE_RANGE_MS } from "./prefix_config.ts";
import { checkDuration, DEFAULT_RETENTION_MS } from "./retention.ts";
import { checkTransport } from "./transport_policy.ts";

/** Something the Redis backend reports (for logs). */
export interface RedisBackendEvent {
  /** Always `"warning"`. */
  type: "warning";
  /**
   * `UNSIGNED`: messages are not authenticated (no secret); `REFUSED`: a message that failed its
   * checks was ignored (a forged or copied call); `ABANDONED_RUNS`: runs whose producer died were
   * given the retention.
   */
  code: "UNSIGNED" | "REFUSED" | "ABANDONED_RUNS";
  /** A sentence for people. */
  message: string;
}

/** Options of {@linkcode redisBackend}. */
export interface RedisBackendOptions extends RedisConnectionOptions {
  /** Key prefix shared with the workers (`--prefix`). @default {"graflow"} */
  prefix?: string;
  /**
   * HMAC secret shared with the workers (`--secret`): every job, outcome, context call, reply,
   * config value and feedback answer is signed and bound to its run, job or call and direction.
   * @default {env GRAFLOW_SECRET, else none}
   */
  secret?: string;
  /**
   * Without a secret, allow a Redis that is not on this machine (messages are then not
   * authenticated). Without a secret and without this, only 127.0.0.0/8, `::1` and `localhost`
   * are allowed.
   * @default {false}
   */
  insecure?: boolean;
  /**
   * Lease of this prefix's queue (1000 to 3600000 ms): stored in Redis (signed) for workers
   * started without `--lease-ms`; running workers pick a change up within seconds.
   * @default {undefined} (the workers' own setting, 15 s by default)
   */
  leaseMs?: number;
  /** How often waiting jobs are checked besides pub/sub wake-ups. @default {1000} */
  pollMs?: number;
  /** How long Redis may be unreachable before waiting tasks fail. @default {30000} */
  unavailableMs?: number;
  /**
   * How long every run-scoped key lives: the queue bookkeeping of a run in progress, then, once
   * a run finished, its channel and feedback requests (also the runs of a producer that died).
   * A run that waits for human feedback must be resumed within it.
   * @default {604800000} (7 days)
   */
  retentionMs?: number;
  /** How often a job lost by Redis (data loss) is enqueued again before failing. @default {3} */
  maxRequeues?: number;
  /**
   * After how long a job that waits while no worker of the prefix is live is reported with a
   * `task.waiting` run event (reason `"no-worker"`).
   * @default {10000}
   */
  noWorkerWarnMs?: number;
  /**
   * After how long a job that waits while no worker is live fails with a `WorkflowError` of code
   * `NO_WORKER` (its entry is removed).
   * @default {undefined} (it waits)
   */
  noWorkerTimeoutMs?: number;
  /** Receives warnings (unsigned messages, refused messages). */
  onEvent?: (event: RedisBackendEvent) => void;
}

/** @internal Options after defaults and checks. */
export interface NormalizedBackendOptions {
  keys: RedisKeys;
  url: string;
  safeUrl: string;
  connection: RedisConnectionOptions;
  secret: string | undefined;
  pollMs: number;
  unavailableMs: number;
  retentionMs: number;
  maxRequeues: number;
  leaseMs: number | undefined;
  warnMs: number;
  timeoutMs: number | undefined;
  onEvent: ((e: RedisBackendEvent) => void) | undefined;
  /** Set when messages will not be authenticated. */
  warning: string | undefined;
}

/**
 * Applies defaults and checks, and the transport policy.
 *
 * @param o The options.
 * @returns The normalized options.
 * @throws {TypeError} When the URL or prefix is malformed, or there is no secret for a Redis
 * that is not on this machine (without `insecure`).
 * @throws {RangeError} When a timing is out of range.
 */
export function normalizeBackendOptions(o: RedisBackendOptions): NormalizedBackendOptions {
  const keys = new RedisKeys(o.prefix);
  const url = redisUrl(o.url);
  const secret = o.secret ?? envVar("GRAFLOW_SECRET");
  const what = "Cannot create redisBackend";
  if (o.leaseMs !== undefined) {
    const [lo, hi] = LEASE_RANGE_MS;
    if (!(o.leaseMs >= lo && o.leaseMs <= hi)) {
      throw new RangeError(`${what}: leaseMs must be from ${lo} to ${hi}, got ${o.leaseMs}`);
    }
  }
  const maxRequeues = o.maxRequeues ?? 3;
  if (!Number.isInteger(maxRequeues) || maxRequeues < 0) {
    throw new RangeError(`${what}: maxRequeues must be a whole number >= 0, got ${maxRequeues}`);
  }
  const n: NormalizedBackendOptions = {
    keys,
    url,
    safeUrl: safeUrl(url),
    connection: { url, tls: o.tls, maxRetriesPerRequest: o.maxRetriesPerRequest },
    secret,
    pollMs: checkDuration(what, "pollMs", o.pollMs, 1000),
    unavailableMs: checkDuration(what, "unavailableMs", o.unavailableMs, 30_000),
    retentionMs: checkDuration(what, "retentionMs", o.retentionMs, DEFAULT_RETENTION_MS),
    maxRequeues,
    leaseMs: o.leaseMs,
    warnMs: checkDuration(what, "noWorkerWarnMs", o.noWorkerWarnMs, 10_000),
    timeoutMs: o.noWorkerTimeoutMs === undefined
      ? undefined
      : checkDuration(what, "noWorkerTimeoutMs", o.noWorkerTimeoutMs, 0),
    onEvent: o.onEvent,
    warning: undefined,
  };
  n.warning = checkTransport({
    action: "create redisBackend",
    url,
    safeUrl: n.safeUrl,
    secret,
    insecure: o.insecure,
  });
  return n;
}
