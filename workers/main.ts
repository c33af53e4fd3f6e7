// deno-lint-ignore-file no-console
/**
 * The Graflow worker CLI: runs tasks of distributed runs from a Redis queue.
 *
 *   deno run -A workers/main.ts --redis redis://127.0.0.1:6379 --module ./tasks.ts
 *
 * Every flag can also come from an environment variable (the flag wins). Logs are JSON lines on
 * stdout. SIGTERM/SIGINT: stop reserving, let in-flight tasks finish within --grace-ms, hand the
 * rest back at once, exit 0.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runWorker } from "../src/worker/mod.ts";

const HELP = `graflow-worker: run Graflow tasks from a Redis queue

Usage: deno run -A workers/main.ts [flags]      (or: graflow-worker [flags])

Flags (environment variable in brackets; the flag wins):
  --redis URL          Redis URL: redis://[user:password@]host:port[/db], rediss:// for TLS
                       [GRAFLOW_REDIS_URL] (default redis://127.0.0.1:6379)
  --prefix P           key prefix shared with the producers [GRAFLOW_PREFIX] (default graflow)
  --module M           module to import at start (path or URL), repeatable
                       [GRAFLOW_MODULES, comma-separated]
  --concurrency N      tasks run at once [GRAFLOW_CONCURRENCY] (default 10)
  --prefetch N         tasks reserved ahead of free slots; 0 for long tasks [GRAFLOW_PREFETCH]
                       (default: the concurrency)
  --worker-id ID       consumer name, unique among live workers [GRAFLOW_WORKER_ID]
                       (default <host>-<pid>-<random>)
  --lease-ms MS        lease of a reserved task; a dead worker's tasks run elsewhere after it
                       [GRAFLOW_LEASE_MS] (default: set by the producer's leaseMs, else 15000)
  --grace-ms MS        on SIGTERM/SIGINT, time for in-flight tasks to finish [GRAFLOW_GRACE_MS]
                       (default 10000)
  --metrics-port PORT  serve /metrics and /health on PORT (0: any) [GRAFLOW_METRICS_PORT]
  --metrics-host H     address of the metrics server; 0.0.0.0 to serve other machines
                       [GRAFLOW_METRICS_HOST] (default 127.0.0.1)
  --secret S           HMAC secret shared with the producers; unsigned, tampered, copied and
                       replayed messages are refused [GRAFLOW_SECRET]
  --insecure           without a secret, accept a Redis that is not on this machine (messages
                       are then not authenticated) [GRAFLOW_INSECURE=1]
  --tls-ca FILE        CA certificate (PEM) for rediss:// [GRAFLOW_TLS_CA]
  --allow-import P     directory or file (path or file: URL) whose modules may be imported when
                       a queue entry names a task this worker lacks, repeatable
                       [GRAFLOW_ALLOW_IMPORT, comma-separated] (default: none; only --module)
  --max-deliveries N   deliveries without an outcome before a task is dead-lettered
                       [GRAFLOW_MAX_DELIVERIES] (default 10)
  --dead-letter-max N  most entries kept in the dead-letter stream [GRAFLOW_DEAD_LETTER_MAX]
                       (default 10000)
  --help               show this help
`;

function env(name: string): string | undefined {
  return Deno.env.get(name) || undefined;
}

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new TypeError(
      `Cannot start worker: --${flag} must be a number, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function list(values: string[] | undefined, envName: string): string[] | undefined {
  if (values?.length) return values;
  const e = env(envName);
  return e ? e.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        redis: { type: "string" },
        prefix: { type: "string" },
        module: { type: "string", multiple: true },
        concurrency: { type: "string" },
        prefetch: { type: "string" },
        "worker-id": { type: "string" },
        "lease-ms": { type: "string" },
        "grace-ms": { type: "string" },
        "metrics-port": { type: "string" },
        "metrics-host": { type: "string" },
        secret: { type: "string" },
        "tls-ca": { type: "string" },
        "allow-import": { type: "string", multiple: true },
        "max-deliveries": { type: "string" },
        "dead-letter-max": { type: "string" },
        insecure: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  let options;
  try {
    const caFile = v["tls-ca"] ?? env("GRAFLOW_TLS_CA");
    options = {
      url: v.redis ?? env("GRAFLOW_REDIS_URL"),
      prefix: v.prefix ?? env("GRAFLOW_PREFIX"),
      modules: list(v.module, "GRAFLOW_MODULES"),
      concurrency: num("concurrency", v.concurrency ?? env("GRAFLOW_CONCURRENCY")),
      prefetch: num("prefetch", v.prefetch ?? env("GRAFLOW_PREFETCH")),
      workerId: v["worker-id"] ?? env("GRAFLOW_WORKER_ID"),
      leaseMs: num("lease-ms", v["lease-ms"] ?? env("GRAFLOW_LEASE_MS")),
      graceMs: num("grace-ms", v["grace-ms"] ?? env("GRAFLOW_GRACE_MS")),
      metricsPort: num("metrics-port", v["metrics-port"] ?? env("GRAFLOW_METRICS_PORT")),
      metricsHostname: v["metrics-host"] ?? env("GRAFLOW_METRICS_HOST"),
      secret: v.secret ?? env("GRAFLOW_SECRET"),
      tls: caFile ? { ca: Deno.readTextFileSync(caFile) } : undefined,
      allowImport: list(v["allow-import"], "GRAFLOW_ALLOW_IMPORT"),
      maxDeliveries: num("max-deliveries", v["max-deliveries"] ?? env("GRAFLOW_MAX_DELIVERIES")),
      deadLetterMax: num(
        "dead-letter-max",
        v["dead-letter-max"] ?? env("GRAFLOW_DEAD_LETTER_MAX"),
      ),
      insecure: v.insecure ?? env("GRAFLOW_INSECURE") === "1",
      onEvent: (e: object) => console.log(JSON.stringify({ time: new Date().toISOString(), ...e })),
    };
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  let worker;
  try {
    worker = await runWorker(options);
  } catch (error) {
    console.error(JSON.stringify({ type: "fatal", error: (error as Error).message }));
    return error instanceof TypeError || error instanceof RangeError ? 2 : 1;
  }
  const stop = () => worker.stop();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await worker.finished;
  return 0;
}

if (import.meta.main) Deno.exit(await main());
