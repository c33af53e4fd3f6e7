/**
 * Continuing a recorded run in this process: a queued run starts, a run whose owner died
 * continues from its journal (its tasks in flight run again), a failed run marked for retry
 * continues from its failed tasks, a run waiting for an answer that came continues with it.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import { fromJsonTree } from "../channels/codec.ts";
import { type GraphShape, graphShape, shapeDiff } from "../graph/graph_version.ts";
import type { RunOptions, RunResult } from "../engine/run_options.ts";
import type { RunStateData } from "../state/run_state_data.ts";
import { decodeStateData, decodeTransition } from "../state/state_codec.ts";
import type { Lease, RunRecord, RunStore } from "../store/run_store.ts";
import { type Runnable, WorkflowRun } from "./workflow_run.ts";

/** Options of {@linkcode continueRun}: how tasks run here. */
export type ContinueOptions = Omit<
  RunOptions,
  "input" | "start" | "runId" | "store" | "idempotencyKey" | "signal"
>;

/**
 * Continues a recorded run whose lease this process took.
 *
 * @param store The store.
 * @param record The run's record.
 * @param lease The lease taken on it (`store.acquire`).
 * @param flow Its flow, found by the record's name; `undefined` when it is not registered here.
 * @param options Handlers, backend, events, … for its tasks.
 * @returns The run handle, or `undefined` when the run cannot continue here (it is then
 * recorded as failed, with the reason).
 */
export async function continueRun(
  store: RunStore,
  record: RunRecord,
  lease: Lease,
  flow: Runnable | undefined,
  options: ContinueOptions = {},
): Promise<WorkflowRun | undefined> {
  const refuse = async (code: string, message: string): Promise<undefined> => {
    const error = new WorkflowError(`Cannot continue run "${record.runId}": ${message}`, { code });
    await store.update(record.runId, lease, {
      status: "failed",
      error: { name: error.name, message: error.message, code },
      finishedAt: new Date().toISOString(),
    }).catch(() => {});
    return undefined;
  };
  if (!flow) {
    return refuse(
      "FLOW_NOT_FOUND",
      `flow "${record.flow}" is not registered in this process (import the module that calls registerFlow)`,
    );
  }
  if (flow.version !== record.version) {
    const diff = shapeDiff((await store.graph(record.runId)) as GraphShape, graphShape(flow.graph));
    return refuse(
      "GRAPH_VERSION_MISMATCH",
      `flow "${record.flow}" changed since the run started (version ${record.version}, now ${flow.version}): ${
        diff.join("; ") || "its groups or policies differ"
      }`,
    );
  }
  const { snapshot, entries } = await store.journal(record.runId);
  const fail = (field: string, error: unknown) =>
    new WorkflowError(`Cannot continue run "${record.runId}": its snapshot's ${field} is invalid`, {
      code: "JOURNAL_INVALID",
      cause: error,
    });
  let transitions;
  let data: RunStateData | undefined;
  try {
    data = snapshot ? decodeStateData(snapshot.data as RunStateData, fail) : undefined;
    transitions = entries.map((e) => decodeTransition(e.tr));
  } catch (error) {
    return refuse("JOURNAL_INVALID", (error as Error).message);
  }
  const seq = entries.length ? entries[entries.length - 1].seq : snapshot?.seq ?? 0;
  await store.update(record.runId, lease, {
    status: "running",
    startedAt: new Date().toISOString(),
    retryRequested: false,
    feedback: undefined,
  });
  return new WorkflowRun(flow, {
    ...options,
    store,
    runId: record.runId,
    input: fromJsonTree(record.input),
  }, {
    journal: {
      runId: record.runId,
      lease,
      seq,
      snapshot: data,
      transitions,
      retry: record.retryRequested === true,
    },
    ...(record.trace ? { trace: record.trace } : {}),
  });
}

/**
 * Waits for a continued run and swallows its outcome (it is recorded in the store).
 *
 * @param run The handle.
 * @returns The result, or `undefined` when it failed.
 */
export async function settleQuietly(run: WorkflowRun): Promise<RunResult | undefined> {
  return await run.result.catch(() => undefined);
}
