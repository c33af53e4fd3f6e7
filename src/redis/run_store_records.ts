/**
 * A `redisRunStore()` record as Redis holds it (control fields in `rec`, values in their own
 * fields), its signed journal entries and snapshots, and what the store's scripts reply when a
 * write is refused (`MISSING`, `FENCED`, a taken journal position).
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import { notFound } from "../store/store_util.ts";
import type {
  JournalEntry,
  JournalSnapshot,
  Lease,
  NewRun,
  RunRecord,
} from "../store/run_store.ts";
import type { Signer } from "./signing.ts";

/** The value fields of a record, each in its own hash field (the rest is in `rec`). */
export const VALUE_FIELDS = ["input", "output", "error", "checkpoints"] as const;

/** The control fields of a record as the scripts keep them. */
export type Control = Omit<RunRecord, "input" | "output" | "error" | "checkpoints"> & {
  createdMs: number;
};

/**
 * The control fields of a new run (owned with fence 1 when it starts running).
 *
 * @param run The run.
 * @param now The time (ms).
 * @param iso The same time as ISO text.
 * @returns The control fields.
 */
export function newControl(run: NewRun, now: number, iso: string): Control {
  const owned = run.status === "running";
  return {
    runId: run.runId,
    flow: run.flow,
    version: run.version,
    status: run.status,
    createdAt: iso,
    createdMs: now,
    updatedAt: iso,
    fence: owned ? 1 : 0,
    steps: 0,
    ...(owned ? { startedAt: iso, owner: run.owner, leaseUntil: now + (run.leaseMs ?? 0) } : {}),
    ...(run.idempotencyKey !== undefined ? { idempotencyKey: run.idempotencyKey } : {}),
    ...(run.trace ? { trace: run.trace } : {}),
  };
}

/**
 * A record from its control JSON and its value fields.
 *
 * @param c The control fields (nulls are absent fields).
 * @param values `input`, `output`, `error`, `checkpoints` as JSON (null: absent).
 * @returns The record.
 */
export function toRecord(
  c: Control & Record<string, unknown>,
  values: (string | null)[],
): RunRecord {
  const [input, output, error, checkpoints] = values.map((
    v,
  ) => (v === null ? undefined : JSON.parse(v)));
  const r: Record<string, unknown> = { ...c };
  delete r.createdMs;
  for (const k of Object.keys(r)) if (r[k] === null) delete r[k];
  if (r.cancelRequested === false) delete r.cancelRequested;
  if (r.retryRequested === false) delete r.retryRequested;
  return {
    ...(r as unknown as RunRecord),
    input: input ?? null,
    ...(output !== undefined && output !== null ? { output } : {}),
    ...(error !== undefined && error !== null ? { error } : {}),
    checkpoints: Array.isArray(checkpoints) ? checkpoints : [],
  };
}

/**
 * A journal entry or snapshot, checked: signed (with a secret) for this run and the position it
 * names.
 *
 * @param signer The store's signer.
 * @param kind What it is.
 * @param runId The run it must belong to.
 * @param sealed As read from Redis.
 * @returns The entry or snapshot.
 * @throws {WorkflowError} `BAD_SIGNATURE` when it is not signed for this run and position.
 */
export function openSigned<T extends { seq: number }>(
  signer: Signer,
  kind: "journal" | "snapshot",
  runId: string,
  sealed: string,
): T {
  const bar = sealed.indexOf("|");
  const text = sealed.slice(bar + 1);
  let value: T | undefined;
  try {
    value = JSON.parse(text);
  } catch { /* refused below */ }
  if (
    bar < 0 || typeof value?.seq !== "number" ||
    !signer.verify(kind, runId, String(value.seq), text, sealed.slice(0, bar))
  ) {
    throw new WorkflowError(
      `Cannot read the ${kind} of run "${runId}": it is not signed for this run and position (tampered, or written with another secret)`,
      { code: "BAD_SIGNATURE" },
    );
  }
  return value;
}

/**
 * Journal entries as stored: signed and bound to their run and position.
 *
 * @param signer The store's signer.
 * @param runId The run.
 * @param entries The entries.
 * @returns The sealed entries.
 */
export function sealEntries(signer: Signer, runId: string, entries: JournalEntry[]): string[] {
  return entries.map((e) => signer.seal("journal", runId, String(e.seq), JSON.stringify(e)));
}

/**
 * A snapshot as stored: signed and bound to its run and position.
 *
 * @param signer The store's signer.
 * @param runId The run.
 * @param snapshot The snapshot.
 * @returns The sealed snapshot.
 */
export function sealSnapshot(signer: Signer, runId: string, snapshot: JournalSnapshot): string {
  return signer.seal("snapshot", runId, String(snapshot.seq), JSON.stringify(snapshot));
}

/**
 * Journal entries as read, checked: signed for this run, each at its position.
 *
 * @param signer The store's signer.
 * @param runId The run.
 * @param rows The sealed entries, in list order.
 * @param afterSeq The position before the first.
 * @returns The entries.
 * @throws {WorkflowError} `BAD_SIGNATURE` (see {@linkcode openSigned}); `JOURNAL_INVALID` when
 * an entry is out of place.
 */
export function openEntries(
  signer: Signer,
  runId: string,
  rows: string[],
  afterSeq: number,
): JournalEntry[] {
  return rows.map((row, i) => {
    const e = openSigned<JournalEntry>(signer, "journal", runId, row);
    if (e.seq !== afterSeq + i + 1) {
      throw new WorkflowError(
        `Cannot read the journal of run "${runId}": entry ${afterSeq + i + 1} is out of place`,
        { code: "JOURNAL_INVALID" },
      );
    }
    return e;
  });
}

/**
 * Checks the reply of a script that writes a run under a lease.
 *
 * @param reply The reply.
 * @param runId The run.
 * @param lease The lease the write used.
 * @returns The reply as text.
 * @throws {WorkflowError} `RUN_NOT_FOUND` (`MISSING`), `FENCED` (another owner or fence).
 */
export function checkReply(reply: unknown, runId: string, lease?: Lease): string {
  const text = String(reply);
  if (text === "MISSING") throw notFound(runId);
  if (text.startsWith("FENCED\n")) {
    const [, owner, fence] = text.split("\n");
    throw new WorkflowError(
      `Cannot write run "${runId}" as ${lease?.owner} (fence ${lease?.fence}): ${
        owner ? `${owner} holds it with fence ${fence}` : `its lease was given up (fence ${fence})`
      }`,
      { code: "FENCED" },
    );
  }
  return text;
}

/**
 * The error of a journal write whose first position is taken or out of order.
 *
 * @param runId The run.
 * @param seq The position.
 * @returns The error (`JOURNAL_CONFLICT`).
 */
export function conflict(runId: string, seq: number): WorkflowError {
  return new WorkflowError(
    `Cannot append to the journal of run "${runId}": position ${seq} is taken or out of order`,
    { code: "JOURNAL_CONFLICT" },
  );
}
