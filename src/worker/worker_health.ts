/**
 * A worker's health: Redis answers, and the consume loop turns.
 *
 * @module
 */
import { within } from "../redis/connection.ts";

/** What `/health` reports. */
export interface WorkerHealth {
  /** Redis answers and the consume loop is turning. */
  ok: boolean;
  /** Whether Redis answered PING within a second. */
  redis: boolean;
  /** Milliseconds since the consume loop last turned. */
  loopAgeMs: number;
  /** Tasks running now. */
  inFlight: number;
  /** Why it is not ok. */
  reason?: string;
}

/** What {@linkcode checkHealth} looks at. */
export interface HealthInputs {
  /** Sends PING. */
  ping(): Promise<unknown>;
  /** When the consume loop last turned (epoch ms). */
  heartbeat: number;
  /** Whether the worker is stopping. */
  stopping: boolean;
  /** The longest blocking read (a loop older than this plus 5 s is stuck). */
  blockMs: number;
  /** Tasks running now. */
  inFlight: number;
}

/**
 * Checks a worker.
 *
 * @param w What to look at.
 * @returns The report.
 */
export async function checkHealth(w: HealthInputs): Promise<WorkerHealth> {
  const loopAgeMs = Date.now() - w.heartbeat;
  const redis = await within(w.ping(), 1000, "PING").then(() => true, () => false);
  const loopOk = !w.stopping && loopAgeMs < w.blockMs + 5000;
  const reason = !redis
    ? "Redis does not answer"
    : w.stopping
    ? "the worker is stopping"
    : !loopOk
    ? `the consume loop is stuck for ${loopAgeMs} ms`
    : undefined;
  return {
    ok: redis && loopOk,
    redis,
    loopAgeMs,
    inFlight: w.inFlight,
    ...(reason ? { reason } : {}),
  };
}
