/**
 * Where runs are recorded so that they outlive the process that started them: one
 * {@linkcode RunStore} interface, two implementations (`localRunStore()` for one machine,
 * `redisRunStore()` from `@graflow/graflow/redis` for fleets), one conformance suite.
 *
 * A run record holds what people look for (status, flow, times, owner, output, error); its
 * journal holds every transition of its run state, in order, with snapshots so that rebuilding
 * a long run stays bounded. Whoever drives a run holds a lease with a fencing token: a writer
 * whose token is stale (another process took the run over) is refused.
 *
 * @module
 */
import type { ErrorRecord } from "../errors.ts";
import type { FeedbackStore } from "../checkpoint/feedback_store.ts";
import type { Channel } from "../channels/channel.ts";

/** The states of a recorded run. */
export type RunRecordStatus =
  | "queued"
  | "running"
  | "waiting"
  | "completed"
  | "failed"
  | "cancelled"
  | "terminated";

/** The statuses a run never leaves. */
export const FINAL_STATUSES: readonly RunRecordStatus[] = [
  "completed",
  "failed",
  "cancelled",
  "terminated",
];

/** A recorded run. Values (input, output) are codec trees (JSON). */
export interface RunRecord {
  /** The run id. */
  runId: string;
  /** The registered flow's name. */
  flow: string;
  /** Hash of the flow's graph when the run started. */
  version: string;
  /** Where the run is. */
  status: RunRecordStatus;
  /** The run's input (codec tree). */
  input: unknown;
  /** The run's output once it ended (codec tree). */
  output?: unknown;
  /** Why it failed. */
  error?: ErrorRecord;
  /** When it was recorded (ISO). */
  createdAt: string;
  /** When it (last) started running (ISO). */
  startedAt?: string;
  /** Last change (ISO). */
  updatedAt: string;
  /** When it ended (ISO). */
  finishedAt?: string;
  /** The process driving it, while one does. */
  owner?: string;
  /** When the owner's lease ends (epoch ms). */
  leaseUntil?: number;
  /** Fencing token: incremented each time a process takes the run. */
  fence: number;
  /** The key that made it unique, if any. */
  idempotencyKey?: string;
  /** Task executions so far. */
  steps: number;
  /** Base paths of its checkpoints, oldest first. */
  checkpoints: string[];
  /** The open feedback request, while `waiting`. */
  feedback?: { id: string; checkpoint: string };
  /** Set when someone asked to cancel it; its owner stops it. */
  cancelRequested?: boolean;
  /** Set when a failed run is to be continued from its failed tasks. */
  retryRequested?: boolean;
  /** W3C trace context of the run's first span (when traced): continuations link to it. */
  trace?: RunTraceContext;
}

/** A W3C trace context, as a run record keeps it. */
export interface RunTraceContext {
  /** `00-<trace id>-<span id>-<flags>`. */
  traceparent: string;
  /** Vendor state. */
  tracestate?: string;
}

/** A run to record. */
export interface NewRun {
  /** The run id. */
  runId: string;
  /** The registered flow's name. */
  flow: string;
  /** Hash of the flow's graph. */
  version: string;
  /** The flow's graph as JSON (to name differences when a run is continued elsewhere). */
  graph: unknown;
  /** The input (codec tree). */
  input: unknown;
  /** `queued` (an orchestrator starts it) or `running` (the caller owns it). */
  status: "queued" | "running";
  /** Makes the run unique: a second create with this key returns the first run. */
  idempotencyKey?: string;
  /** For `running`: the owner and its lease. */
  owner?: string;
  /** Lease length for `running`. */
  leaseMs?: number;
  /** W3C trace context of the run's span, when traced. */
  trace?: RunTraceContext;
}

/** One recorded transition of a run. */
export interface JournalEntry {
  /** 1-based position in the run's journal. */
  seq: number;
  /** When it happened (epoch ms, the run's clock). */
  at: number;
  /** The transition, values encoded as codec trees (`src/store/journal_codec.ts`). */
  tr: unknown;
}

/** A run's state as data at a point of its journal (values encoded). */
export interface JournalSnapshot {
  /** The journal position it includes. */
  seq: number;
  /** The state (`RunState` journal snapshot, encoded). */
  data: unknown;
}

/** Filters of {@linkcode RunStore.list}. */
export interface RunQuery {
  /** Only runs in one of these statuses. */
  status?: RunRecordStatus | RunRecordStatus[];
  /** Only runs of this flow. */
  flow?: string;
  /** Only runs created at or after this time (ISO or epoch ms). */
  since?: string | number;
  /** Page size. @default {50} (at most 1000) */
  limit?: number;
  /** Where the previous page ended. */
  cursor?: string;
}

