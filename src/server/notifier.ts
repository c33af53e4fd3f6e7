/**
 * Notifications of new human-in-the-loop requests: the server polls
 * `store.feedback.list({ pending: true })` (requests of runs in any process of the store), and
 * for each new request POSTs to every target — a JSON webhook signed with
 * `X-Graflow-Signature: sha256=<hex HMAC-SHA256 of the body>` under the target's secret, or a
 * Slack-compatible incoming-webhook payload (`{ text, blocks }`) with a link to the inbox.
 * A failed delivery (network error, timeout, 408, 429 or 5xx) is retried with exponential
 * backoff; other 4xx answers are final. Every attempt is an event: on the run's SSE stream
 * (`notification`), in `GET /notifications`, on the run page, and in the server's log; a
 * target is named by its origin only (Slack URLs carry their secret in the path).
 *
 * Requests that were already pending when the server started are not notified again unless
 * `notifyExisting` is set. Run one notifying server per store (each server notifies).
 *
 * @module
 */
import { createHmac } from "node:crypto";
import type { FeedbackRecord } from "../checkpoint/feedback_store.ts";
import type { RunStore } from "../store/run_store.ts";
import type { EventHub } from "./event_hub.ts";
import { apiFeedback } from "./views.ts";

/** Where notifications go. */
export interface NotifyTarget {
  /** The endpoint (http or https). */
  url: string;
  /** `json` (signed webhook) or `slack` (incoming-webhook payload). @default {"json"} */
  format?: "json" | "slack";
  /** HMAC secret of the signature header (required for `json`; optional for `slack`). */
  secret?: string;
}

/** Options of notifications (`serve({ notify })`). */
export interface NotifyOptions {
  /** Where to send them. */
  targets: NotifyTarget[];
  /** The dashboard's public URL for links. @default {the server's URL} */
  publicUrl?: string;
  /** How often to look for new requests. @default {1000} */
  pollMs?: number;
  /** Retries after a failed attempt. @default {5} */
  retries?: number;
  /** Delay before the first retry; doubled each time. @default {1000} */
  initialDelayMs?: number;
  /** Longest delay between attempts. @default {60000} */
  maxDelayMs?: number;
  /** Time limit of one attempt. @default {10000} */
  timeoutMs?: number;
  /** Also notify requests already pending when the server starts. @default {false} */
  notifyExisting?: boolean;
}

/** One delivery attempt. */
export interface Delivery {
  /** The run. */
  runId: string;
  /** The request. */
  feedbackId: string;
  /** The target, by origin and format. */
  target: string;
  /** 1-based attempt. */
  attempt: number;
  /** Whether the target accepted it (2xx). */
  ok: boolean;
  /** The HTTP status, if one came back. */
  status?: number;
  /** Why it failed. */
  error?: string;
  /** No more attempts follow. */
  final: boolean;
  /** When (ISO). */
  at: string;
}

/**
 * The signature header value of a body.
 *
 * @param secret The shared secret.
 * @param body The exact body sent.
 * @returns `sha256=<hex>`.
 *
 * @example Verifying a delivery
 * ```ts
 * import { webhookSignature } from "@graflow/graflow/server";
 * const body = '{"type":"feedback.requested"}';
 * console.log(webhookSignature("s3cret", body).startsWith("sha256=")); // true
 * ```
 */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

