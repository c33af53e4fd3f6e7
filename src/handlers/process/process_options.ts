/**
 * Options and counters of the `ProcessPool`, and their validation.
 *
 * @module
 */

/** A line a task printed in its subprocess, for {@linkcode ProcessPoolOptions.onOutput}. */
export interface ProcessOutputLine {
  /** The task running when it was printed (`undefined` between tasks). */
  taskId: string | undefined;
  /** Its run. */
  runId: string | undefined;
  /** `stdout` or `stderr`. */
  stream: "stdout" | "stderr";
  /** The line, without its `\n`. */
  line: string;
}

/** Options of `ProcessPool`. */
export interface ProcessPoolOptions {
  /** Most subprocesses alive at once (over all permission sets and modules). @default {navigator.hardwareConcurrency} */
  size?: number;
  /**
   * Heap limit of each subprocess in MiB (`--v8-flags=--max-old-space-size`). A task that
   * exceeds it ends its own process and fails with `OUT_OF_MEMORY`; nothing else is affected.
   * Memory outside the JavaScript heap (large `ArrayBuffer`s) is not counted: use a container's
   * memory limit for a hard cap. @default {512}
   */
  maxHeapMb?: number;
  /**
   * Tasks one subprocess runs before it is replaced. The default, 1, gives every task a fresh
   * process, so nothing a task leaves behind (timers, patched globals) reaches another task;
   * raise it to save the start-up time (about 0.2 s) when every task in the pool is trusted to
   * the same degree. @default {1}
   */
  maxTasksPerProcess?: number;
  /**
   * How long a task whose `ctx.signal` was aborted (run canceled, task timeout, pool closed) may
   * keep running before its process is killed. @default {1000}
   */
  terminateGraceMs?: number;
  /**
   * Wall-clock limit per task; its process is killed when it is reached (`PROCESS_TIMEOUT`).
   * Any finite value is honoured. @default {undefined} (none)
   */
  timeoutMs?: number;
  /**
   * Ends every idle subprocess once the pool has had no task this long (an idle subprocess keeps
   * the host's event loop alive). `Infinity` keeps them. @default {1000}
   */
  idleTimeoutMs?: number;
  /** Largest message (result, error or call) accepted from a subprocess, in bytes. @default {16777216} (16 MiB) */
  maxMessageBytes?: number;
  /** Receives each line a task prints (stdout and stderr of its subprocess). @default {undefined} */
  onOutput?: (line: ProcessOutputLine) => void;
  /** The `deno` executable to run. @default {Deno.execPath()} */
  deno?: string;
}

/** Counters of a `ProcessPool`, for monitoring and tests. */
export interface ProcessPoolStats {
  /** The configured size. */
  size: number;
  /** Subprocesses alive now. */
  processes: number;
  /** Subprocesses running a task now. */
  busy: number;
  /** Tasks waiting for a subprocess. */
  queued: number;
  /** Subprocesses started since the pool was created. */
  started: number;
  /** Subprocesses that ended while running a task (crash, out of memory, protocol breach). */
  crashed: number;
  /** Subprocesses killed because their task ignored its abort signal or ran past `timeoutMs`. */
  killed: number;
}

/** {@linkcode ProcessPoolOptions} after validation, with defaults filled in. */
export interface NormalizedProcessOptions {
  size: number;
  maxHeapMb: number;
  maxTasksPerProcess: number;
  terminateGraceMs: number;
  timeoutMs: number | undefined;
  idleTimeoutMs: number;
  maxMessageBytes: number;
  onOutput: ((line: ProcessOutputLine) => void) | undefined;
  deno: string;
}

function fail(what: string, got: unknown): never {
  throw new RangeError(`Cannot create process pool: ${what}, got ${String(got)}`);
}

function whole(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    fail(`${name} must be a whole number >= ${min}`, value);
  }
  return value;
}

function ms(name: string, value: unknown, fallback: number, infinite: boolean): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || Number.isNaN(value) || value < 0 ||
    (!infinite && !Number.isFinite(value))
  ) {
    fail(`${name} must be a ${infinite ? "number >= 0 or Infinity" : "finite number >= 0"}`, value);
  }
  return value;
}

/**
 * Validates pool options and fills in defaults.
 *
 * @param options The options.
 * @returns The options with defaults.
 * @throws {RangeError} When a number is out of range (the message has the value).
 * @throws {TypeError} When `onOutput` is not a function or `deno` not a string.
 */
export function normalizeProcessOptions(options: ProcessPoolOptions): NormalizedProcessOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot create process pool: options must be an object, got ${options}`);
  }
  if (options.onOutput !== undefined && typeof options.onOutput !== "function") {
    throw new TypeError("Cannot create process pool: onOutput must be a function");
  }
  if (options.deno !== undefined && (typeof options.deno !== "string" || !options.deno)) {
    throw new TypeError("Cannot create process pool: deno must be a non-empty string");
  }
  const timeoutMs = options.timeoutMs;
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === "number" && Number.isFinite(timeoutMs) && timeoutMs > 0)
  ) {
    fail("timeoutMs must be a positive number (finite; omit it for no limit)", timeoutMs);
  }
  return {
    size: whole("size", options.size, navigator.hardwareConcurrency || 1, 1),
    maxHeapMb: whole("maxHeapMb", options.maxHeapMb, 512, 16),
    maxTasksPerProcess: options.maxTasksPerProcess === Infinity
      ? Infinity
      : whole("maxTasksPerProcess", options.maxTasksPerProcess, 1, 1),
    terminateGraceMs: ms("terminateGraceMs", options.terminateGraceMs, 1000, false),
    timeoutMs,
    idleTimeoutMs: ms("idleTimeoutMs", options.idleTimeoutMs, 1000, true),
    maxMessageBytes: whole("maxMessageBytes", options.maxMessageBytes, 16 * 2 ** 20, 1024),
    onOutput: options.onOutput,
    deno: options.deno ?? Deno.execPath(),
  };
}
