/**
 * Both halves of the context-call exchange through Redis. A task on a worker calls its `ctx`
 * (`ctx.result`, immediate checkpoints, feedback requests, channel calls without a direct
 * channel): {@linkcode CallClient} stores the call in the run's calls hash and wakes the
 * producer; {@linkcode CallServer} (in the producer) serves it with the task's host `ctx` and
 * stores the reply, waking the worker. Polling on both sides covers lost wake-ups.
 *
 * With a secret, a call is signed for its run and call id, and a reply for its run and call id
 * in the other direction: a call is served once (its id is remembered in Redis), and a reply
 * copied to another call is refused.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { type ContextCall, serveContextCall } from "../context/remote_context.ts";
import type { TaskContext } from "../context/task_context.ts";
import { fromErrorRecord, WorkflowError } from "../errors.ts";
import type { RedisKeys } from "./keys.ts";
import { LuaScript } from "./lua_script.ts";
import type { Signer } from "./signing.ts";
import { safeErrorRecord } from "./safe_outcome.ts";
import { encodeWake } from "./wake.ts";
import { activeCarrier } from "../observability/otel.ts";
import { sleep } from "../time/sleep.ts";
import {
  type CallRecord,
  type JobMessage,
  parseCallRecord,
  parseReplyRecord,
  type ReplyRecord,
} from "./wire.ts";

/**
 * Claim a call: remove it from the calls hash and remember its id as served.
 * KEYS: calls, served. ARGV: call id, retention ms. Returns 1 the first time, else 0.
 */
const CALL_CLAIM = new LuaScript(
  "call_claim",
  `redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`,
);

interface PendingCall {
  runId: string;
  resolve(sealed: string): void;
}

/** Worker side: sends context calls to producers and waits for their replies. */
export class CallClient {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #signer: Signer;
  readonly #workerId: string;
  readonly #pollMs: number;
  readonly #pending = new Map<string, PendingCall>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates the call sender.
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param signer Signs calls and checks replies.
   * @param workerId This worker's id (its wake channel).
   * @param pollMs How often replies are polled besides wake-ups.
   */
  constructor(redis: Redis, keys: RedisKeys, signer: Signer, workerId: string, pollMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#signer = signer;
    this.#workerId = workerId;
    this.#pollMs = pollMs;
  }

