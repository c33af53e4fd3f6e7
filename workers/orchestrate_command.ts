/**
 * `graflow orchestrate`: continues the recorded runs nobody drives (queued runs, runs whose
 * owner died, failed runs to retry, runs whose feedback request was answered) —
 * `runOrchestrator()` from `@graflow/graflow/worker` behind flags. Logs are JSON lines on
 * stdout; SIGTERM or SIGINT stops it (the runs it drives continue elsewhere).
 *
 * @module
 */
import { runOrchestrator } from "../src/worker/mod.ts";
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
import { commandProgress } from "./run_progress.ts";
import { graflowMetrics, metricsResponse } from "../src/observability/run_metrics.ts";

interface Options {
  store?: string;
  storePrefix?: string;
  modules?: string[];
  intervalMs?: number;
  leaseMs?: number;
  concurrency?: number;
  redis?: string;
  prefix?: string;
  secret?: string;
  metricsPort?: number;
  metricsHost?: string;
  progressMs?: number;
}

const to = setter<Options>();

/** The flags of `graflow orchestrate`, one row each. */
// deno-fmt-ignore
export const ORCHESTRATE_FLAGS: readonly Flag<Options>[] = [
  ...storeFlags<Options>(),
  { name: "module", env: "GRAFLOW_MODULES", kind: "list", arg: "M", apply: to("modules"), help: "module to import at start: the ones that register your flows and define their tasks; repeatable" },
  { name: "interval-ms", env: "GRAFLOW_INTERVAL_MS", kind: "number", arg: "MS", apply: to("intervalMs"), help: "how often to look for runs to continue (default 1000)" },
  { name: "lease-ms", env: "GRAFLOW_RUN_LEASE_MS", kind: "number", arg: "MS", apply: to("leaseMs"), help: "lease of the runs it drives (default 10000)" },
  { name: "concurrency", env: "GRAFLOW_RUN_CONCURRENCY", kind: "number", arg: "N", apply: to("concurrency"), help: "runs driven at once (default 100)" },
  { name: "redis", env: "GRAFLOW_REDIS_URL", kind: "string", arg: "URL", apply: to("redis"), help: "run tasks on Redis workers of this server (redisBackend); default: in this process" },
  { name: "prefix", env: "GRAFLOW_PREFIX", kind: "string", arg: "P", apply: to("prefix"), help: "key prefix shared with the workers (default graflow)" },
  { name: "secret", env: "GRAFLOW_SECRET", kind: "string", arg: "S", apply: to("secret"), help: "HMAC secret shared with the workers" },
  { name: "metrics-port", env: "GRAFLOW_METRICS_PORT", kind: "number", arg: "PORT", apply: to("metricsPort"), help: "serve /metrics (Prometheus; OpenMetrics with exemplars on request) on PORT (0: any free port)" },
  { name: "metrics-host", env: "GRAFLOW_METRICS_HOST", kind: "string", arg: "H", apply: to("metricsHost"), help: "address of the metrics server; 0.0.0.0 to serve other machines (default 127.0.0.1)" },
  { name: "progress-ms", env: "GRAFLOW_PROGRESS_MS", kind: "number", arg: "MS", apply: to("progressMs"), help: "off a terminal, log a progress line this often while runs go on (default 10000; 0: never); on a terminal a live line shows on stderr" },
];

function help(): string {
  return `graflow orchestrate: continue the recorded runs nobody drives

Usage: graflow orchestrate --store S --module M [flags]

Imports the --module files (which register flows with registerFlow and define their tasks),
then continues every run of the store that is queued, whose owner's lease expired, that is
marked for retry, or whose feedback request was answered, from its journal. With one
orchestrator running, no run stays "running" without a live owner for longer than its lease
plus --interval-ms. Logs are JSON lines on stdout. SIGTERM or SIGINT: stop (the runs it drives
continue elsewhere once their lease expires), exit 0. On a terminal, a live line on stderr sums
the progress of the runs it drives; elsewhere a "progress" log line comes every --progress-ms.

Flags (environment variable in brackets; the flag wins):
${flagHelp(ORCHESTRATE_FLAGS)}
Exit codes: 0 stopped by SIGTERM/SIGINT; 1 failed (a module that does not import, the store
cannot be opened); 2 usage error.
`;
}

/**
 * Makes the `graflow orchestrate` command.
 *
 * @returns The command.
 */
export function orchestrateCommand(): Command {
  return {
    summary: "continue the runs of processes that died (and queued, retried, answered runs)",
    help: help(),
    run: runOrchestrate,
  };
}

async function runOrchestrate(args: string[], io: CliIo): Promise<number> {
  let o: Options | "help";
  try {
    o = parseFlags("graflow orchestrate", ORCHESTRATE_FLAGS, args, io.env);
    if (o !== "help" && !o.store) throw new UsageError("graflow orchestrate: --store is required");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\nRun "graflow orchestrate --help" for the flags.`);
    return EXIT.USAGE;
  }
  if (o === "help") {
    io.out(help());
    return EXIT.OK;
  }
  const stop = new AbortController();
  const log = (e: Record<string, unknown>) =>
    io.out(JSON.stringify({ time: new Date().toISOString(), ...e }));
  let store;
  let backend: (AsyncDisposable & import("../mod.ts").Backend) | undefined;
  let server: Deno.HttpServer | undefined;
  const progressMs = o.progressMs ?? 10_000;
  if (!(Number.isInteger(progressMs) && progressMs >= 0)) {
    io.err(`graflow orchestrate: --progress-ms must be a whole number >= 0, got ${progressMs}`);
    return EXIT.USAGE;
  }
  const progress = commandProgress({ io, everyMs: progressMs });
  try {
    if (o.metricsPort !== undefined) {
      graflowMetrics.enable();
      server = Deno.serve(
        {
          port: o.metricsPort,
          hostname: o.metricsHost ?? "127.0.0.1",
          onListen: ({ port }) => log({ type: "metrics", port }),
        },
        (req) =>
          new URL(req.url).pathname === "/metrics"
            ? metricsResponse(req)
            : new Response("Not found: try /metrics\n", { status: 404 }),
      );
    }
    store = await openStore(o.store, o.storePrefix);
    if (o.redis) {
      const { redisBackend } = await import("../src/redis/mod.ts");
      backend = redisBackend({ url: o.redis, prefix: o.prefix, secret: o.secret });
    }
    const orchestrator = await runOrchestrator({
      store,
      modules: o.modules,
      intervalMs: o.intervalMs,
      leaseMs: o.leaseMs,
      concurrency: o.concurrency,
      signal: stop.signal,
      ...(backend ? { backend } : {}),
      onOrchestratorEvent: log,
      onProgress: progress.onProgress,
    });
    const onSignal = () => stop.abort();
    Deno.addSignalListener("SIGTERM", onSignal);
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      await orchestrator.finished;
    } finally {
      Deno.removeSignalListener("SIGTERM", onSignal);
      Deno.removeSignalListener("SIGINT", onSignal);
    }
    return EXIT.OK;
  } catch (error) {
    io.err(JSON.stringify({ type: "fatal", error: (error as Error)?.message ?? String(error) }));
    return error instanceof TypeError || error instanceof RangeError ? EXIT.USAGE : EXIT.FAILED;
  } finally {
    progress.close();
    await server?.shutdown().catch(() => {});
    await Promise.resolve(backend?.[Symbol.asyncDispose]()).catch(() => {});
    await store?.close().catch(() => {});
  }
}
