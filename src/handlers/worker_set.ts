/**
 * The live workers of a pool, grouped by permission set: which are idle, starting new ones,
 * ending them.
 *
 * @module
 */
import { PoolWorker, type PoolWorkerHooks, type WorkerSpec } from "./pool_worker.ts";

/** @internal The workers of one {@linkcode WorkerPool}. */
export class WorkerSet<J> {
  readonly #all = new Set<PoolWorker<J>>();
  readonly #idle = new Map<string, PoolWorker<J>[]>();
  readonly #name: string;
  readonly #hooks: PoolWorkerHooks<J>;
  #idleCount = 0;
  #started = 0;

  /**
   * Creates the (empty) set.
   *
   * @param name Prefix of worker names.
   * @param hooks Callbacks of every worker.
   */
  constructor(name: string, hooks: PoolWorkerHooks<J>) {
    this.#name = name;
    this.#hooks = hooks;
  }

  /** Workers alive. */
  get size(): number {
    return this.#all.size;
  }

  /** Workers with at least one job. */
  get busy(): number {
    return this.#all.size - this.#idleCount;
  }

  /** Workers started so far. */
  get started(): number {
    return this.#started;
  }

  /** Every live worker. */
  [Symbol.iterator](): IterableIterator<PoolWorker<J>> {
    return this.#all.values();
  }

  /**
   * Takes an idle worker of a permission set.
   *
   * @param key The permission key.
   * @returns The worker (no longer idle), or `undefined`.
   */
  takeIdle(key: string): PoolWorker<J> | undefined {
    const w = this.#idle.get(key)?.pop();
    if (w) this.#idleCount--;
    return w;
  }

  /**
   * Ends one idle worker of any permission set (to make room for another set).
   *
   * @returns Whether there was one.
   */
  evictIdle(): boolean {
    for (const list of this.#idle.values()) {
      const w = list.pop();
      if (!w) continue;
      this.#idleCount--;
      this.#all.delete(w);
      w.terminate();
      return true;
    }
    return false;
  }

  /**
   * Starts a worker (not idle: the caller gives it a job).
   *
   * @param spec Entry, permissions, key.
   * @returns The worker.
   * @throws {WorkflowError} `WORKER_START_FAILED`.
   */
  spawn(spec: WorkerSpec): PoolWorker<J> {
    const worker = new PoolWorker<J>(spec, `${this.#name}-${this.#started + 1}`, this.#hooks);
    this.#started++;
    this.#all.add(worker);
    return worker;
  }

  /**
   * Marks a worker without jobs as idle.
   *
   * @param worker The worker.
   */
  release(worker: PoolWorker<J>): void {
    let list = this.#idle.get(worker.key);
    if (!list) this.#idle.set(worker.key, list = []);
    list.push(worker);
    this.#idleCount++;
  }

  /**
   * Forgets a worker (it died or is being ended); call before clearing its jobs.
   *
   * @param worker The worker.
   */
  remove(worker: PoolWorker<J>): void {
    if (!this.#all.delete(worker) || worker.jobs.length > 0) return;
    const list = this.#idle.get(worker.key);
    const i = list?.indexOf(worker) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      this.#idleCount--;
    }
  }

  /**
   * Terminates every worker.
   *
   * @returns What terminating threw, if anything.
   */
  terminateAll(): unknown[] {
    const errors: unknown[] = [];
    for (const w of this.#all) {
      try {
        w.terminate();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#all.clear();
    this.#idle.clear();
    this.#idleCount = 0;
    return errors;
  }
}
