/**
 * A small seeded pseudo-random generator for property tests (mulberry32): the same seed gives
 * the same cases, so a failing case can be replayed from the seed in the assertion message.
 *
 * @module
 */

/** A seeded source of random choices. */
export class Prng {
  #state: number;

  /**
   * Creates the generator.
   *
   * @param seed Any 32-bit integer.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /**
   * A float in [0, 1).
   *
   * @returns A float in [0, 1).
   */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * An integer in [0, n).
   *
   * @param n Upper bound (exclusive).
   * @returns An integer in [0, n).
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * True with probability `p`.
   *
   * @param p Probability.
   * @returns True with probability `p`.
   */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * One element of `items`.
   *
   * @param items Non-empty list.
   * @returns One element of `items`.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /**
   * A shuffled copy of `items`.
   *
   * @param items The list.
   * @returns A shuffled copy of `items`.
   */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
