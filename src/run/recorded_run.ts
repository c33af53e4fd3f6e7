/**
 * What a run does with a `RunStore`: its id for an idempotency key, its final record, and the
 * result of a run recorded by another call (an idempotency key already taken) rebuilt from the
 * store without running anything.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fromJsonTree, toJsonTree } from "../channels/codec.ts";
import { fromErrorRecord, toErrorRecord, WorkflowError } from "../errors.ts";
import type { Graph } from "../graph/graph.ts";
import type { Plan } from "../graph/plan.ts";
import { makeRunResult } from "../engine/run_result.ts";
import type { RunResult, RunStatus } from "../engine/run_options.ts";
import type { ExecState, RunState } from "../state/run_state.ts";
import { replayFrom } from "../state/journal_state.ts";
import { linearJournal } from "../state/replay.ts";
import { decodeTransition } from "../state/state_codec.ts";
import {
  FINAL_STATUSES,
  type RunPatch,
  type RunRecord,
  type RunStore,
} from "../store/run_store.ts";

/**
 * The run id that an idempotency key gives, per flow: every call with the same flow and key
 * names the same run, so the second finds the first.
 *
 * @param flow The flow's name.
 * @param key The idempotency key.
 * @returns A run id.
 */
export function keyedRunId(flow: string, key: string): string {
  const hash = createHash("sha256").update(`${flow}\u0000${key}`).digest("hex").slice(0, 32);
  return `${flow.slice(0, 80)}-${hash}`;
}

/**
 * The final record fields of a run that settled.
 *
 * @param outcome Its result, or what it rejected with.
 * @param cancelled Whether it stopped because someone cancelled it.
 * @param now The time (ISO).
 * @returns The patch.
 */
export function finalPatch(
  outcome: { ok: true; result: RunResult } | { ok: false; error: unknown; steps: number },
  cancelled: boolean,
  now: string,
): RunPatch {
  if (!outcome.ok) {
    return {
      status: cancelled ? "cancelled" : "failed",
      error: toErrorRecord(outcome.error),
      steps: outcome.steps,
      finishedAt: now,
    };
  }
  const r = outcome.result;
  let output: unknown;
  try {
    output = toJsonTree(r.output, "run output");
  } catch {
    output = null; // the journal keeps every result; the record holds what can be stored
  }
  return {
    status: r.status,
    output,
    steps: r.steps,
    checkpoints: r.checkpoints,
    ...(r.status === "waiting" ? { feedback: r.feedback } : { finishedAt: now }),
  };
}

/**
 * Rebuilds a recorded run's state from its journal (nothing runs).
 *
 * @param store The store.
 * @param runId The run.
 * @param graph The flow's graph.
 * @param plan Its plan.
 * @returns The state.
 */
export async function rebuildState(
  store: RunStore,
  runId: string,
  graph: Graph,
  plan: Plan,
): Promise<RunState<ExecState>> {
  const { snapshot, entries } = await store.journal(runId);
  const fail = (field: string, error: unknown) =>
    new WorkflowError(`Cannot rebuild run "${runId}": its snapshot's ${field} cannot be decoded`, {
      code: "JOURNAL_INVALID",
      cause: error,
    });
  const make = () => replayFrom(runId, graph, plan, snapshot?.data, fail);
  const replay = make();
  for (const tr of linearJournal(make, entries.map((e) => decodeTransition(e.tr)))) {
    replay.apply(tr);
  }
  return replay.state;
}

/**
 * Waits for a recorded run to end and gives its result (or rejects with its error).
 *
 * @param store The store.
 * @param runId The run.
 * @param graph The flow's graph.
 * @param plan Its plan.
 * @param signal Stops waiting.
 * @returns The run's result.
 */
export async function recordedResult(
  store: RunStore,
  runId: string,
  graph: Graph,
  plan: Plan,
  signal?: AbortSignal,
): Promise<RunResult> {
  let record = await store.get(runId);
  if (record && !settled(record)) {
    for await (const e of store.watch({ runId, signal })) {
      if (e.type === "run" && settled(e.record)) {
        record = e.record;
        break;
      }
    }
  }
  signal?.throwIfAborted();
  if (!record) throw new WorkflowError(`Cannot find run "${runId}"`, { code: "RUN_NOT_FOUND" });
  if (record.status === "failed" || record.status === "cancelled") {
    throw record.error
      ? fromErrorRecord(record.error)
      : new WorkflowError(`Run "${runId}" was ${record.status}`, { code: "RUN_CANCELLED" });
  }
  const state = await rebuildState(store, runId, graph, plan);
  const result = makeRunResult(
    state,
    store.channel(runId),
    record.status as RunStatus,
    record.status === "waiting" ? record.feedback : undefined,
  );
  return {
    ...result,
    output: record.output === undefined ? state.output : fromJsonTree(record.output),
  };
}

function settled(r: RunRecord): boolean {
  return FINAL_STATUSES.includes(r.status) || r.status === "waiting";
}
