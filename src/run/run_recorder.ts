/**
 * Records a run in a `RunStore` as it goes: every transition of its state is encoded at once and
 * appended to the run's journal in batches (at most `flushMs` after it happened), with a
 * snapshot every `snapshotEvery` entries; the run's lease is renewed while it runs, and a lost
 * lease or a cancel request stops the run. What a crash costs: transitions not yet flushed
 * (at most `flushMs` of work) — their tasks run again when another process continues the run.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { RunStateData, Transition } from "../state/run_state_data.ts";
import { encodeStateData, encodeTransition } from "../state/state_codec.ts";
import type { JournalEntry, Lease, RunPatch, RunRecord, RunStore } from "../store/run_store.ts";
import type { Clock } from "../time/clock.ts";

/** Options of {@linkcode RunRecorder}. */
export interface RecorderOptions {
  /** The store. */
  store: RunStore;
  /** The run. */
  runId: string;
  /** The lease held on it. */
  lease: Lease;
  /** Lease length. */
  leaseMs: number;
  /** The run's clock (entry times). */
  clock: Clock;
  /** The last journal position already stored. */
  seq: number;
  /** Longest delay before a transition is written. */
  flushMs: number;
  /**
   * Entries between snapshots, at least; a large state waits longer (twice its size in
   * items), so that snapshots cost no more than the journal they save replaying.
   */
  snapshotEvery: number;
  /** The run state as journal snapshot data, now. */
  journalData(): RunStateData;
  /** Stops the run: the lease was lost, recording failed, or a cancel was requested. */
  stop(error: unknown, cancelled: boolean): void;
}

/** The journal writer and lease keeper of one run. */
export class RunRecorder {
  readonly #o: RecorderOptions;
  #seq: number;
  #buffer: JournalEntry[] = [];
  #snapshot: { seq: number; data: unknown } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #renewer: ReturnType<typeof setInterval> | undefined;
  /** The journal position of the next snapshot. */
  #nextSnapshot: number;
  #failed: unknown;
  #closed = false;
  /** `finish` has begun: what is recorded from now on goes with the final record. */
  #ending = false;

  /**
   * Starts recording (and renewing the lease).
   *
   * @param options Store, run, lease, timings, the state, how to stop the run.
   */
  constructor(options: RecorderOptions) {
    this.#o = options;
    this.#seq = options.seq;
    this.#nextSnapshot = options.seq + options.snapshotEvery;
    this.#renewer = setInterval(() => this.#renew(), Math.max(50, options.leaseMs / 3));
  }

  /** The lease held. */
  get lease(): Lease {
    return this.#o.lease;
  }

