/**
 * An abortable sleep: the default wait between retries, and handy in tasks and handlers.
 *
 * @module
 */
import { clockSleep, systemClock } from "./clock.ts";

/**
 * Resolves after `ms` milliseconds (any finite value: long delays are chained), or rejects with `signal.reason` as soon as `signal` aborts
 * (the timer and the listener are removed either way).
 *
 * @param ms Milliseconds to wait.
 * @param signal Aborts the wait.
 * @returns A promise of the wait.
 *
 * @example Waiting in a task that honours cancellation
 * ```ts
 * import { sleep } from "@graflow/graflow";
 * const controller = new AbortController();
 * const wait = sleep(10_000, controller.signal);
 * controller.abort(new Error("stop"));
 * await wait.catch((error) => error.message); // "stop"
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return clockSleep(systemClock, ms, signal);
}
