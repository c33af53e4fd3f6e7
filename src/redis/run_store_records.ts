/**
 * A `redisRunStore()` record as Redis holds it (control fields in `rec`, values in their own
 * fields), and its signed journal entries and snapshots.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import type { RunRecord } from "../store/run_store.ts";
import type { Signer } from "./signing.ts";

/** The control fields of a record as the scripts keep them. */
export type Control = Omit<RunRecord, "input" | "output" | "error" | "checkpoints"> & {
  createdMs: number;
};

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
