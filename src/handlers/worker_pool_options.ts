/**
 * Options and counters of the `WorkerPool`, and their validation.
 *
 * @module
 */

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** Most workers alive at once (over all permission sets). @default {navigator.hardwareConcurrency} */
  size?: number;
  /**
   * How long a task whose `ctx.signal` was aborted (run canceled, timeout, pool shutdown) may keep
   * running before its worker is terminated and replaced (any finite value). @default {1000}
   */
  terminateGraceMs?: number;
  /**
   * Terminate every worker once the pool has been idle this long (workers start again on the next
   * task). Idle Web Workers keep a Deno process alive, so a finite value lets scripts exit;
   * `Infinity` keeps them. @default {Infinity}
   */
  idleTimeoutMs?: number;
  /** Prefix of the workers' names. @default {"graflow-worker"} */
  name?: string;
  /**
   * Most tasks that may wait inside a busy worker behind the one it runs, sent ahead in batches
   * to save round trips (only short tasks, see `prefetchBudgetMs`). 0 sends one task at a time.
   * @default {16}
   */
  prefetch?: number;
  /**
   * Tasks are sent ahead to a busy worker only while the expected work queued in it (recent
   * average durations of its tasks, this one included) stays under this many milliseconds, so
   * that long tasks wait for the next free worker instead. Tasks never seen are not sent ahead.
   * @default {2}
   */
  prefetchBudgetMs?: number;
}

/** Counters of a {@linkcode WorkerPool}, for monitoring and tests. */
export interface WorkerPoolStats {
  /** The configured size. */
  size: number;
  /** Workers alive now. */
  workers: number;
  /** Workers running a task now. */
  busy: number;
  /** Tasks waiting in the pool for a worker. */
  queued: number;
  /** Tasks sent ahead to busy workers, waiting there behind the running one. */
  prefetched: number;
  /** Workers started since the pool was created. */
  started: number;
  /** Workers that crashed (uncaught error, unhandled rejection, `self.close()`, failed start). */
  crashed: number;
  /** Workers terminated because their task ignored its abort signal past the grace period. */
  killed: number;
}

/** {@linkcode WorkerPoolOptions} after validation, with defaults filled in. */
export interface NormalizedPoolOptions {
  /** Most workers alive at once. */
  size: number;
  /** Grace period after an abort, in ms. */
  terminateGraceMs: number;
  /** Idle time before the workers are terminated, in ms. */
  idleTimeoutMs: number;
  /** Worker name prefix. */
  name: string;
  /** Short tasks that may wait inside a busy worker. */
  prefetch: number;
  /** Expected work (ms) a busy worker may hold. */
  prefetchBudgetMs: number;
}

function checked(
  name: string,
  value: number | undefined,
  fallback: number,
  kind: "count" | "whole" | "ms" | "ms or Infinity",
): number {
  if (value === undefined) return fallback;
  const min = kind === "count" ? 1 : 0;
  const ok = typeof value === "number" && value >= min &&
    (kind === "ms or Infinity" || Number.isFinite(value)) &&
    (kind.startsWith("ms") || Number.isInteger(value));
  if (!ok) {
    const want = kind === "ms"
      ? "a finite number >= 0"
      : kind === "ms or Infinity"
      ? "a number >= 0 or Infinity"
      : `a whole number >= ${min}`;
    throw new RangeError(`Cannot create worker pool: ${name} must be ${want}, got ${value}`);
  }
  return value;
}

/**
 * Validates pool options and fills in defaults.
 *
 * @param options The options.
 * @returns The options with defaults.
 * @throws {RangeError} When a number is out of range (the message has the value).
 * @throws {TypeError} When `name` is not a string.
 */
export function normalizePoolOptions(options: WorkerPoolOptions): NormalizedPoolOptions {
  if (options.name !== undefined && typeof options.name !== "string") {
    throw new TypeError(
      `Cannot create worker pool: name must be a string, got ${typeof options.name}`,
    );
  }
  return {
    size: checked("size", options.size, navigator.hardwareConcurrency || 1, "count"),
    terminateGraceMs: checked("terminateGraceMs", options.terminateGraceMs, 1000, "ms"),
    idleTimeoutMs: checked("idleTimeoutMs", options.idleTimeoutMs, Infinity, "ms or Infinity"),
    name: options.name ?? "graflow-worker",
    prefetch: checked("prefetch", options.prefetch, 16, "whole"),
    prefetchBudgetMs: checked("prefetchBudgetMs", options.prefetchBudgetMs, 2, "ms"),
  };
}
