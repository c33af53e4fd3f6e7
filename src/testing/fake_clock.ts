/**
 * A clock for tests: time stands still until the test moves it, and every timer of a run
 * (retry delays, task timeouts, feedback timeouts) fires when the fake time reaches it.
 *
 * @module
 */
import type { Clock, Timer } from "../time/clock.ts";

/** Options of {@linkcode FakeClock}. */
export interface FakeClockOptions {
  /** The time to start at, in epoch milliseconds. @default {0} */
  start?: number;
  /**
   * Jump to the next timer by itself whenever one is set and nothing else ran in between (a
   * real macrotask later): retry delays pass at once. @default {false}
   */
  autoAdvance?: boolean;
}

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  cleared: boolean;
}

/**
 * A fake clock: pass it as `run({ clock })`.
 *
 * @example Skipping a retry delay of ten minutes
 * ```ts
 * import { flow, task } from "@graflow/graflow";
 * import { FakeClock } from "@graflow/graflow/testing";
 * let calls = 0;
 * const flaky = task("doc_fake_flaky", () => {
 *   if (++calls < 2) throw new Error("down");
 *   return "up";
 * }, { retries: { maxRetries: 1, initialDelayMs: 600_000, maxDelayMs: 600_000 } });
 * const clock = new FakeClock({ autoAdvance: true });
 * const result = await flow`${flaky}`.run({ clock });
 * if (result.output !== "up" || clock.delays[0] !== 600_000) throw new Error("unexpected");
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Entry[] = [];
  readonly #auto: boolean;
  /** The delay of every timer set so far, in order. */
  readonly delays: number[] = [];

  /**
   * Creates the clock.
   *
   * @param options Start time and auto-advance.
   */
  constructor(options: FakeClockOptions = {}) {
    this.#now = options.start ?? 0;
    this.#auto = options.autoAdvance ?? false;
  }

  /**
   * The fake time.
   *
   * @returns Epoch milliseconds.
   */
  now(): number {
    return this.#now;
  }

  /**
   * Sets a timer on the fake time.
   *
   * @param fn What to call.
   * @param ms The delay.
   * @returns The timer.
   */
  setTimer(fn: () => void, ms: number): Timer {
    const entry: Entry = { at: this.#now + ms, seq: this.#seq++, fn, cleared: false };
    this.delays.push(ms);
    this.#timers.push(entry);
    this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (this.#auto) {
      setTimeout(() => {
        if (!entry.cleared && this.#timers[0] === entry) this.#fireNext();
      }, 0);
    }
    return {
      clear: () => {
        entry.cleared = true;
        this.#timers = this.#timers.filter((t) => t !== entry);
      },
    };
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves the time forward, firing every timer that comes due, in order (awaiting between
   * them so that what they start can set further timers).
   *
   * @param ms How far.
   */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    while (this.#timers.length && this.#timers[0].at <= until) {
      this.#fireNext();
      await new Promise((r) => setTimeout(r, 0));
    }
    this.#now = until;
  }

  /**
   * Moves the time to the next timer and fires it.
   *
   * @returns Whether there was one.
   */
  async next(): Promise<boolean> {
    if (!this.#timers.length) return false;
    this.#fireNext();
    await new Promise((r) => setTimeout(r, 0));
    return true;
  }

  #fireNext(): void {
    const entry = this.#timers.shift()!;
    this.#now = Math.max(this.#now, entry.at);
    entry.fn();
  }
}
