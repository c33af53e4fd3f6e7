/**
 * The pub/sub wake-up payloads, encoded and decoded here only (the Lua scripts that publish
 * build theirs with the `lua*` helpers below). Pub/sub only wakes waiters up: everything a
 * payload carries is also stored in a hash, and waiters poll, so a lost message delays nothing
 * for long. A payload is untrusted text: {@linkcode decodeWake} returns `undefined` for anything
 * malformed, and the sealed parts are checked by their receiver.
 *
 * | payload                               | channel            | meaning                       |
 * | ------------------------------------- | ------------------ | ----------------------------- |
 * | `o\n<job>\n<sealed outcome>`          | producer's wake    | a job's outcome is recorded   |
 * | `c\n<runId>\n<callId>\n<sealed call>` | producer's wake    | a task on a worker calls ctx  |
 * | `r\n<callId>\n<sealed reply>`         | worker's wake      | the answer to a context call  |
 * | `cancel\n<job>`                       | the prefix control | the run cancelled that job    |
 * | `handback`                            | the prefix control | a stopping worker gave jobs back |
 * | `config`                              | the prefix control | the prefix's settings changed |
 *
 * @module
 */
import { ID } from "./wire.ts";

/** A decoded wake-up payload. */
export type Wake =
  | { kind: "outcome"; job: string; sealed: string }
  | { kind: "call"; runId: string; callId: string; sealed: string }
  | { kind: "reply"; callId: string; sealed: string }
  | { kind: "cancel"; job: string }
  | { kind: "handback" }
  | { kind: "config" };

/**
 * Encodes a wake-up payload.
 *
 * @param wake What to say.
 * @returns The payload.
 */
export function encodeWake(wake: Wake): string {
  switch (wake.kind) {
    case "outcome":
      return `o\n${wake.job}\n${wake.sealed}`;
    case "call":
      return `c\n${wake.runId}\n${wake.callId}\n${wake.sealed}`;
    case "reply":
      return `r\n${wake.callId}\n${wake.sealed}`;
    case "cancel":
      return `cancel\n${wake.job}`;
    case "handback":
    case "config":
      return wake.kind;
  }
}

/**
 * Decodes a wake-up payload.
 *
 * @param payload The message (untrusted).
 * @returns What it says, or `undefined` when it is malformed.
 */
export function decodeWake(payload: unknown): Wake | undefined {
  if (typeof payload !== "string") return undefined;
  if (payload === "handback" || payload === "config") return { kind: payload };
  const nl = payload.indexOf("\n");
  if (nl < 0) return undefined;
  const head = payload.slice(0, nl);
  const rest = payload.slice(nl + 1);
  const field = (s: string, from: number): [string, number] | undefined => {
    const end = s.indexOf("\n", from);
    if (end < 0) return undefined;
    const v = s.slice(from, end);
    return ID.test(v) ? [v, end + 1] : undefined;
  };
  switch (head) {
    case "o": {
      const job = field(rest, 0);
      return job && { kind: "outcome", job: job[0], sealed: rest.slice(job[1]) };
    }
    case "c": {
      const run = field(rest, 0);
      const call = run && field(rest, run[1]);
      return run && call
        ? { kind: "call", runId: run[0], callId: call[0], sealed: rest.slice(call[1]) }
        : undefined;
    }
    case "r": {
      const call = field(rest, 0);
      return call && { kind: "reply", callId: call[0], sealed: rest.slice(call[1]) };
    }
    case "cancel":
      return ID.test(rest) ? { kind: "cancel", job: rest } : undefined;
  }
  return undefined;
}

/**
 * Lua expression of an outcome payload (for scripts that record an outcome and publish it).
 *
 * @param job Lua expression of the job id.
 * @param sealed Lua expression of the sealed outcome.
 * @returns The Lua expression.
 */
export function luaOutcomeWake(job: string, sealed: string): string {
  return `'o\\n' .. ${job} .. '\\n' .. ${sealed}`;
}

/**
 * Lua expression of a cancel payload.
 *
 * @param job Lua expression of the job id.
 * @returns The Lua expression.
 */
export function luaCancelWake(job: string): string {
  return `'cancel\\n' .. ${job}`;
}
