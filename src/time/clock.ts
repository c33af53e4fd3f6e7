/**
 * Time as a port: every timer of a run (task timeouts, retry delays, feedback timeouts, leases)
 * goes through a {@linkcode Clock}, so tests can drive it (see `@graflow/graflow/testing`), and
 * every delay is honoured up to any finite value: `setTimeout` fires at once past 2^31−1 ms,
 * so longer delays are chained, as `@std/async`'s `setArbitraryLengthTimeout` does.
 *
 * @module
 */

/** The longest delay one `setTimeout` honours (2^31−1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending timer of a {@linkcode Clock}. */
export interface Timer {
  /** Cancels it (a no-op once it fired). */
  clear(): void;
}

/** The time source and timers of a run. */
export interface Clock {
  /** Milliseconds since the epoch (like `Date.now()`). */
  now(): number;
  /**
   * Calls `fn` once, `ms` milliseconds from now (never earlier; any finite `ms`).
   *
   * @param fn What to call.
   * @param ms The delay.
   * @returns The timer.
   */
  setTimer(fn: () => void, ms: number): Timer;
}

/**
 * Starts a timer that honours any finite delay: past {@linkcode MAX_TIMER_MS} it re-arms itself
 * until the whole delay has passed. Non-finite or negative delays are refused.
 *
 * @param fn What to call.
 * @param ms The delay (0 or more, finite).
 * @param unref Whether the timer may not keep the process alive. @default {false}
 * @returns The timer.
 * @throws {RangeError} When `ms` is negative, NaN or infinite.
 */
export function setLongTimer(fn: () => void, ms: number, unref = false): Timer {
  checkDelay(ms, "timer delay");
  const due = Date.now() + ms;
  let handle: ReturnType<typeof setTimeout> | undefined;
  let cleared = false;
  const arm = (left: number) => {
    handle = setTimeout(() => {
      handle = undefined;
      if (cleared) return;
      const rest = due - Date.now();
      if (left > MAX_TIMER_MS && rest > 0) arm(rest);
      else fn();
    }, Math.min(left, MAX_TIMER_MS));
    if (unref) Deno.unrefTimer(handle as unknown as number);
  };
  arm(ms);
  return {
    clear() {
      cleared = true;
      if (handle !== undefined) clearTimeout(handle);
      handle = undefined;
    },
  };
}

/** The real clock: `Date.now()` and chained `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setLongTimer(fn, ms),
};

/**
 * Checks a duration given by a caller.
 *
 * @param ms The value.
 * @param what What it is, for the message (e.g. `timeoutMs of task "fetch"`).
 * @param allowZero Whether 0 is allowed. @default {true}
 * @returns `ms`.
 * @throws {RangeError} When it is not a finite number >= 0 (> 0 unless `allowZero`).
 */
export function checkDelay(ms: unknown, what: string, allowZero = true): number {
  if (
    typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)
  ) {
    throw new RangeError(
      `Cannot use ${what}: it must be a finite number ${allowZero ? ">=" : ">"} 0 ms, got ${
        String(ms)
      }`,
    );
  }
  return ms;
}

/**
 * Waits `ms` on `clock`, or rejects with `signal.reason` as soon as `signal` aborts.
 *
 * @param clock The clock.
 * @param ms The delay (any finite value).
 * @param signal Aborts the wait.
 * @returns A promise of the wait.
 */
export function clockSleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.clear();
      reject(signal!.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
