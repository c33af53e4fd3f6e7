/**
 * The parts of a worker that do not hold its state: what it checks and imports before it
 * starts, how a job's task runs (whatever it throws or returns becomes an outcome), and how the
 * outcome is sealed for its run and job.
 *
 * @module
 */
import type { RemoteOutcome } from "../context/remote_context.ts";
import { type RemoteTaskContextOptions, runRemoteTask } from "../context/remote_task.ts";
import { WorkflowError } from "../errors.ts";
import { outcomeText, safeErrorRecord } from "../redis/safe_outcome.ts";
import type { Signer } from "../redis/signing.ts";
import type { JobMessage, OutcomeRecord } from "../redis/wire.ts";
import { ModuleAllowlist } from "./module_allowlist.ts";
import type { NormalizedWorkerOptions } from "./worker_options.ts";

/**
 * Before a worker serves: the allowlist and the start-up modules.
 *
 * @param o The worker's options.
 * @returns The allowlist.
 * @throws {TypeError} When an allowlist entry is unusable.
 * @throws {Error} When a start-up module fails to import.
 */
export async function prepareWorker(o: NormalizedWorkerOptions): Promise<ModuleAllowlist> {
  const allowlist = await ModuleAllowlist.create(o.allowImport);
  for (const m of o.modules) {
    try {
      await import(m);
    } catch (error) {
      throw new Error(
        `Cannot start worker: importing module ${m} failed: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
  }
  return allowlist;
}

/**
 * Runs a job's task by name (it is registered: the admission made sure; nothing is imported
 * here). Never throws: whatever the task throws or returns becomes an outcome, and what cannot
 * even be read (a revoked Proxy, a throwing getter) becomes a failure saying so.
 *
 * @param message The job.
 * @param options Call transport, signal, the run's channel.
 * @returns The outcome.
 */
export async function runJob(
  message: JobMessage,
  options: RemoteTaskContextOptions,
): Promise<RemoteOutcome> {
  try {
    return await runRemoteTask({ ...message, module: undefined }, options);
  } catch (error) {
    let why: string;
    try {
      why = String((error as Error)?.message ?? error);
    } catch {
      why = "(unreadable)";
    }
    return {
      ok: false,
      error: safeErrorRecord(
        new WorkflowError(
          `Task "${message.taskId}" failed, and what it threw cannot be read: ${why}`,
          { code: "UNREADABLE_ERROR" },
        ),
      ),
    };
  }
}

/**
 * The outcome record, sealed for its run and job. Never throws (an outcome that cannot be sent
 * becomes a failure saying why).
 *
 * @param signer Signs it.
 * @param workerId This worker.
 * @param message The job.
 * @param outcome Its outcome.
 * @returns The sealed record.
 */
export function sealOutcome(
  signer: Signer,
  workerId: string,
  message: JobMessage,
  outcome: RemoteOutcome,
): string {
  const text = outcomeText(
    (o): OutcomeRecord => ({ job: message.job, worker: workerId, outcome: o }),
    outcome,
    message.taskId,
  );
  return signer.seal("outcome", message.runId, message.job, text);
}