  /**
   * Takes a reply that woke this worker up.
   *
   * @param callId The call it claims to answer.
   * @param sealed The sealed reply.
   */
  onReply(callId: string, sealed: string): void {
    const p = this.#pending.get(callId);
    if (!p) return;
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
    const runId = message.runId;
    const trace = activeCarrier();
    const record: CallRecord = {
      id,
      job: message.job,
      replyTo: this.#workerId,
      call,
      ...(trace ? { trace } : {}),
    };
    const sealed = this.#signer.seal("call", runId, id, JSON.stringify(record));
    let onAbort!: () => void;
    let accept!: (r: ReplyRecord) => void;
    const reply = new Promise<ReplyRecord>((resolve, reject) => {
      accept = resolve;
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    // Only a reply sealed for this run and this call id is taken; anything else is ignored.
    this.#pending.set(id, {
      runId,
      resolve: (s) => {
        let r: ReplyRecord;
        try {
          r = parseReplyRecord(this.#signer.open("reply", runId, id, s));
        } catch {
          return;
        }
        this.#pending.delete(id);
        this.#redis.hdel(this.#keys.replies(runId), id).catch(() => {});
        accept(r);
      },
    });
    try {
      const calls = this.#keys.calls(runId);
      await this.#redis.multi()
        .hset(calls, id, sealed)
        .pexpire(calls, message.retentionMs)
        .publish(
          this.#keys.wake(message.replyTo),
          encodeWake({ kind: "call", runId, callId: id, sealed }),
        )
        .exec();
      this.#schedulePoll();
      const r = await reply;
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
          values.forEach((v, i) => v && this.onReply(ids[i], v));
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

/** What the server needs to know about a job that calls. */
export interface CallingJob {
  /** The job's run. */
  runId: string;
  /** The task's host context. */
  ctx: TaskContext;
}

/** Producer side: serves the context calls of the jobs it waits for. */
export class CallServer {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #signer: Signer;
  readonly #retentionMs: number;
  readonly #job: (job: string) => CallingJob | undefined;
  readonly #onRefused: (message: string) => void;

  /**
   * Creates the server.
   *
   * @param redis The command connection.
   * @param keys Key names.
   * @param signer Checks calls and signs replies.
   * @param options Retention, how to find a waiting job, where refused calls are reported.
   */
  constructor(
    redis: Redis,
    keys: RedisKeys,
    signer: Signer,
    options: {
      retentionMs: number;
      job(job: string): CallingJob | undefined;
      onRefused(message: string): void;
    },
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#signer = signer;
    this.#retentionMs = options.retentionMs;
    this.#job = options.job;
    this.#onRefused = options.onRefused;
  }

  /**
   * Serves every call stored for a run (those whose wake-up was missed).
   *
   * @param runId The run.
   */
  async poll(runId: string): Promise<void> {
    const calls = await this.#redis.hgetall(this.#keys.calls(runId));
    await Promise.all(Object.entries(calls).map(([id, sealed]) => this.serve(runId, id, sealed)));
  }

  /**
   * Serves one call: checks it was sealed for this run and call id, claims it (a call id is
   * served once, even by several producers or after a restart), answers with the task's host
   * `ctx`, and stores and publishes the reply. Never throws.
   *
   * @param runId The run the call was stored under.
   * @param callId The call id it was stored under.
   * @param sealed The sealed call record.
   */
  async serve(runId: string, callId: string, sealed: string): Promise<void> {
    let record: CallRecord;
    try {
      record = parseCallRecord(this.#signer.open("call", runId, callId, sealed));
      if (record.id !== callId) throw new TypeError(`it names call ${record.id}`);
    } catch (error) {
      this.#onRefused(
        `Refused context call ${callId} of run ${runId}: ${(error as Error).message}`,
      );
      await this.#redis.hdel(this.#keys.calls(runId), callId).catch(() => {});
      return;
    }
    const claimed = await CALL_CLAIM.run(
      this.#redis,
      [this.#keys.calls(runId), this.#keys.served(runId)],
      [callId, this.#retentionMs],
    ).catch(() => 0);
    if (claimed !== 1) return; // served already (or Redis is away: the worker keeps waiting)
    let reply: ReplyRecord;
    try {
      const job = this.#job(record.job);
      if (!job || job.runId !== runId) {
        throw new WorkflowError(
          `Cannot serve a context call: job ${record.job} of run ${runId} is not running`,
          { code: "JOB_NOT_RUNNING" },
        );
      }
      reply = { ok: true, value: await serveContextCall(job.ctx, record.call, record.trace) };
    } catch (error) {
      reply = { ok: false, error: safeErrorRecord(error) };
    }
    let text: string;
    try {
      text = JSON.stringify(reply);
    } catch (error) {
      text = JSON.stringify({ ok: false, error: safeErrorRecord(error) });
    }
    const out = this.#signer.seal("reply", runId, callId, text);
    const replies = this.#keys.replies(runId);
    // The call is claimed: its reply must land, or the task waits for it until its timeout.
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        await this.#redis.multi()
          .hset(replies, callId, out)
          .pexpire(replies, this.#retentionMs)
          .publish(
            this.#keys.wake(record.replyTo),
            encodeWake({ kind: "reply", callId, sealed: out }),
          )
          .exec();
        return;
      } catch {
        await sleep(200 * 2 ** attempt);
      }
    }
    this.#onRefused(`Could not store the reply to context call ${callId} of run ${runId}`);
  }
}
