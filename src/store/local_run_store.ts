/**
 * `localRunStore()`: the embedded run store for one machine, an SQLite database (`node:sqlite`,
 * WAL mode) in a folder. Several processes on the machine can share it: every change is one
 * transaction, leases and fencing tokens are checked inside it, and a committed change survives
 * a killed process at any instant (with `durability: "power"`, also a power loss). The SQL of
 * the journal is in `./local_journal.ts`, the writes of run rows in `./local_run_rows.ts`, the
 * queries over many runs in `./local_queries.ts`.
 *
 * @module
 */
import type { DatabaseSync } from "../deps/sqlite.ts";
import { join } from "node:path";
import { WorkflowError } from "../errors.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import {
  type Durability,
  openDatabase,
  RUN_COLUMNS,
  type RunRow,
  sql,
  toRecord,
} from "./sqlite_schema.ts";
import { LocalFeedbackStore } from "./local_feedback_store.ts";
import { LocalChannel } from "./local_channel.ts";
import { EventLog } from "./local_events.ts";
import { claimableRuns, listRuns } from "./local_queries.ts";
import { WriteBatch } from "./write_batch.ts";
import { appendJournal, journalEntries, readJournal, saveSnapshot } from "./local_journal.ts";
import { insertRun, patchRun } from "./local_run_rows.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import type { SnapshotChannel } from "../channels/channel.ts";
import {
  type Claimable,
  FINAL_STATUSES,
  type JournalEntry,
  type JournalSnapshot,
  type Lease,
  type NewRun,
  type RunPage,
  type RunPatch,
  type RunQuery,
  type RunRecord,
  type RunStore,
  type StoreEvent,
} from "./run_store.ts";
import { fenced, notFound } from "./store_util.ts";

/** Options of {@linkcode localRunStore}. */
export interface LocalRunStoreOptions {
  /** The folder of the database (created if missing). */
  dir: string;
  /**
   * What a commit survives: a killed process (`"process"`: SQLite `synchronous = NORMAL`), or
   * also a power loss (`"power"`: `FULL`, an fsync per commit). @default {"process"}
   */
  durability?: Durability;
  /**
   * How often `watch` and feedback waits look for changes made by other processes (changes of
   * this process wake them at once; one indexed read per poll). @default {50}
   */
  pollMs?: number;
  /** Time source of leases (tests use a fake clock). @default {the system clock} */
  clock?: Clock;
}

/** The embedded run store (see {@linkcode localRunStore}). */
export class LocalRunStore implements RunStore {
  /** `"local"`. */
  readonly kind = "local";
  /** Human-in-the-loop requests, in the same database. */
  readonly feedback: FeedbackStore;
  readonly #db: DatabaseSync;
  readonly #feedback: LocalFeedbackStore;
  readonly #pollMs: number;
  readonly #clock: Clock;
  readonly #events: EventLog;
  readonly #batch: WriteBatch;
  #closed = false;

