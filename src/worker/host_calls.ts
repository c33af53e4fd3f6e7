/**
 * Worker side of context calls: `ctx.result`, immediate checkpoints and feedback requests of a
 * task running on a worker go to the producer of its run through Redis (a hash entry plus a
 * pub/sub wake-up); the reply comes back the same way. Polling covers lost wake-ups.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { ContextCall } from "../context/remote_context.ts";
import { fromErrorRecord, WorkflowError } from "../errors.ts";
import type { RedisKeys } from "../redis/keys.ts";
import { seal, unseal } from "../redis/signing.ts";
import type { CallRecord, JobMessage, ReplyRecord } from "../redis/wire.ts";

interface PendingCall {
  runId: string;
  resolve(sealed: string): void;
}

/** Sends context calls to producers and waits for their replies. */
export class HostCalls {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #workerId: string;
  readonly #secret: string | undefined;
  readonly #pollMs: number;
  readonly #pending = new Map<string, PendingCall>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates the call sender.
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param workerId This worker's id (its wake channel).
   * @param options Secret and poll interval.
   */
  constructor(
    redis: Redis,
    keys: RedisKeys,
    workerId: string,
    options: { secret?: string; pollMs: number },
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#workerId = workerId;
    this.#secret = options.secret;
    this.#pollMs = options.pollMs;
  }

  /**
   * Handles a message of this worker's wake channel (`r\n<callId>\n<sealed reply>`).
   *
   * @param payload The message.
   */
  onWake(payload: string): void {
    if (!payload.startsWith("r\n")) return;
    const nl = payload.indexOf("\n", 2);
    const id = payload.slice(2, nl);
    this.#settle(id, payload.slice(nl + 1));
  }

  #settle(id: string, sealed: string): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.#redis.hdel(this.#keys.replies(p.runId), id).catch(() => {});
    p.resolve(sealed);
  }

  /**
   * Sends a call for a job and waits for the reply.
   *
   * @param message The job making the call.
   * @param call The call.
   * @param signal Aborts the wait.
   * @returns The answer (codec tree).
   * @throws The error the producer answered with, or `signal.reason`.
   */
  async call(message: JobMessage, call: ContextCall, signal: AbortSignal): Promise<unknown> {
    signal.throwIfAborted();
    const id = crypto.randomUUID();
    const record: CallRecord = { id, job: message.job, replyTo: this.#workerId, call };
    const sealed = seal(JSON.stringify(record), this.#secret);
    let onAbort!: () => void;
    const reply = new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { runId: message.runId, resolve });
      onAbort = () => {
        this.#pending.delete(id);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const calls = this.#keys.calls(message.runId);
      await this.#redis.multi()
        .hset(calls, id, sealed)
        .pexpire(calls, 86_400_000)
        .publish(this.#keys.wake(message.replyTo), `c\n${message.runId}\n${id}\n${sealed}`)
        .exec();
      this.#schedulePoll();
      const { text, valid } = unseal(await reply, this.#secret);
      if (!valid) {
        throw new WorkflowError(
          `Cannot use the reply to a ${call.op} call of task "${message.taskId}": bad signature`,
          { code: "BAD_SIGNATURE" },
        );
      }
      const r = JSON.parse(text) as ReplyRecord;
      if (!r.ok) throw fromErrorRecord(r.error);
      return r.value;
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
    }
  }

  #schedulePoll(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(async () => {
      try {
        const byRun = new Map<string, string[]>();
        for (const [id, p] of this.#pending) {
          const list = byRun.get(p.runId);
          if (list) list.push(id);
          else byRun.set(p.runId, [id]);
        }
        for (const [runId, ids] of byRun) {
          const values = await this.#redis.hmget(this.#keys.replies(runId), ...ids);
          values.forEach((v, i) => v && this.#settle(ids[i], v));
        }
      } catch {
        /* next poll */
      } finally {
        this.#timer = undefined;
        if (this.#pending.size > 0) this.#schedulePoll();
      }
    }, this.#pollMs);
  }

  /** Stops polling. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
