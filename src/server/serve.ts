/**
 * `serve()`: the operations server — the JSON API, live events, the dashboard and the inbox on
 * one port, over a run store. Built on `Deno.serve` and Hono (the router most used with Deno:
 * Web-standard `Request`/`Response`, no Node shims, small). Requests pass one gate before any
 * route: tokens in URLs are refused, the bearer token or session cookie is checked, a
 * state-changing request must come from the same origin (and, with a cookie, carry the CSRF
 * token); every response gets a strict Content-Security-Policy and `nosniff` (`./gate.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import { getFlow, registeredFlows } from "../dsl/flow_registry.ts";
import { Flow } from "../dsl/flow.ts";
import type { RunStore } from "../store/run_store.ts";
import {
  type Orchestrator,
  type OrchestratorEvent,
  type OrchestratorOptions,
  runOrchestrator,
} from "../worker/orchestrator.ts";
import { apiRoutes } from "./api.ts";
import type { Env, ServerContext } from "./context.ts";
import { messagePage } from "./dashboard/inbox_pages.ts";
import { page } from "./dashboard/html.ts";
import { uiRoutes } from "./dashboard/ui_routes.ts";
import { EventHub } from "./event_hub.ts";
import { HttpError, json, toHttpError } from "./http_error.ts";
import { gate, secured } from "./gate.ts";
import { type Delivery, Notifier, type NotifyOptions } from "./notifier.ts";
import { feedbackMetrics, graflowMetrics } from "../observability/run_metrics.ts";
import { RunViews } from "./run_view.ts";
import { Sessions } from "./session.ts";
import { parseTokens, TokenSet, type TokenSpec } from "./tokens.ts";

/** What the server reports (the CLI prints them as JSON lines; tokens never appear). */
export type ServerEvent =
  | { type: "listening"; url: string }
  | { type: "request"; method: string; path: string; status: number; ms: number; user?: string }
  | { type: "notification"; delivery: Delivery }
  | { type: "error"; error: string; path?: string }
  | { type: "orchestrator"; event: OrchestratorEvent }
  | { type: "stopped" };

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** The run store it shows and steers. */
  store: RunStore;
  /** The tokens: a list, or text `name:role:token,...` (see `parseTokens`). At least one. */
  tokens: readonly TokenSpec[] | string;
  /** TCP port; 0 picks a free one. @default {8080} */
  port?: number;
  /** Interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /**
   * The flows that can be started through the server (names or registered flows).
   * @default {every flow registered in this process}
   */
  flows?: readonly (string | Flow)[];
  /**
   * Also run an orchestrator in this process (it runs queued runs and continues answered and
   * orphaned ones): `true` or its options. @default {false}
   */
  orchestrate?: boolean | Omit<OrchestratorOptions, "store" | "signal" | "onOrchestratorEvent">;
  /** Notifications of new feedback requests (webhooks, Slack). */
  notify?: NotifyOptions;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
  /** Largest request body in bytes. @default {65536} */
  maxBodyBytes?: number;
  /** Key that signs session cookies (32+ bytes); sessions then survive restarts. @default {random per process} */
  sessionKey?: string | Uint8Array;
  /** How long a dashboard session lasts. @default {43200000} (12 hours) */
  sessionTtlMs?: number;
  /** The URL people reach the server at (links in notifications; an allowed Origin). */
  publicUrl?: string;
  /** Receives requests, deliveries and errors (for logs). */
  onServerEvent?: (event: ServerEvent) => void;
}

/** A running operations server (see {@linkcode serve}). */
export class GraflowServer implements AsyncDisposable {
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The port. */
  readonly port: number;
  /** The in-process orchestrator, with `orchestrate`. */
  readonly orchestrator: Orchestrator | undefined;
  /** Settles once the server stopped. */
  readonly finished: Promise<void>;
  readonly #http: Deno.HttpServer;
  readonly #hub: EventHub;
  readonly #notifier: Notifier;
  readonly #stopMetrics: () => void;
  readonly #emit: (e: ServerEvent) => void;
  #closing: Promise<void> | undefined;

  /** @internal Use {@linkcode serve}. */
  constructor(parts: {
    url: string;
    port: number;
    http: Deno.HttpServer;
    hub: EventHub;
    notifier: Notifier;
    orchestrator?: Orchestrator;
    emit: (e: ServerEvent) => void;
    stopMetrics: () => void;
  }) {
    this.#stopMetrics = parts.stopMetrics;
    this.url = parts.url;
    this.port = parts.port;
    this.#http = parts.http;
    this.#hub = parts.hub;
    this.#notifier = parts.notifier;
    this.orchestrator = parts.orchestrator;
    this.#emit = parts.emit;
    this.finished = parts.http.finished;
  }

  /** Live-event clients connected now. */
  get clients(): number {
    return this.#hub.clients;
  }

  /**
   * Stops: ends live-event streams, lets requests in flight finish, stops notifications and the
   * in-process orchestrator (its runs continue elsewhere). Idempotent; every step runs even if
   * one fails.
   *
   * @returns Settles once everything stopped.
   */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      const steps = [
        () => this.#notifier.close(),
        () => this.#hub.close(),
        () => this.#http.shutdown(),
        () => this.orchestrator?.stop(),
        () => this.#stopMetrics(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          this.#emit({ type: "error", error: String((error as Error)?.message ?? error) });
        }
      }
      this.#emit({ type: "stopped" });
    })();
  }

  /** Same as {@linkcode GraflowServer.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Serves the HTTP API (`/runs`, `/feedback`, `/openapi.json`, `/health`, `/metrics`), live events (SSE) and
 * the dashboard (`/ui/`) over a run store.
 *
 * @param options The store, tokens, port and the rest.
 * @returns The running server; close it when done (`await using`).
 * @throws {TypeError} When the tokens, flows or notification targets are malformed.
 *
 * @example Serving a store
 * ```ts
 * import { localRunStore } from "@graflow/graflow";
 * import { serve } from "@graflow/graflow/server";
 * await using store = localRunStore({ dir: await Deno.makeTempDir() });
 * await using server = await serve({
 *   store,
 *   port: 0,
 *   tokens: [{ name: "ana", role: "viewer", token: crypto.randomUUID() }],
 * });
 * const res = await fetch(`${server.url}/health`);
 * console.log((await res.json()).status); // ok
 * ```
 */