  /**
   * Opens the store. Prefer {@linkcode localRunStore}.
   *
   * @param options Folder, durability, polling.
   */
  constructor(options: LocalRunStoreOptions) {
    if (typeof options?.dir !== "string" || options.dir === "") {
      throw new TypeError(
        `Cannot open localRunStore: dir must be a folder path, got ${JSON.stringify(options?.dir)}`,
      );
    }
    const durability = options.durability ?? "process";
    if (durability !== "process" && durability !== "power") {
      throw new TypeError(
        `Cannot open localRunStore: durability must be "process" or "power", got ${
          JSON.stringify(durability)
        }`,
      );
    }
    Deno.mkdirSync(options.dir, { recursive: true });
    this.#db = openDatabase(join(options.dir, "runs.db"), durability);
    this.#pollMs = options.pollMs ?? 50;
    this.#clock = options.clock ?? systemClock;
    this.#events = new EventLog(this.#db);
    this.#batch = new WriteBatch(
      this.#db,
      () => this.#closed ? closed() : undefined,
      () => this.#events.notify(),
    );
    this.feedback = this.#feedback = new LocalFeedbackStore(
      this.#db,
      this.#pollMs,
      () => this.#notify(),
    );
  }

  #now(): number {
    return this.#clock.now();
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }

  /** Runs `fn` in the next group commit (see `WriteBatch`). */
  #tx<T>(fn: () => T): Promise<T> {
    return this.#batch.write(fn);
  }

  #row(runId: string): RunRow | undefined {
    return sql(this.#db, `SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ?`).get(runId) as
      | RunRow
      | undefined;
  }

  #event(runId: string, kind: "run" | "journal", seqs?: [number, number]): void {
    this.#events.add(runId, kind, this.#now(), seqs);
  }

  #notify(): void {
    this.#events.notify();
  }

  /** Checks the lease inside a transaction; throws `FENCED` when it is stale. */
  #own(runId: string, lease: Lease): void {
    const held = sql(
      this.#db,
      "SELECT 1 AS ok FROM runs WHERE run_id = ? AND owner = ? AND fence = ?",
    )
      .get(runId, lease.owner, lease.fence);
    if (!held) throw fenced(runId, lease, this.#row(runId));
  }

  async create(run: NewRun): Promise<{ record: RunRecord; created: boolean; lease?: Lease }> {
    return this.#tx(() => {
      if (run.idempotencyKey !== undefined) {
        const existing = sql(this.#db, `SELECT ${RUN_COLUMNS} FROM runs WHERE idempotency_key = ?`)
          .get(run.idempotencyKey) as RunRow | undefined;
        if (existing) return { record: toRecord(existing), created: false };
      }
      if (this.#row(run.runId)) {
        throw new WorkflowError(`Cannot record run "${run.runId}": a run with this id exists`, {
          code: "RUN_EXISTS",
        });
      }
      insertRun(this.#db, run, this.#now());
      this.#event(run.runId, "run");
      const record = toRecord(this.#row(run.runId)!);
      return {
        record,
        created: true,
        ...(run.status === "running" ? { lease: { owner: run.owner!, fence: 1 } } : {}),
      };
    });
  }

  channel(runId: string): SnapshotChannel {
    return new LocalChannel(this.#db, runId, this.#clock);
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const row = this.#row(runId);
    return row && toRecord(row);
  }

  async graph(runId: string): Promise<unknown> {
    const row = sql(
      this.#db,
      "SELECT g.graph FROM runs r JOIN graphs g ON g.key = r.graph_key WHERE r.run_id = ?",
    ).get(runId) as
      | { graph: string }
      | undefined;
    if (!row) throw notFound(runId);
    return JSON.parse(row.graph);
  }

  async list(query: RunQuery = {}): Promise<RunPage> {
    return listRuns(this.#db, query);
  }

  async acquire(runId: string, owner: string, leaseMs: number): Promise<Lease | undefined> {
    return this.#tx(() => {
      const now = this.#now();
      const r = sql(
        this.#db,
        `UPDATE runs SET owner = ?, lease_until = ?, fence = fence + 1, updated_at = ?
         WHERE run_id = ? AND (
           status = 'queued'
           OR (status = 'running' AND (owner IS NULL OR lease_until IS NULL OR lease_until < ?))
           OR (status = 'failed' AND retry_requested = 1 AND (owner IS NULL OR lease_until < ?))
           OR (status = 'waiting' AND (owner IS NULL OR lease_until < ?) AND EXISTS (
             SELECT 1 FROM feedback f WHERE f.id = json_extract(runs.feedback, '$.id')
               AND f.settlement IS NOT NULL)))`,
      ).run(owner, now + leaseMs, this.#iso(), runId, now, now, now);
      if (Number(r.changes) !== 1) return undefined;
      this.#event(runId, "run");
      return { owner, fence: this.#row(runId)!.fence };
    });
  }

  async renew(runId: string, lease: Lease, leaseMs: number): Promise<RunRecord | undefined> {
    if (this.#closed) return undefined;
    const r = sql(
      this.#db,
      "UPDATE runs SET lease_until = ? WHERE run_id = ? AND owner = ? AND fence = ?",
    ).run(this.#now() + leaseMs, runId, lease.owner, lease.fence);
    if (Number(r.changes) !== 1) return undefined;
    return toRecord(this.#row(runId)!);
  }

  async release(runId: string, lease: Lease): Promise<void> {
    if (this.#closed) return;
    sql(
      this.#db,
      "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ? AND owner = ? AND fence = ?",
    ).run(runId, lease.owner, lease.fence);
  }

  async claimable(limit = 100): Promise<Claimable[]> {
    return claimableRuns(this.#db, this.#now(), limit);
  }

  async append(runId: string, lease: Lease, entries: JournalEntry[]): Promise<void> {
    if (!entries.length) return;
    await this.#tx(() => {
      this.#own(runId, lease);
      this.#append(runId, entries);
    });
  }

  /** Inserts journal rows, inside a transaction that checked the lease. */
  #append(runId: string, entries: JournalEntry[]): void {
    appendJournal(this.#db, runId, entries);
    this.#event(runId, "journal", [entries[0].seq, entries[entries.length - 1].seq]);
  }

  async snapshot(runId: string, lease: Lease, snapshot: JournalSnapshot): Promise<void> {
    await this.#tx(() => {
      this.#own(runId, lease);
      saveSnapshot(this.#db, runId, snapshot);
    });
  }

  async journal(runId: string): Promise<{ snapshot?: JournalSnapshot; entries: JournalEntry[] }> {
    return readJournal(this.#db, runId);
  }

  /**
   * Every journal entry of a run, from the first (for run pages: attempts and timings).
   *
   * @param runId The run.
   * @param afterSeq Only entries after this position.
   * @returns The entries in order.
   */
  async entries(runId: string, afterSeq = 0): Promise<JournalEntry[]> {
    return journalEntries(this.#db, runId, afterSeq);
  }

  async update(
    runId: string,
    lease: Lease,
    patch: RunPatch,
    entries: JournalEntry[] = [],
  ): Promise<RunRecord> {
    const record = await this.#tx(() => {
      this.#own(runId, lease);
      if (entries.length) this.#append(runId, entries);
      patchRun(this.#db, runId, patch, this.#iso());
      this.#event(runId, "run");
      return toRecord(this.#row(runId)!);
    });
    return record;
  }

  async cancel(runId: string): Promise<RunRecord> {
    const record = await this.#tx(() => {
      const row = this.#row(runId);
      if (!row) throw notFound(runId);
      const r = toRecord(row);
      if (FINAL_STATUSES.includes(r.status) && !(r.status === "failed" && r.retryRequested)) {
        throw new WorkflowError(`Cannot cancel run "${runId}": it is already ${r.status}`, {
          code: "RUN_FINISHED",
        });
      }
      const live = r.owner !== undefined && (r.leaseUntil ?? 0) >= this.#now();
      if (live) {
        sql(this.#db, "UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE run_id = ?")
          .run(this.#iso(), runId);
      } else {
        const iso = this.#iso();
        sql(
          this.#db,
          `UPDATE runs SET status = 'cancelled', finished_at = ?, updated_at = ?, owner = NULL,
           lease_until = NULL, retry_requested = 0, cancel_requested = 0 WHERE run_id = ?`,
        ).run(iso, iso, runId);
      }
      this.#event(runId, "run");
      return toRecord(this.#row(runId)!);
    });
    return record;
  }

  async retry(runId: string): Promise<RunRecord> {
    const record = await this.#tx(() => {
      const row = this.#row(runId);
      if (!row) throw notFound(runId);
      if (row.status !== "failed") {
        throw new WorkflowError(`Cannot retry run "${runId}": it is ${row.status}, not failed`, {
          code: "RUN_NOT_FAILED",
        });
      }
      sql(this.#db, "UPDATE runs SET retry_requested = 1, updated_at = ? WHERE run_id = ?")
        .run(this.#iso(), runId);
      this.#event(runId, "run");
      return toRecord(this.#row(runId)!);
    });
    return record;
  }

  watch(options: { runId?: string; signal?: AbortSignal } = {}): AsyncIterable<StoreEvent> {
    return this.#events.watch({
      ...options,
      pollMs: this.#pollMs,
      closed: () => this.#closed,
      get: (runId) => this.get(runId),
      entries: (runId, after) => this.entries(runId, after),
    });
  }

  /** Closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#batch.commit(); // the writes already issued
    this.#closed = true;
    this.#notify();
    this.#feedback.closeWaits();
    this.#db.close();
  }

  /** Same as {@linkcode LocalRunStore.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The embedded run store: an SQLite database in `dir`, shared by the processes of one machine.
 *
 * @param options The folder, durability, polling.
 * @returns The store; close it when done (`await using`).
 * @throws {TypeError} When `dir` or `durability` is malformed.
 *
 * @example Recording a run and reading it back
 * ```ts
 * import { flow, localRunStore, registerFlow, task } from "@graflow/graflow";
 * const dir = await Deno.makeTempDir();
 * await using store = localRunStore({ dir });
 * task("doc_store_hello", (name: string) => `hello ${name}`);
 * const hello = registerFlow("doc_store_hello", flow`doc_store_hello`);
 * const result = await hello.run({ store, input: "ada" });
 * const record = await store.get(result.runId);
 * if (record?.status !== "completed") throw new Error("unexpected");
 * ```
 */
export function localRunStore(options: LocalRunStoreOptions): LocalRunStore {
  return new LocalRunStore(options);
}

function closed(): WorkflowError {
  return new WorkflowError("Cannot use localRunStore: it is closed", { code: "STORE_CLOSED" });
}
