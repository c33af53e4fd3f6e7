/**
 * Turning whatever a task threw or returned into JSON that can be sent, without ever throwing:
 * a revoked `Proxy`, an error whose getters throw, a value that cannot be encoded all become a
 * clear failed outcome instead of a crash or a redelivery loop.
 *
 * @module
 */
import type { RemoteOutcome } from "../context/remote_context.ts";
import { asError, type ErrorRecord, toErrorRecord } from "../errors.ts";

/**
 * An error record for anything thrown. Never throws.
 *
 * @param error What was thrown.
 * @returns Its record; when even that cannot be built, a record that says so.
 */
export function safeErrorRecord(error: unknown): ErrorRecord {
  try {
    const record = toErrorRecord(asError(error));
    JSON.stringify(record); // it must be sendable
    return record;
  } catch {
    try {
      return toErrorRecord(asError(undefined));
    } catch {
      return {
        name: "NonErrorThrownError",
        message: "threw a value that cannot be read or sent",
        code: "NON_ERROR_THROWN",
      };
    }
  }
}

/**
 * JSON text of a record holding an outcome; when the outcome cannot be serialised, the same
 * record with a failed outcome saying why. Never throws.
 *
 * @param make Builds the record around an outcome.
 * @param outcome The outcome.
 * @param taskId The task, for the message.
 * @returns The JSON text.
 */
export function outcomeText<R>(
  make: (outcome: RemoteOutcome) => R,
  outcome: RemoteOutcome,
  taskId: string,
): string {
  try {
    return JSON.stringify(make(outcome));
  } catch (error) {
    let reason: string;
    try {
      reason = String((error as Error)?.message ?? error);
    } catch {
      reason = "it cannot be serialised";
    }
    return JSON.stringify(make({
      ok: false,
      error: {
        name: "TypeError",
        message: `Cannot send the outcome of task "${taskId}": ${reason}`,
      },
    }));
  }
}
