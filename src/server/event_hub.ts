/**
 * Live events for Server-Sent Events clients: one `store.watch()` per server, fanned out to
 * every connected client (each event is serialised once), plus the server's own events
 * (new and settled feedback requests, notification deliveries) that the journal does not hold.
 * A client that falls behind by more than `maxQueuedBytes` is disconnected (its EventSource
 * reconnects and reloads), so one slow viewer cannot make the server buffer without bound.
 *
 * Event names: `run` (a run record changed: `{ run }`), `journal` (transitions appended:
 * `{ runId, entries: [{ seq, at, type, step?, taskId?, attempt? }] }`), `feedback`
 * (`{ event: "requested" | "settled", request }`), `notification` (a delivery attempt:
 * `{ runId, feedbackId, target, attempt, ok, status?, error?, final }`).
 *
 * @module
 */
import type { RunStore, StoreEvent } from "../store/run_store.ts";
import { apiRun } from "./views.ts";

/** A server event as sent to clients. */
export interface HubEvent {
  /** The run it concerns, if one (clients of `/runs/{id}/events` get only theirs). */
  runId?: string;
  /** SSE event name. */
  event: string;
  /** Its data (JSON-serialisable). */
  data: unknown;
}

interface Subscriber {
  runId?: string;
  push(chunk: Uint8Array): void;
  close(): void;
}

const encoder = new TextEncoder();

/**
 * A journal entry as sent to clients: what happened, without values.
 *
 * @param e The entry.
 * @returns A small summary.
 */
export function entrySummary(e: { seq: number; at: number; tr: unknown }): Record<string, unknown> {
  const tr = (e.tr ?? {}) as Record<string, unknown>;
  return {
    seq: e.seq,
    at: e.at,
    type: String(tr.t ?? "?"),
    ...(typeof tr.step === "number" ? { step: tr.step } : {}),
    ...(typeof tr.task === "string" ? { taskId: tr.task } : {}),
    ...(typeof tr.attempt === "number" ? { attempt: tr.attempt } : {}),
  };
}

/** Fans store changes and server events out to SSE clients. */
export class EventHub {
  readonly #subs = new Set<Subscriber>();
  readonly #stop = new AbortController();
  readonly #store: RunStore;
  readonly #onError: (error: unknown) => void;
  readonly #maxQueued: number;
  readonly #heartbeatMs: number;
  readonly #watching: Promise<void>;
  #seq = 0;

  /**
   * Starts watching the store.
   *
   * @param store The store.
   * @param options Error sink, per-client buffer limit, heartbeat interval.
   */
  constructor(
    store: RunStore,
    options: { onError?: (e: unknown) => void; maxQueuedBytes?: number; heartbeatMs?: number } = {},
  ) {
    this.#store = store;
    this.#onError = options.onError ?? (() => {});
    this.#maxQueued = options.maxQueuedBytes ?? 1 << 20;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#watching = this.#watch();
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#subs.size;
  }

  async #watch(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        for await (const e of this.#store.watch({ signal })) this.publish(fromStore(e));
      } catch (error) {
        if (signal.aborted) return;
        this.#onError(error);
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 1000)); // the store failed: try again
    }
  }

  /**
   * Sends an event to the clients it concerns.
   *
   * @param e The event.
   */
  publish(e: HubEvent): void {
    if (!this.#subs.size) return;
    const chunk = encoder.encode(
      `id: ${++this.#seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`,
    );
    for (const s of this.#subs) {
      if (s.runId === undefined || s.runId === e.runId) s.push(chunk);
    }
  }

  /**
   * A `text/event-stream` response that receives the events of one run, or of every run.
   *
   * @param runId Only this run's events.
   * @returns The response (the stream ends when the client goes away or the server closes).
   */
  response(runId: string | undefined): Response {
    let sub: Subscriber | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    const remove = () => {
      if (sub) this.#subs.delete(sub);
      clearInterval(timer);
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let open = true;
        sub = {
          runId,
          push: (chunk) => {
            if (!open) return;
            if ((controller.desiredSize ?? 0) < -this.#maxQueued) return sub!.close();
            controller.enqueue(chunk);
          },
          close: () => {
            if (!open) return;
            open = false;
            remove();
            try {
              controller.close();
            } catch { /* already closed */ }
          },
        };
        controller.enqueue(encoder.encode(`retry: 2000\n: connected\n\n`));
        if (this.#stop.signal.aborted) return sub.close();
        this.#subs.add(sub);
        timer = setInterval(() => sub!.push(encoder.encode(": ping\n\n")), this.#heartbeatMs);
      },
      cancel: () => {
        remove();
      },
    }, { highWaterMark: 0, size: (chunk) => chunk.byteLength });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** Ends every stream and stops watching. Idempotent. */
  async close(): Promise<void> {
    this.#stop.abort();
    for (const s of [...this.#subs]) s.close();
    await this.#watching;
  }
}

function fromStore(e: StoreEvent): HubEvent {
  if (e.type === "run") {
    return { runId: e.record.runId, event: "run", data: { run: apiRun(e.record) } };
  }
  return {
    runId: e.runId,
    event: "journal",
    data: { runId: e.runId, entries: e.entries.map(entrySummary) },
  };
}