  /**
   * Receives a transition (the run state's recorder): encodes it now, writes it soon.
   *
   * @param tr The transition.
   */
  readonly record = (tr: Transition): void => {
    if (this.#failed !== undefined || this.#closed) return;
    let encoded: unknown;
    try {
      encoded = encodeTransition(tr);
    } catch (error) {
      this.#fail(
        new WorkflowError(
          `Cannot record run "${this.#o.runId}": ${(error as Error).message}`,
          { code: "RECORD_FAILED", cause: error },
        ),
      );
      return;
    }
    const seq = ++this.#seq;
    this.#buffer.push({ seq, at: this.#o.clock.now(), tr: encoded });
    if (seq >= this.#nextSnapshot) {
      try {
        const data = this.#o.journalData();
        this.#snapshot = { seq, data: encodeStateData(data, "snapshot") };
        this.#nextSnapshot = seq + Math.max(this.#o.snapshotEvery, 2 * stateSize(data));
      } catch {
        this.#nextSnapshot = seq + this.#o.snapshotEvery; // the journal alone still rebuilds it
      }
    }
    if (this.#ending) return;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#o.flushMs);
  };

  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    queueMicrotask(() => this.#o.stop(error, false));
  }

  /**
   * Writes what is buffered (one flush at a time, in order).
   *
   * @returns When it is written.
   */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const entries = this.#buffer;
    const snapshot = this.#snapshot;
    this.#buffer = [];
    this.#snapshot = undefined;
    if (!entries.length && !snapshot) return this.#flushing;
    const { store, runId, lease } = this.#o;
    this.#flushing = this.#flushing.then(async () => {
      try {
        if (entries.length) await this.#write(() => store.append(runId, lease, entries), entries);
        if (snapshot) await this.#write(() => store.snapshot(runId, lease, snapshot));
      } catch (error) {
        this.#fail(error);
      }
    });
    return this.#flushing;
  }

  /**
   * Writes, retrying while the store cannot be reached (until the lease is lost): a write that
   * did arrive before its connection dropped is recognised by its journal positions.
   */
  async #write(
    write: () => Promise<void>,
    entries?: JournalEntry[],
    deadline = Infinity,
  ): Promise<void> {
    for (let delay = 50, retried = false;; delay = Math.min(delay * 2, 1000), retried = true) {
      if (this.#failed !== undefined) return;
      try {
        return await write();
      } catch (error) {
        const code = (error as WorkflowError)?.code;
        if (code === "JOURNAL_CONFLICT" && retried && entries) {
          const { store, runId } = this.#o;
          const have = await store.entries(runId, entries[0].seq - 1).catch(() => []);
          if (have.length >= entries.length) return; // the first try got through
        }
        if (
          code === "FENCED" || code === "RUN_NOT_FOUND" || code === "JOURNAL_CONFLICT" ||
          Date.now() + delay > deadline
        ) {
          throw error;
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async #renew(): Promise<void> {
    if (this.#closed || this.#failed !== undefined) return;
    let record: RunRecord | undefined;
    try {
      record = await this.#o.store.renew(this.#o.runId, this.#o.lease, this.#o.leaseMs);
    } catch {
      return; // the store is unreachable: try again at the next tick; the lease may expire
    }
    if (this.#closed) return;
    if (!record) {
      this.#fail(
        new WorkflowError(
          `Run "${this.#o.runId}" stopped here: this process lost its lease (another process continues it)`,
          { code: "LEASE_LOST" },
        ),
      );
    } else if (record.cancelRequested) {
      this.#o.stop(
        new WorkflowError(`Run "${this.#o.runId}" was cancelled`, { code: "RUN_CANCELLED" }),
        true,
      );
    }
  }

  /**
   * Writes the rest of the journal with the run's final record (one write), then stops
   * renewing.
   *
   * @param patch The record's final fields.
   * @returns The record, or `undefined` when the lease was lost meanwhile.
   */
  async finish(patch: RunPatch): Promise<RunRecord | undefined> {
    this.#ending = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#snapshot) this.flush();
    await this.#flushing;
    this.#stopTimers();
    if (this.#failed !== undefined && (this.#failed as WorkflowError).code !== "RECORD_FAILED") {
      return undefined;
    }
    const { store, runId, lease } = this.#o;
    const entries = this.#buffer;
    this.#buffer = [];
    let record: RunRecord | undefined;
    try {
      // Until the lease would expire: then an orchestrator continues the run anyway.
      await this.#write(
        async () => {
          record = await store.update(runId, lease, patch, entries);
        },
        entries.length ? entries : undefined,
        Date.now() + this.#o.leaseMs,
      );
      // A first try that got through before its connection dropped: read what it wrote.
      record ??= await store.get(runId);
    } catch { /* fenced: another process drives the run now */ }
    return record;
  }

  /** Stops renewing without writing (the run is given up here). */
  close(): void {
    this.#closed = true;
    this.#stopTimers();
  }

  #stopTimers(): void {
    if (this.#renewer !== undefined) clearInterval(this.#renewer);
    this.#renewer = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** How many items a state holds (results, waiting and running tasks, group members). */
function stateSize(d: RunStateData): number {
  let members = 0;
  for (const g of Object.values(d.groups)) members += Object.keys(g).length;
  return Object.keys(d.results).length + d.pending.length + (d.running?.length ?? 0) + members;
}