/** A page of runs, newest first. */
export interface RunPage {
  /** The runs. */
  runs: RunRecord[];
  /** Pass to get the next page; absent on the last page. */
  cursor?: string;
}

/** Something that changed in a store (what `watch` yields). */
export type StoreEvent =
  | { type: "run"; record: RunRecord }
  | { type: "journal"; runId: string; entries: JournalEntry[] };

/** A lease held on a run. */
export interface Lease {
  /** The owner. */
  owner: string;
  /** The fencing token: every write of the owner carries it. */
  fence: number;
}

/** What the orchestrator may continue. */
export interface Claimable {
  /** The run. */
  runId: string;
  /** Why: never started, its owner's lease expired, or a retry/answer is waiting. */
  reason: "queued" | "expired" | "retry" | "answered";
}

/**
 * Records runs and their journals. Every method that writes as a run's owner takes its
 * {@linkcode Lease} and fails with `WorkflowError` code `"FENCED"` when another process took the
 * run over since.
 */
export interface RunStore extends AsyncDisposable {
  /** A name for messages (`"local"`, `"redis"`). */
  readonly kind: string;
  /** Where human-in-the-loop requests of recorded runs are kept. */
  readonly feedback: FeedbackStore;

  /**
   * Records a new run, unless its idempotency key is taken.
   *
   * @returns The record, and whether this call created it (false: the key's existing run).
   */
  create(run: NewRun): Promise<{ record: RunRecord; created: boolean; lease?: Lease }>;
  /** The channel of a recorded run, kept in the store (it outlives the run's owner). */
  channel(runId: string): Channel;
  /** A run record. */
  get(runId: string): Promise<RunRecord | undefined>;
  /** The flow graph JSON a run started with. */
  graph(runId: string): Promise<unknown>;
  /** Runs, newest first, filtered, a page at a time. */
  list(query?: RunQuery): Promise<RunPage>;

  /**
   * Takes a run whose lease is free or expired (or that is queued, or waits for a retry or
   * an answer): increments its fence.
   *
   * @returns The lease, or `undefined` when another live owner holds it.
   */
  acquire(runId: string, owner: string, leaseMs: number): Promise<Lease | undefined>;
  /**
   * Extends a lease.
   *
   * @returns The record (to see a cancel request), or `undefined` when the lease was lost.
   */
  renew(runId: string, lease: Lease, leaseMs: number): Promise<RunRecord | undefined>;
  /** Gives a lease up (the run stays as it is; another process may take it at once). */
  release(runId: string, lease: Lease): Promise<void>;
  /** Runs an orchestrator should take now: queued, expired, retry or answered. */
  claimable(limit?: number): Promise<Claimable[]>;

  /**
   * Appends transitions to a run's journal: `seq` continues from the last entry, or the write
   * fails with code `"JOURNAL_CONFLICT"` and changes nothing.
   */
  append(runId: string, lease: Lease, entries: JournalEntry[]): Promise<void>;
  /** Stores a snapshot of the run state at a journal position. */
  snapshot(runId: string, lease: Lease, snapshot: JournalSnapshot): Promise<void>;
  /** The newest snapshot and the entries after it. */
  journal(runId: string): Promise<{ snapshot?: JournalSnapshot; entries: JournalEntry[] }>;
  /** Every journal entry of a run after a position, from the first (history, timings). */
  entries(runId: string, afterSeq?: number): Promise<JournalEntry[]>;
  /**
   * Changes a run's record as its owner (status, output, error, steps, checkpoints, feedback),
   * after appending `entries` to its journal in the same write (a run's last transitions and
   * its final record cost one write).
   *
   * @returns The record after the change.
   */
  update(
    runId: string,
    lease: Lease,
    patch: RunPatch,
    entries?: JournalEntry[],
  ): Promise<RunRecord>;

  /**
   * Asks a run to stop: a queued or waiting run is cancelled at once; a running run's owner
   * stops it at its next lease renewal.
   */
  cancel(runId: string): Promise<RunRecord>;
  /** Asks for a failed run to be continued from its failed tasks (keeping completed results). */
  retry(runId: string): Promise<RunRecord>;
  /** Live changes of one run, or of every run; ends when `signal` aborts. */
  watch(options?: { runId?: string; signal?: AbortSignal }): AsyncIterable<StoreEvent>;
  /** Closes the store. Idempotent. */
  close(): Promise<void>;
}

/** What an owner changes in its run's record. */
export type RunPatch = Partial<
  Pick<
    RunRecord,
    | "status"
    | "output"
    | "error"
    | "startedAt"
    | "finishedAt"
    | "steps"
    | "checkpoints"
    | "feedback"
    | "retryRequested"
    | "trace"
  >
>;
