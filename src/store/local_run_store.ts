/**
 * `localRunStore()`: the embedded run store for one machine, an SQLite database (`node:sqlite`,
 * WAL mode) in a folder. Several processes on the machine can share it: every change is one
 * transaction, leases and fencing tokens are checked inside it, and a committed change survives
 * a killed process at any instant (with `durability: "power"`, also a power loss).
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "../deps/sqlite.ts";

/** Journal rows per INSERT statement (SQLite allows 32,766 parameters). */
const ROWS_PER_INSERT = 200;
import { join } from "node:path";
import { WorkflowError } from "../errors.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import {
  type Durability,
  openDatabase,
  RUN_COLUMNS,
  type RunRow,
  toRecord,
} from "./sqlite_schema.ts";
import { LocalFeedbackStore } from "./local_feedback_store.ts";
import { LocalChannel } from "./local_channel.ts";
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
import { decodeCursor, encodeCursor, fenced, notFound, pageLimit, sinceMs } from "./store_util.ts";

/** Options of {@linkcode localRunStore}. */
export interface LocalRunStoreOptions {
  /** The folder of the database (created if missing). */
  dir: string;
  /**
   * What a commit survives: a killed process (`"process"`: SQLite `synchronous = NORMAL`), or
   * also a power loss (`"power"`: `FULL`, an fsync per commit). @default {"process"}
   */
  durability?: Durability;
  /** How often `watch` looks for changes made by other processes. @default {100} */
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
  readonly #wakers = new Set<() => void>();
  readonly #inserts = new Map<number, StatementSync>();
  #writes = 0;
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
    this.#pollMs = options.pollMs ?? 100;
    this.#clock = options.clock ?? systemClock;
    this.feedback = this.#feedback = new LocalFeedbackStore(
      this.#db,
      this.#pollMs,
      () => this.#notify(),
    );
  }

  /** A prepared insert of `n` journal rows (cached per size). */
  #insert(n: number): StatementSync {
    let s = this.#inserts.get(n);
    if (!s) {
      s = this.#db.prepare(
        `INSERT INTO journal (run_id, seq, at, tr) VALUES ${
          Array(n).fill("(?, ?, ?, ?)").join(", ")
        }`,
      );
      this.#inserts.set(n, s);
    }
    return s;
  }

  #now(): number {
    return this.#clock.now();
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }

  /** Runs `fn` in one write transaction. */
  #tx<T>(fn: () => T): T {
    if (this.#closed) {
      throw new WorkflowError("Cannot use localRunStore: it is closed", { code: "STORE_CLOSED" });
    }
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #row(runId: string): RunRow | undefined {
    return this.#db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ?`).get(runId) as
      | RunRow
      | undefined;
  }

  #event(runId: string, kind: "run" | "journal", seqs?: [number, number]): void {
    this.#db.prepare(
      "INSERT INTO events (run_id, kind, at, seq_from, seq_to) VALUES (?, ?, ?, ?, ?)",
    )
      .run(runId, kind, this.#now(), seqs?.[0] ?? null, seqs?.[1] ?? null);
    if (++this.#writes % 1000 === 0) {
      this.#db.prepare("DELETE FROM events WHERE at < ?").run(this.#now() - 600_000);
    }
  }

  #notify(): void {
    for (const wake of this.#wakers) wake();
  }

  /** Checks the lease inside a transaction; throws `FENCED` when it is stale. */
  #own(runId: string, lease: Lease): void {
    const r = this.#db.prepare(
      "UPDATE runs SET updated_at = ? WHERE run_id = ? AND owner = ? AND fence = ?",
    ).run(this.#iso(), runId, lease.owner, lease.fence);
    if (Number(r.changes) !== 1) throw fenced(runId, lease, this.#row(runId));
  }

  async create(run: NewRun): Promise<{ record: RunRecord; created: boolean; lease?: Lease }> {
    return this.#tx(() => {
      if (run.idempotencyKey !== undefined) {
        const existing = this.#db.prepare(
          `SELECT ${RUN_COLUMNS} FROM runs WHERE idempotency_key = ?`,
        )
          .get(run.idempotencyKey) as RunRow | undefined;
        if (existing) return { record: toRecord(existing), created: false };
      }
      if (this.#row(run.runId)) {
        throw new WorkflowError(`Cannot record run "${run.runId}": a run with this id exists`, {
          code: "RUN_EXISTS",
        });
      }
      const now = this.#now();
      const iso = new Date(now).toISOString();
      const owned = run.status === "running";
      this.#db.prepare(
        `INSERT INTO runs (run_id, flow, version, status, input, created_at, created_ms, started_at,
          updated_at, owner, lease_until, fence, idempotency_key, graph, trace)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        run.runId,
        run.flow,
        run.version,
        run.status,
        JSON.stringify(run.input ?? null),
        iso,
        now,
        owned ? iso : null,
        iso,
        owned ? run.owner ?? null : null,
        owned ? now + (run.leaseMs ?? 0) : null,
        owned ? 1 : 0,
        run.idempotencyKey ?? null,
        JSON.stringify(run.graph ?? null),
        run.trace ? JSON.stringify(run.trace) : null,
      );
      this.#event(run.runId, "run");
      const record = toRecord(this.#row(run.runId)!);
      return {
        record,
        created: true,
        ...(owned ? { lease: { owner: run.owner!, fence: 1 } } : {}),
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
    const row = this.#db.prepare("SELECT graph FROM runs WHERE run_id = ?").get(runId) as
      | { graph: string }
      | undefined;
    if (!row) throw notFound(runId);
    return JSON.parse(row.graph);
  }

  async list(query: RunQuery = {}): Promise<RunPage> {
    const limit = pageLimit(query.limit);
    const where: string[] = [];
    const args: (string | number)[] = [];
    const statuses = query.status === undefined ? [] : [query.status].flat();
    if (statuses.length) {
      where.push(`status IN (${statuses.map(() => "?").join(", ")})`);
      args.push(...statuses);
    }
    if (query.flow !== undefined) {
      where.push("flow = ?");
      args.push(query.flow);
    }
    if (query.since !== undefined) {
      where.push("created_ms >= ?");
      args.push(sinceMs(query.since));
    }
    if (query.cursor !== undefined) {
      const c = decodeCursor(query.cursor);
      where.push("(created_ms < ? OR (created_ms = ? AND run_id < ?))");
      args.push(c.ms, c.ms, c.id);
    }
    const rows = this.#db.prepare(
      `SELECT ${RUN_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_ms DESC, run_id DESC LIMIT ?`,
    ).all(...args, limit + 1) as unknown as RunRow[];
    const runs = rows.slice(0, limit).map(toRecord);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { runs, ...(last ? { cursor: encodeCursor(last.created_ms, last.run_id) } : {}) };
  }

  async acquire(runId: string, owner: string, leaseMs: number): Promise<Lease | undefined> {
    return this.#tx(() => {
      const now = this.#now();
      const r = this.#db.prepare(
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
    const r = this.#db.prepare(
      "UPDATE runs SET lease_until = ? WHERE run_id = ? AND owner = ? AND fence = ?",
    ).run(this.#now() + leaseMs, runId, lease.owner, lease.fence);
    if (Number(r.changes) !== 1) return undefined;
    return toRecord(this.#row(runId)!);
  }

  async release(runId: string, lease: Lease): Promise<void> {
    if (this.#closed) return;
    this.#db.prepare(
      "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ? AND owner = ? AND fence = ?",
    ).run(runId, lease.owner, lease.fence);
  }

  async claimable(limit = 100): Promise<Claimable[]> {
    const now = this.#now();
    const rows = this.#db.prepare(
      `SELECT run_id AS runId, CASE
         WHEN status = 'queued' THEN 'queued'
         WHEN status = 'running' THEN 'expired'
         WHEN status = 'failed' THEN 'retry'
         ELSE 'answered' END AS reason
       FROM runs WHERE status = 'queued'
         OR (status = 'running' AND (owner IS NULL OR lease_until IS NULL OR lease_until < ?))
         OR (status = 'failed' AND retry_requested = 1 AND (owner IS NULL OR lease_until < ?))
         OR (status = 'waiting' AND (owner IS NULL OR lease_until < ?) AND EXISTS (
           SELECT 1 FROM feedback f WHERE f.id = json_extract(runs.feedback, '$.id')
             AND f.settlement IS NOT NULL))
       ORDER BY created_ms LIMIT ?`,
    ).all(now, now, now, limit) as unknown as Claimable[];
    return rows.map((r) => ({ runId: r.runId, reason: r.reason }));
  }

  async append(runId: string, lease: Lease, entries: JournalEntry[]): Promise<void> {
    if (!entries.length) return;
    this.#tx(() => {
      this.#own(runId, lease);
      // Many rows per statement: a batch of a busy run costs a few statements, not one per row.
      for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) {
        const rows = entries.slice(i, i + ROWS_PER_INSERT);
        const args: (string | number)[] = [];
        for (const e of rows) args.push(runId, e.seq, e.at, JSON.stringify(e.tr));
        this.#insert(rows.length).run(...args);
      }
      this.#event(runId, "journal", [entries[0].seq, entries[entries.length - 1].seq]);
    });
    this.#notify();
  }

  async snapshot(runId: string, lease: Lease, snapshot: JournalSnapshot): Promise<void> {
    this.#tx(() => {
      this.#own(runId, lease);
      this.#db.prepare("INSERT OR REPLACE INTO snapshots (run_id, seq, data) VALUES (?, ?, ?)")
        .run(runId, snapshot.seq, JSON.stringify(snapshot.data));
    });
  }

  async journal(runId: string): Promise<{ snapshot?: JournalSnapshot; entries: JournalEntry[] }> {
    const snap = this.#db.prepare("SELECT seq, data FROM snapshots WHERE run_id = ?").get(runId) as
      | { seq: number; data: string }
      | undefined;
    const rows = this.#db.prepare(
      "SELECT seq, at, tr FROM journal WHERE run_id = ? AND seq > ? ORDER BY seq",
    ).all(runId, snap?.seq ?? 0) as unknown as { seq: number; at: number; tr: string }[];
    return {
      ...(snap ? { snapshot: { seq: snap.seq, data: JSON.parse(snap.data) } } : {}),
      entries: rows.map((r) => ({ seq: r.seq, at: r.at, tr: JSON.parse(r.tr) })),
    };
  }

  /**
   * Every journal entry of a run, from the first (for run pages: attempts and timings).
   *
   * @param runId The run.
   * @param afterSeq Only entries after this position.
   * @returns The entries in order.
   */
  async entries(runId: string, afterSeq = 0): Promise<JournalEntry[]> {
    const rows = this.#db.prepare(
      "SELECT seq, at, tr FROM journal WHERE run_id = ? AND seq > ? ORDER BY seq",
    ).all(runId, afterSeq) as unknown as { seq: number; at: number; tr: string }[];
    return rows.map((r) => ({ seq: r.seq, at: r.at, tr: JSON.parse(r.tr) }));
  }

  async update(runId: string, lease: Lease, patch: RunPatch): Promise<RunRecord> {
    const record = this.#tx(() => {
      this.#own(runId, lease);
      const sets: string[] = [];
      const args: (string | number | null)[] = [];
      const set = (column: string, value: string | number | null) => {
        sets.push(`${column} = ?`);
        args.push(value);
      };
      if (patch.status !== undefined) set("status", patch.status);
      if ("output" in patch) set("output", JSON.stringify(patch.output ?? null));
      if ("error" in patch) set("error", patch.error ? JSON.stringify(patch.error) : null);
      if (patch.startedAt !== undefined) set("started_at", patch.startedAt);
      if (patch.finishedAt !== undefined) set("finished_at", patch.finishedAt);
      if (patch.steps !== undefined) set("steps", patch.steps);
      if (patch.checkpoints !== undefined) set("checkpoints", JSON.stringify(patch.checkpoints));
      if ("feedback" in patch) {
        set("feedback", patch.feedback ? JSON.stringify(patch.feedback) : null);
      }
      if (patch.retryRequested !== undefined) set("retry_requested", patch.retryRequested ? 1 : 0);
      if (patch.trace !== undefined) set("trace", JSON.stringify(patch.trace));
      if (patch.status && FINAL_STATUSES.includes(patch.status)) {
        set("owner", null);
        set("lease_until", null);
        set("cancel_requested", 0);
      }
      if (sets.length) {
        this.#db.prepare(`UPDATE runs SET ${sets.join(", ")} WHERE run_id = ?`).run(...args, runId);
      }
      this.#event(runId, "run");
      return toRecord(this.#row(runId)!);
    });
    this.#notify();
    return record;
  }

  async cancel(runId: string): Promise<RunRecord> {
    const record = this.#tx(() => {
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
        this.#db.prepare("UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE run_id = ?")
          .run(this.#iso(), runId);
      } else {
        const iso = this.#iso();
        this.#db.prepare(
          `UPDATE runs SET status = 'cancelled', finished_at = ?, updated_at = ?, owner = NULL,
           lease_until = NULL, retry_requested = 0, cancel_requested = 0 WHERE run_id = ?`,
        ).run(iso, iso, runId);
      }
      this.#event(runId, "run");
      return toRecord(this.#row(runId)!);
    });
    this.#notify();
    return record;
  }

  async retry(runId: string): Promise<RunRecord> {
    const record = this.#tx(() => {
      const row = this.#row(runId);
      if (!row) throw notFound(runId);
      if (row.status !== "failed") {
        throw new WorkflowError(`Cannot retry run "${runId}": it is ${row.status}, not failed`, {
          code: "RUN_NOT_FAILED",
        });
      }
      this.#db.prepare("UPDATE runs SET retry_requested = 1, updated_at = ? WHERE run_id = ?")
        .run(this.#iso(), runId);
      this.#event(runId, "run");
      return toRecord(this.#row(runId)!);
    });
    this.#notify();
    return record;
  }

  async *watch(options: { runId?: string; signal?: AbortSignal } = {}): AsyncIterable<StoreEvent> {
    const { runId, signal } = options;
    let last = (this.#db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM events").get() as {
      id: number;
    }).id;
    while (!signal?.aborted && !this.#closed) {
      const rows = this.#db.prepare(
        `SELECT id, run_id, kind, seq_from, seq_to FROM events WHERE id > ?
         ${runId ? "AND run_id = ?" : ""} ORDER BY id LIMIT 1000`,
      ).all(...(runId ? [last, runId] : [last])) as unknown as {
        id: number;
        run_id: string;
        kind: string;
        seq_from: number | null;
        seq_to: number | null;
      }[];
      for (const row of rows) {
        last = row.id;
        if (row.kind === "run") {
          const record = await this.get(row.run_id);
          if (record) yield { type: "run", record };
        } else if (row.seq_from !== null) {
          const entries = (await this.entries(row.run_id, row.seq_from - 1))
            .filter((e) => e.seq <= row.seq_to!);
          if (entries.length) yield { type: "journal", runId: row.run_id, entries };
        }
      }
      if (rows.length) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#wakers.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, this.#pollMs);
        this.#wakers.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** Closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
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
