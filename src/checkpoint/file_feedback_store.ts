/**
 * The default {@linkcode FeedbackStore}: files under the checkpoint directory, written
 * atomically; the first answer wins (created with an exclusive hard link).
 *
 * @module
 */
import { join } from "node:path";
import type { FeedbackResponse } from "../context/task_context.ts";
import {
  type FeedbackCancellation,
  type FeedbackListOptions,
  type FeedbackRecord,
  type FeedbackStore,
  selectFeedback,
} from "./feedback_store.ts";
import { alreadyAnswered, cancelledError, notFound } from "./feedback_errors.ts";

/** What the response file holds: an answer, or a cancellation. */
type Settlement = FeedbackResponse & { cancelled?: FeedbackCancellation };
import { writeFileAtomic } from "./files.ts";
import { sleep } from "../time/sleep.ts";

const SAFE_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

/** Options of {@linkcode FileFeedbackStore}. */
export interface FileFeedbackStoreOptions {
  /** How often `wait` looks for an answer. @default {25} */
  pollMs?: number;
}

/**
 * Stores each request as `<dir>/<id>.request.json` and its answer as `<dir>/<id>.response.json`.
 * Any process that can read the folder can answer (`provideFeedback(id, answer, { checkpointDir })`).
 */
export class FileFeedbackStore implements FeedbackStore {
  /** The folder. */
  readonly dir: string;
  readonly #pollMs: number;

  /**
   * Creates the store.
   *
   * @param dir The folder (created on first write).
   * @param options Polling interval.
   */
  constructor(dir: string, options: FileFeedbackStoreOptions = {}) {
    this.dir = dir;
    this.#pollMs = options.pollMs ?? 25;
  }

  #file(id: string, kind: "request" | "response"): string {
    if (!SAFE_ID.test(id)) {
      throw new TypeError(
        `Cannot use feedback request id ${
          JSON.stringify(id)
        }: it must match [A-Za-z0-9_.:-]{1,200}`,
      );
    }
    return join(this.dir, `${id}.${kind}.json`);
  }

  async #read<T>(file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(file)) as T;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** Saves a new request (an existing request file is kept). */
  async create(record: FeedbackRecord): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    const file = this.#file(record.id, "request");
    if (await this.#read(file)) return;
    const { response: _r, ...request } = record;
    await writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(request, null, 2)));
  }

  /** Reads a request and its answer or cancellation. */
  async get(id: string): Promise<FeedbackRecord | undefined> {
    const record = await this.#read<FeedbackRecord>(this.#file(id, "request"));
    if (!record) return undefined;
    const settled = await this.#read<Settlement>(this.#file(id, "response"));
    if (!settled) return record;
    return settled.cancelled
      ? { ...record, cancelled: settled.cancelled }
      : { ...record, response: settled as FeedbackResponse };
  }

  /** Settles a request once: exactly one answer or cancellation wins (an exclusive link). */
  async #settle(id: string, settlement: Settlement): Promise<FeedbackRecord> {
    const record = await this.get(id);
    if (!record) throw notFound(id);
    const refuse = (r: FeedbackRecord) =>
      r.cancelled ? cancelledError(id, r.cancelled.reason) : alreadyAnswered(id);
    if (record.response || record.cancelled) throw refuse(record);
    const target = this.#file(id, "response");
    const tmp = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await writeFileAtomic(tmp, new TextEncoder().encode(JSON.stringify(settlement, null, 2)));
    try {
      await Deno.link(tmp, target); // fails if settled meanwhile: exactly one wins
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) throw refuse((await this.get(id))!);
      throw error;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    return (await this.get(id))!;
  }

  /** Stores the answer: the first answer (or cancellation) wins. */
  respond(id: string, response: FeedbackResponse): Promise<FeedbackRecord> {
    return this.#settle(id, response);
  }

  /** Cancels an open request. */
  cancel(id: string, cancellation: FeedbackCancellation): Promise<FeedbackRecord> {
    return this.#settle(id, { cancelled: cancellation } as Settlement);
  }

  /** Requests, newest first (reads every request file of the folder). */
  async list(options?: FeedbackListOptions): Promise<FeedbackRecord[]> {
    const records: FeedbackRecord[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (!entry.isFile || !entry.name.endsWith(".request.json")) continue;
        const id = entry.name.slice(0, -".request.json".length);
        if (!SAFE_ID.test(id)) continue;
        const record = await this.get(id).catch(() => undefined);
        if (record) records.push(record);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return selectFeedback(records, options);
  }

  /** Resolves with the answer once it exists (polls every `pollMs`). */
  async wait(id: string, signal: AbortSignal): Promise<FeedbackResponse> {
    const file = this.#file(id, "response");
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const settled = await this.#read<Settlement>(file);
      if (settled?.cancelled) throw cancelledError(id, settled.cancelled.reason);
      if (settled) return settled as FeedbackResponse;
      // An abort ends the pause early; the loop then throws the signal's reason.
      await sleep(this.#pollMs, signal).catch(() => {});
    }
  }
}
