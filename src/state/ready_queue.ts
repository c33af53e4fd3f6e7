/**
 * The FIFO of activations waiting to start: an array with a moving head, compacted now and
 * then, so that pushing and taking are O(1) even for 100,000-node graphs.
 *
 * @module
 */

/** A first-in, first-out queue. */
export class ReadyQueue<T> {
  #items: T[] = [];
  #head = 0;

  /**
   * Appends an item.
   *
   * @param item The item.
   */
  push(item: T): void {
    this.#items.push(item);
  }

  /**
   * Takes the oldest item.
   *
   * @returns The item, or `undefined` when the queue is empty.
   */
  take(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Whether nothing is waiting. */
  get empty(): boolean {
    return this.#head >= this.#items.length;
  }

  /**
   * Removes the items that pass a test, keeping the others in order.
   *
   * @param test Which items to remove.
   * @returns How many were removed.
   */
  removeWhere(test: (item: T) => boolean): number {
    const kept = this.#items.slice(this.#head).filter((item) => !test(item));
    const removed = this.#items.length - this.#head - kept.length;
    this.#items = kept;
    this.#head = 0;
    return removed;
  }

  /**
   * The waiting items, oldest first (for snapshots).
   *
   * @returns A copy.
   */
  items(): T[] {
    return this.#items.slice(this.#head);
  }
}