export async function serve(options: ServeOptions): Promise<GraflowServer> {
  if (!options?.store) throw new TypeError("Cannot serve: store is required");
  const store = options.store;
  const tokens = new TokenSet(
    typeof options.tokens === "string" ? parseTokens(options.tokens) : options.tokens,
  );
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot serve: port must be 0-65535, got ${port}`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? 65536;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new RangeError(
      `Cannot serve: maxBodyBytes must be a positive whole number, got ${maxBodyBytes}`,
    );
  }
  let key: Uint8Array;
  if (options.sessionKey === undefined) key = crypto.getRandomValues(new Uint8Array(32));
  else {
    key = typeof options.sessionKey === "string"
      ? new TextEncoder().encode(options.sessionKey)
      : options.sessionKey;
    if (key.length < 32) {
      throw new TypeError("Cannot serve: sessionKey must have at least 32 bytes");
    }
  }
  const listed = (options.flows ?? []).map((f, i) => {
    if (f instanceof Flow) {
      if (!f.name) {
        throw new TypeError(`Cannot serve flow ${i + 1}: register it first (registerFlow)`);
      }
      return f;
    }
    if (typeof f !== "string") {
      throw new TypeError(`Cannot serve flow ${i + 1}: expected a name or a Flow`);
    }
    return f;
  });
  const startable = (): Flow[] =>
    options.flows === undefined
      ? registeredFlows().filter((f) => f.name)
      : listed.map((f) => typeof f === "string" ? getFlow(f) : f).filter((f): f is Flow => !!f);
  const flow = (name: string) => startable().find((f) => f.name === name) ?? getFlow(name);
  const emit = (e: ServerEvent) => {
    try {
      options.onServerEvent?.(e);
    } catch { /* a logger must not break the server */ }
  };

  const hub = new EventHub(store, { onError: (e) => emit({ type: "error", error: String(e) }) });
  let url = "";
  const notifier = new Notifier(
    store,
    hub,
    options.notify,
    () => options.publicUrl ?? url,
    (delivery) => emit({ type: "notification", delivery }),
  );
  const sessions = new Sessions(tokens, key, options.sessionTtlMs ?? 12 * 3600_000);
  const ctx: ServerContext = {
    store,
    hub,
    views: new RunViews(store, flow),
    tokens,
    sessions,
    notifier,
    flow,
    startable,
    maxBodyBytes,
    secureCookies: options.publicUrl?.startsWith("https:") ?? false,
  };
  const origins = new Set<string>();
  if (options.publicUrl) origins.add(new URL(options.publicUrl).origin);

  const app = new Hono<Env>();
  app.use("*", gate(tokens, sessions, origins));
  apiRoutes(app, ctx);
  uiRoutes(app, ctx);
  const isUi = (path: string) => path === "/ui" || path.startsWith("/ui/");
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const e = new HttpError(404, "NOT_FOUND", `Cannot find ${c.req.method} ${path.slice(0, 200)}`);
    return isUi(path) && c.req.method === "GET"
      ? new Response(page({ path }, "Not found", messagePage(404, e.message)), {
        status: 404,
        headers: { "content-type": "text/html; charset=utf-8" },
      })
      : json(e.body(), 404);
  });
  app.onError((error, c) => {
    const e = toHttpError(error);
    if (e.status >= 500) {
      emit({
        type: "error",
        error: String((error as Error)?.stack ?? error),
        path: new URL(c.req.url).pathname,
      });
    }
    return json(
      e.body(),
      e.status,
      e.status === 401 ? { "www-authenticate": 'Bearer realm="graflow"' } : {},
    );
  });

  const handler = secured(app, tokens, (r) => emit({ type: "request", ...r }));

  let orchestrator: Orchestrator | undefined;
  const http = Deno.serve({
    port,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: () => {},
    onError: (error) => {
      emit({ type: "error", error: String((error as Error)?.message ?? error) });
      return json({ status: 500, code: "INTERNAL", message: "Cannot handle the request" }, 500);
    },
  }, handler);
  const addr = http.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  url = `http://${host === "0.0.0.0" || host === "[::]" ? "localhost" : host}:${addr.port}`;
  try {
    if (options.orchestrate) {
      const o = options.orchestrate === true ? {} : options.orchestrate;
      orchestrator = await runOrchestrator({
        ...o,
        store,
        onOrchestratorEvent: (event) => emit({ type: "orchestrator", event }),
      });
    }
  } catch (error) {
    await notifier.close();
    await hub.close();
    await http.shutdown();
    throw error;
  }
  notifier.start();
  graflowMetrics.enable();
  const stopMetrics = feedbackMetrics(store.feedback); // open requests, the oldest's age
  const server = new GraflowServer({
    stopMetrics,
    url,
    port: addr.port,
    http,
    hub,
    notifier,
    orchestrator,
    emit,
  });
  options.signal?.addEventListener("abort", () => server.close(), { once: true });
  if (options.signal?.aborted) await server.close();
  emit({ type: "listening", url });
  return server;
}
