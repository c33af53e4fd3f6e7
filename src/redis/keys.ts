/**
 * Every Redis key and pub/sub channel name used by Graflow, in one place. Run-scoped keys put
 * the run id in braces (`{runId}`): run ids cannot contain braces, so names never collide across
 * runs.
 *
 * Redis Cluster is not supported: the Lua scripts touch keys of several runs and of the prefix in
 * one step (a waiting-jobs check covers every run a producer waits for; an outcome is recorded
 * and its entry acknowledged together), which a Cluster refuses when the keys live on different
 * slots. Use one Redis (with replicas or Sentinel for availability).
 *
 * Every run-scoped key expires: the queue bookkeeping keys carry the retention from their first
 * write, and at the end of a run the backend gives every key of the run (its channel too) the
 * retention (see `retentionMs` of `redisBackend`).
 *
 * @module
 */

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The consumer group every worker of a prefix joins. */
export const CONSUMER_GROUP = "graflow";

/** The pseudo-consumer that owns entries handed back by a worker that shut down. */
export const HANDBACK_CONSUMER = "graflow:handback";

/**
 * Checks a key prefix.
 *
 * @param prefix The prefix.
 * @returns The prefix.
 * @throws {TypeError} When it is not 1-64 characters of `[A-Za-z0-9_.:-]`.
 */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new TypeError(
      `Cannot use Redis key prefix ${
        JSON.stringify(prefix)
      }: a prefix must be 1-64 characters of [A-Za-z0-9_.:-]`,
    );
  }
  return prefix;
}

/** Key names for one prefix. */
export class RedisKeys {
  /** The prefix every key starts with. */
  readonly prefix: string;

  /**
   * Creates the key set.
   *
   * @param prefix Key prefix. @default {"graflow"}
   * @throws {TypeError} When the prefix is malformed.
   */
  constructor(prefix = "graflow") {
    this.prefix = checkPrefix(prefix);
  }

  /**
   * The work queue.
   *
   * @returns The work queue (a stream with the consumer group {@linkcode CONSUMER_GROUP}).
   */
  queue(): string {
    return `${this.prefix}:queue`;
  }

  /**
   * The dead-letter stream.
   *
   * @returns The dead-letter stream (poison messages with the reason).
   */
  dead(): string {
    return `${this.prefix}:dead`;
  }

  /**
   * The queue settings.
   *
   * @returns The queue settings hash (e.g. `leaseMs` set by the backend, signed when a secret is
   * set).
   */
  config(): string {
    return `${this.prefix}:config`;
  }

  /**
   * The control channel.
   *
   * @returns The pub/sub channel workers listen on (cancel, hand-back and config notices).
   */
  control(): string {
    return `${this.prefix}:control`;
  }

  /**
   * The wake-up channel of one instance.
   *
   * @param id A producer or worker instance id.
   * @returns The pub/sub channel that wakes that instance (outcomes, calls, replies).
   */
  wake(id: string): string {
    return `${this.prefix}:wake:${id}`;
  }

  /**
   * Outcomes of a run.
   *
   * @param runId The run.
   * @returns The hash of task outcomes by job id.
   */
  outcomes(runId: string): string {
    return `${this.prefix}:run:{${runId}}:outcomes`;
  }

  /**
   * Jobs of a run.
   *
   * @param runId The run.
   * @returns The hash of the queue entry id of each job (by job id): a job runs only from the
   * entry it was enqueued as.
   */
  jobs(runId: string): string {
    return `${this.prefix}:run:{${runId}}:jobs`;
  }

  /**
   * Context calls a run served.
   *
   * @param runId The run.
   * @returns The set of call ids already served (a call is served once).
   */
  served(runId: string): string {
    return `${this.prefix}:run:{${runId}}:served`;
  }

  /**
   * Live workers.
   *
   * @returns The sorted set of worker ids by the time (ms) their announcement expires.
   */
  workers(): string {
    return `${this.prefix}:workers`;
  }

