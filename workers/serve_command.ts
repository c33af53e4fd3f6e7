/**
 * `graflow serve`: the operations server — the JSON API, live events, the dashboard and the
 * human-in-the-loop inbox on one port — `serve()` from `@graflow/graflow/server` behind flags.
 * Logs are JSON lines on stdout (requests without query strings, deliveries, errors; never a
 * token); SIGTERM or SIGINT closes it gracefully.
 *
 * @module
 */
import { serve, type ServerEvent } from "../src/server/mod.ts";
import { parseTokens, TokenSet, type TokenSpec } from "../src/server/tokens.ts";
import type { NotifyTarget } from "../src/server/notifier.ts";
import { moduleUrl } from "../src/worker/worker_options.ts";
import {
  type CliIo,
  type Command,
  EXIT,
  type Flag,
  flagHelp,
  parseFlags,
  setter,
  UsageError,
} from "./cli_command.ts";
import { openStore, storeFlags } from "./store_option.ts";

interface Options {
  store?: string;
  storePrefix?: string;
  port?: number;
  hostname?: string;
  tokens?: string;
  tokensFile?: string;
  modules?: string[];
  orchestrate?: boolean;
  intervalMs?: number;
  leaseMs?: number;
  webhooks?: string[];
  webhookSecret?: string;
  slack?: string[];
  publicUrl?: string;
  maxBodyBytes?: number;
  sessionKey?: string;
  quiet?: boolean;
}

const to = setter<Options>();

/** The flags of `graflow serve`, one row each. */
// deno-fmt-ignore
export const SERVE_FLAGS: readonly Flag<Options>[] = [
  ...storeFlags<Options>(),
  { name: "port", env: "GRAFLOW_PORT", kind: "number", arg: "N", apply: to("port"), help: "TCP port (default 8080; 0 picks a free one)" },
  { name: "hostname", env: "GRAFLOW_HOSTNAME", kind: "string", arg: "H", apply: to("hostname"), help: "interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface)" },
  { name: "tokens", env: "GRAFLOW_TOKENS", kind: "string", arg: "T", apply: to("tokens"), help: "tokens as name:role:token,... (role viewer or operator); prefer the environment variable or --tokens-file, command lines are visible to other users" },
  { name: "tokens-file", env: "GRAFLOW_TOKENS_FILE", kind: "string", arg: "F", apply: to("tokensFile"), help: "file with one name:role:token per line (# comments)" },
  { name: "module", env: "GRAFLOW_MODULES", kind: "list", arg: "M", apply: to("modules"), help: "module to import at start: the ones that register your flows (to start them and draw their graphs); repeatable" },
  { name: "orchestrate", env: "GRAFLOW_ORCHESTRATE", kind: "boolean", apply: to("orchestrate"), help: "also run an orchestrator in this process (runs queued and answered runs)" },
  { name: "interval-ms", env: "GRAFLOW_INTERVAL_MS", kind: "number", arg: "MS", apply: to("intervalMs"), help: "with --orchestrate: how often to look for runs to continue (default 1000)" },
  { name: "lease-ms", env: "GRAFLOW_RUN_LEASE_MS", kind: "number", arg: "MS", apply: to("leaseMs"), help: "with --orchestrate: lease of the runs it drives (default 10000)" },
  { name: "webhook", env: "GRAFLOW_WEBHOOKS", kind: "list", arg: "URL", apply: to("webhooks"), help: "POST a signed JSON notification of each new feedback request here; repeatable" },
  { name: "webhook-secret", env: "GRAFLOW_WEBHOOK_SECRET", kind: "string", arg: "S", apply: to("webhookSecret"), help: "HMAC secret of X-Graflow-Signature (16+ characters; required with --webhook)" },
  { name: "slack", env: "GRAFLOW_SLACK_WEBHOOKS", kind: "list", arg: "URL", apply: to("slack"), help: "Slack incoming-webhook URL for new feedback requests; repeatable" },
  { name: "public-url", env: "GRAFLOW_PUBLIC_URL", kind: "string", arg: "URL", apply: to("publicUrl"), help: "the URL people reach the dashboard at (links in notifications; https makes cookies Secure)" },
  { name: "max-body-bytes", env: "GRAFLOW_MAX_BODY_BYTES", kind: "number", arg: "N", apply: to("maxBodyBytes"), help: "largest request body (default 65536)" },
  { name: "session-key", env: "GRAFLOW_SESSION_KEY", kind: "string", arg: "K", apply: to("sessionKey"), help: "key signing dashboard sessions (32+ characters; default random, so a restart logs everyone out)" },
  { name: "quiet", env: "GRAFLOW_QUIET", kind: "boolean", apply: to("quiet"), help: "do not log each request" },
];