function checkTargets(targets: NotifyTarget[]): void {
  if (!Array.isArray(targets)) throw new TypeError("Cannot notify: targets must be an array");
  targets.forEach((t, i) => {
    let url: URL;
    try {
      url = new URL(t?.url);
    } catch {
      throw new TypeError(`Cannot notify: target ${i + 1} has no valid url`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(
        `Cannot notify: target ${i + 1} must be http or https, got ${url.protocol}`,
      );
    }
    const format = t.format ?? "json";
    if (format !== "json" && format !== "slack") {
      throw new TypeError(
        `Cannot notify: target ${i + 1} format must be "json" or "slack", got ${
          JSON.stringify(format)
        }`,
      );
    }
    if (format === "json" && (typeof t.secret !== "string" || t.secret.length < 16)) {
      throw new TypeError(
        `Cannot notify: target ${i + 1} (json) needs a secret of at least 16 characters`,
      );
    }
  });
}

function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Watches for new feedback requests and delivers notifications. */
export class Notifier {
  readonly #store: RunStore;
  readonly #hub: EventHub;
  readonly #o: NotifyOptions;
  readonly #baseUrl: () => string;
  readonly #log: (d: Delivery) => void;
  readonly #stop = new AbortController();
  readonly #recent: Delivery[] = [];
  readonly #pending = new Set<Promise<void>>();
  #seen: Set<string> | undefined;
  #startedAt = new Date().toISOString();
  #loop: Promise<void> | undefined;

  /**
   * @param store The store.
   * @param hub Where delivery events go.
   * @param options Targets and retry settings (`undefined`: only detect, for live events).
   * @param baseUrl The server's URL.
   * @param log Receives every delivery attempt.
   * @throws {TypeError} When a target is malformed.
   */
  constructor(
    store: RunStore,
    hub: EventHub,
    options: NotifyOptions | undefined,
    baseUrl: () => string,
    log: (d: Delivery) => void = () => {},
  ) {
    if (options) checkTargets(options.targets);
    this.#store = store;
    this.#hub = hub;
    this.#o = options ?? { targets: [] };
    this.#baseUrl = baseUrl;
    this.#log = log;
  }

  /** Starts polling. */
  start(): void {
    this.#startedAt = new Date().toISOString();
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const pollMs = this.#o.pollMs ?? 1000;
    while (!this.#stop.signal.aborted) {
      try {
        await this.poll();
      } catch { /* the store is unreachable for now: try again */ }
      await this.#sleep(pollMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Looks for new and settled requests once (the loop calls it; tests may too). */
  async poll(): Promise<void> {
    const list = await this.#store.feedback.list({ pending: true, limit: 1000 });
    const now = new Set(list.map((r) => r.id));
    const first = this.#seen === undefined;
    const seen = this.#seen ?? new Set<string>();
    for (const r of list) {
      if (seen.has(r.id)) continue;
      this.#hub.publish({
        runId: r.runId,
        event: "feedback",
        data: { event: "requested", request: apiFeedback(r) },
      });
      if (first && !this.#o.notifyExisting && r.createdAt < this.#startedAt) continue;
      for (const t of this.#o.targets) this.#track(this.#deliver(r, t));
    }
    this.#seen = now;
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  #payload(r: FeedbackRecord, t: NotifyTarget, deliveryId: string): string {
    const base = (this.#o.publicUrl ?? this.#baseUrl()).replace(/\/+$/, "");
    const inbox = `${base}/ui/inbox#${encodeURIComponent(r.id)}`;
    if ((t.format ?? "json") === "slack") {
      const kind = r.request.type === "approval"
        ? "Approval needed"
        : r.request.type === "text"
        ? "Answer needed"
        : "Choice needed";
      const line = `${kind}: ${slackEscape(r.request.prompt)}`;
      const where = `run \`${slackEscape(r.runId)}\`, task \`${slackEscape(r.taskId)}\``;
      return JSON.stringify({
        text: `${line} (${where}) <${inbox}|Open the inbox>`,
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: `*${line}*\n${where}` } },
          {
            type: "actions",
            elements: [{
              type: "button",
              text: { type: "plain_text", text: "Open the inbox" },
              url: inbox,
            }],
          },
        ],
      });
    }
    return JSON.stringify({
      type: "feedback.requested",
      deliveryId,
      sentAt: new Date().toISOString(),
      request: apiFeedback(r),
      inboxUrl: inbox,
    });
  }

  async #deliver(r: FeedbackRecord, t: NotifyTarget): Promise<void> {
    const retries = this.#o.retries ?? 5;
    const deliveryId = crypto.randomUUID();
    const u = new URL(t.url);
    const target = `${u.origin} (${t.format ?? "json"})`;
    let delay = this.#o.initialDelayMs ?? 1000;
    for (let attempt = 1; attempt <= retries + 1 && !this.#stop.signal.aborted; attempt++) {
      const body = this.#payload(r, t, deliveryId);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "user-agent": "graflow-server",
        "x-graflow-delivery": deliveryId,
      };
      if (t.secret) headers["x-graflow-signature"] = webhookSignature(t.secret, body);
      let ok = false;
      let status: number | undefined;
      let error: string | undefined;
      let retryable = true;
      try {
        const res = await fetch(t.url, {
          method: "POST",
          headers,
          body,
          redirect: "manual",
          signal: AbortSignal.any([
            this.#stop.signal,
            AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
          ]),
        });
        await res.body?.cancel();
        status = res.status;
        ok = res.ok;
        if (!ok) {
          error = `HTTP ${res.status}`;
          retryable = res.status >= 500 || res.status === 408 || res.status === 429;
        }
      } catch (e) {
        error = (e as Error)?.name === "TimeoutError"
          ? "timed out"
          : String((e as Error)?.message ?? e);
      }
      const final = ok || !retryable || attempt === retries + 1;
      const d: Delivery = {
        runId: r.runId,
        feedbackId: r.id,
        target,
        attempt,
        ok,
        ...(status !== undefined ? { status } : {}),
        ...(error ? { error } : {}),
        final,
        at: new Date().toISOString(),
      };
      this.#record(d);
      if (final) return;
      await this.#sleep(delay);
      delay = Math.min(delay * 2, this.#o.maxDelayMs ?? 60_000);
    }
  }

  #record(d: Delivery): void {
    this.#recent.push(d);
    if (this.#recent.length > 500) this.#recent.shift();
    this.#hub.publish({ runId: d.runId, event: "notification", data: d });
    try {
      this.#log(d);
    } catch { /* a logger must not stop deliveries */ }
  }

  /**
   * Recent delivery attempts (the last 500), oldest first.
   *
   * @param runId Only this run's.
   * @returns The attempts.
   */
  deliveries(runId?: string): Delivery[] {
    return this.#recent.filter((d) => runId === undefined || d.runId === runId);
  }

  /** Stops polling and abandons retries. Idempotent. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await Promise.all([...this.#pending]);
  }
}