  /**
   * Runs in progress.
   *
   * @returns The sorted set of run ids by the time (ms) a producer last waited for them (runs
   * left by a producer that died are found there and given the retention).
   */
  runs(): string {
    return `${this.prefix}:runs`;
  }

  /**
   * Context calls of a run.
   *
   * @param runId The run.
   * @returns The hash of context calls (worker to producer) by call id.
   */
  calls(runId: string): string {
    return `${this.prefix}:run:{${runId}}:calls`;
  }

  /**
   * Replies to context calls of a run.
   *
   * @param runId The run.
   * @returns The hash of answers to context calls by call id.
   */
  replies(runId: string): string {
    return `${this.prefix}:run:{${runId}}:replies`;
  }

  /**
   * Index of a run channel.
   *
   * @param runId The run.
   * @returns The set of the channel's keys.
   */
  channelIndex(runId: string): string {
    return `${this.prefix}:run:{${runId}}:ch`;
  }

  /**
   * Key prefix of a run channel.
   *
   * @param runId The run.
   * @returns What every channel value key of the run starts with.
   */
  channelBase(runId: string): string {
    return `${this.prefix}:run:{${runId}}:ch:`;
  }

  /**
   * The Redis key of one channel key.
   *
   * @param runId The run.
   * @param key The channel key.
   * @returns The Redis key holding the value (a string) or list (a list) of `key`.
   */
  channelValue(runId: string, key: string): string {
    return this.channelBase(runId) + key;
  }

  /**
   * A feedback request.
   *
   * @param id The feedback request id.
   * @returns The hash holding the request (`record`) and its answer (`response`).
   */
  feedback(id: string): string {
    return `${this.prefix}:feedback:{${id}}`;
  }

  /**
   * The index of feedback requests.
   *
   * @returns A sorted set of request ids scored by creation time (ms).
   */
  feedbackIndex(): string {
    return `${this.prefix}:feedback-index`;
  }

  /**
   * The channel announcing an answer.
   *
   * @param id The feedback request id.
   * @returns The pub/sub channel announcing its answer.
   */
  feedbackAnswered(id: string): string {
    return `${this.prefix}:feedback-answered:${id}`;
  }

  /**
   * A recorded run (`redisRunStore`).
   *
   * @param runId The run.
   * @returns The hash of its record (`rec`) and its flow's graph (`graph`).
   */
  runRecord(runId: string): string {
    return `${this.prefix}:rec:{${runId}}`;
  }

  /**
   * A recorded run's journal.
   *
   * @param runId The run.
   * @returns The list of its journal entries (entry n at index n - 1).
   */
  runJournal(runId: string): string {
    return `${this.prefix}:rec:{${runId}}:journal`;
  }

  /**
   * A recorded run's newest snapshot.
   *
   * @param runId The run.
   * @returns The string holding it.
   */
  runSnapshot(runId: string): string {
    return `${this.prefix}:rec:{${runId}}:snapshot`;
  }

  /**
   * The run store's indexes: every run, or by status, or by flow.
   *
   * @param by `all`, `status:<status>` or `flow:<flow>`.
   * @returns A sorted set of run ids by creation time (ms).
   */
  runIndex(by: string): string {
    return `${this.prefix}:rindex:${by}`;
  }

  /**
   * Leases of recorded runs.
   *
   * @returns The sorted set of owned run ids by lease end (ms).
   */
  runLeases(): string {
    return `${this.prefix}:rleases`;
  }

  /**
   * Failed runs marked for retry.
   *
   * @returns The set of their ids.
   */
  runRetries(): string {
    return `${this.prefix}:rretry`;
  }

  /**
   * An idempotency key of the run store.
   *
   * @param hash The key's hash.
   * @returns The string holding its run id.
   */
  idempotency(hash: string): string {
    return `${this.prefix}:idem:${hash}`;
  }

  /**
   * Changes of recorded runs.
   *
   * @returns The pub/sub channel announcing them (`run\n<id>`, `journal\n<id>\n<from>\n<to>`).
   */
  runEvents(): string {
    return `${this.prefix}:run-events`;
  }
}