function help(): string {
  return `graflow serve: the HTTP API, live web dashboard of runs and human-in-the-loop inbox

Usage: graflow serve --store S --tokens-file F [--module M] [--orchestrate] [flags]

Serves, on one port: the JSON API (/runs, /feedback, /flows; described by /openapi.json),
live events (Server-Sent Events at /runs/events and /runs/{id}/events), the dashboard (/ui/)
and /health. Bearer tokens: viewer (read) or operator (also start, cancel, retry, answer); at
least one token is required. With --orchestrate it also runs queued and answered runs; without
it, run "graflow orchestrate" beside it. Logs are JSON lines on stdout; tokens are never
logged. SIGTERM or SIGINT: close gracefully, exit 0.

Flags (environment variable in brackets; the flag wins):
${flagHelp(SERVE_FLAGS)}
Exit codes: 0 stopped by SIGTERM/SIGINT; 1 failed (the port is taken, a module that does not
import, the store cannot be opened); 2 usage error (no tokens, a malformed token or flag).
`;
}

/**
 * Makes the `graflow serve` command.
 *
 * @returns The command.
 */
export function serveCommand(): Command {
  return {
    summary: "serve the HTTP API and the web dashboard of runs",
    help: help(),
    run: runServe,
  };
}

async function tokensOf(o: Options): Promise<TokenSpec[]> {
  const out: TokenSpec[] = [];
  try {
    if (o.tokens) out.push(...parseTokens(o.tokens, "--tokens"));
    if (o.tokensFile) {
      let text: string;
      try {
        text = await Deno.readTextFile(o.tokensFile);
      } catch (error) {
        throw new UsageError(
          `graflow serve: cannot read --tokens-file ${JSON.stringify(o.tokensFile)}: ${
            (error as Error).message
          }`,
        );
      }
      out.push(...parseTokens(text, `--tokens-file ${o.tokensFile}`));
    }
    if (out.length) new TokenSet(out); // checks names, roles, lengths, duplicates
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`graflow serve: ${error.message}`);
    throw error;
  }
  if (!out.length) {
    throw new UsageError(
      "graflow serve: no tokens; give --tokens-file F or GRAFLOW_TOKENS=name:role:token,...",
    );
  }
  return out;
}

async function runServe(args: string[], io: CliIo): Promise<number> {
  let o: Options | "help";
  let tokens: TokenSpec[] = [];
  try {
    o = parseFlags("graflow serve", SERVE_FLAGS, args, io.env);
    if (o !== "help") {
      if (!o.store) throw new UsageError("graflow serve: --store is required");
      tokens = await tokensOf(o);
      if (o.webhooks?.length && !o.webhookSecret) {
        throw new UsageError("graflow serve: --webhook needs --webhook-secret");
      }
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\nRun "graflow serve --help" for the flags.`);
    return EXIT.USAGE;
  }
  if (o === "help") {
    io.out(help());
    return EXIT.OK;
  }
  const log = (e: Record<string, unknown>) =>
    io.out(JSON.stringify({ time: new Date().toISOString(), ...e }));
  const quiet = o.quiet;
  const onServerEvent = (e: ServerEvent) => {
    if (e.type === "request" && quiet) return;
    log(e as unknown as Record<string, unknown>);
  };
  const stop = new AbortController();
  let store;
  try {
    store = await openStore(o.store, o.storePrefix);
    for (const m of o.modules ?? []) await import(moduleUrl(m));
    const targets: NotifyTarget[] = [
      ...(o.webhooks ?? []).map((url) => ({
        url,
        format: "json" as const,
        secret: o.webhookSecret,
      })),
      ...(o.slack ?? []).map((url) => ({ url, format: "slack" as const })),
    ];
    const server = await serve({
      store,
      tokens,
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.orchestrate
        ? {
          orchestrate: {
            ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
            ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}),
          },
        }
        : {}),
      ...(targets.length
        ? { notify: { targets, ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) } }
        : {}),
      ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
      ...(o.sessionKey ? { sessionKey: o.sessionKey } : {}),
      signal: stop.signal,
      onServerEvent,
    });
    const onSignal = () => stop.abort();
    Deno.addSignalListener("SIGTERM", onSignal);
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      await server.finished;
      await server.close();
    } finally {
      Deno.removeSignalListener("SIGTERM", onSignal);
      Deno.removeSignalListener("SIGINT", onSignal);
    }
    return EXIT.OK;
  } catch (error) {
    io.err(JSON.stringify({ type: "fatal", error: (error as Error)?.message ?? String(error) }));
    return error instanceof TypeError || error instanceof RangeError ? EXIT.USAGE : EXIT.FAILED;
  } finally {
    await store?.close().catch(() => {});
  }
}
