/**
 * A real server over a real store for tests: `localRunStore` in a temp folder, `serve()` on a
 * free loopback port, two tokens, and `api()`, which checks every JSON response against the
 * server's own `/openapi.json` (so every API test is also a conformance test).
 *
 * @module
 */
import assert from "assert";
import { localRunStore, type RunStore } from "../../mod.ts";
import {
  type GraflowServer,
  openApiDocument,
  serve,
  type ServeOptions,
  type ServerEvent,
} from "../../src/server/mod.ts";
import { checkResponse } from "./schema_check.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";
import "./fixtures/flows.ts";

type RedisStoreFactory = (o: { url: string; prefix?: string }) => RunStore;
const redisModule = await import("../../src/redis/mod.ts") as unknown as {
  redisRunStore?: RedisStoreFactory;
};

/**
 * The stores the API tests run against: the local store, and the Redis store when this tree
 * has `redisRunStore` and redis-server is installed (otherwise those variants are skipped).
 */
export const STORES: readonly { kind: "local" | "redis"; ignore: boolean }[] = [
  { kind: "local", ignore: false },
  { kind: "redis", ignore: NO_REDIS || !redisModule.redisRunStore },
];

/**
 * Declares a test once per store.
 *
 * @param name The test's name (the store's kind is appended).
 * @param fn The test, given the store's kind.
 */
export function storeTest(name: string, fn: (kind: "local" | "redis") => Promise<void>): void {
  for (const s of STORES) {
    Deno.test({ name: `${name} [${s.kind} store]`, ignore: s.ignore, fn: () => fn(s.kind) });
  }
}

/** The operator's token. */
export const OPERATOR = "op-token-0123456789abcdef";
/** The viewer's token. */
export const VIEWER = "view-token-0123456789abcdef";
/** Both, as `GRAFLOW_TOKENS` text. */
export const TOKENS = `ops:operator:${OPERATOR},watcher:viewer:${VIEWER}`;

const DOC = openApiDocument();

/** A running test server. */
export interface TestServer extends AsyncDisposable {
  server: GraflowServer;
  store: RunStore;
  url: string;
  events: ServerEvent[];
  /** A request; the JSON body is checked against the OpenAPI document. */
  api(
    path: string,
    init?: RequestInit & { token?: string | null; json?: unknown },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
}

/**
 * Starts a server over a fresh store.
 *
 * @param options More server options.
 * @returns The server; dispose it.
 */
export async function startServer(
  options: Partial<ServeOptions> & { storeDir?: string; kind?: "local" | "redis" } = {},
): Promise<TestServer> {
  const { kind = "local", storeDir, ...serveOptions } = options;
  const dir = storeDir ?? await Deno.makeTempDir({ prefix: "graflow-server-" });
  let redis: RedisServer | undefined;
  let store: RunStore;
  if (kind === "redis") {
    redis = await RedisServer.start();
    store = redisModule.redisRunStore!({ url: redis.url(), prefix: randomPrefix() });
  } else store = localRunStore({ dir, pollMs: 20 });
  const events: ServerEvent[] = [];
  const server = await serve({
    store,
    port: 0,
    tokens: TOKENS,
    onServerEvent: (e) => events.push(e),
    ...serveOptions,
  });
  return {
    server,
    store,
    url: server.url,
    events,
    async api(path, init = {}) {
      const { token = OPERATOR, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      const res = await fetch(`${server.url}${path}`, {
        ...rest,
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
      const type = res.headers.get("content-type") ?? "";
      const body = type.startsWith("application/json")
        ? await res.json()
        : { text: await res.text() };
      const u = new URL(path, server.url);
      const problems = checkResponse(
        DOC,
        rest.method ?? "GET",
        u.pathname,
        res.status,
        type.startsWith("application/json") ? body : undefined,
      );
      assert.deepEqual(problems, [], `OpenAPI conformance of ${rest.method ?? "GET"} ${path}`);
      return { status: res.status, body, headers: res.headers };
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await store.close();
      await redis?.[Symbol.asyncDispose]();
      if (!storeDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Waits until `check` returns something truthy.
 *
 * @param check The condition.
 * @param what What is awaited, for the message.
 * @param timeoutMs How long at most.
 * @returns What `check` returned.
 */
export async function until<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
