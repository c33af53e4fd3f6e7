/**
 * `graflow worker`: runs the tasks of distributed runs from a Redis queue (`runWorker()` from
 * `@graflow/graflow/worker` behind flags).
 *
 * Every flag can also come from an environment variable (the flag wins); the table
 * {@linkcode WORKER_FLAGS} is the one place flags are declared, one row each, and the help is
 * made from it. Logs are JSON lines on stdout. SIGTERM or SIGINT: stop reserving, let tasks in
 * flight finish within `--grace-ms`, hand the rest back at once, exit 0.
 *
 * @module
 */
import { runOrchestrator, runWorker } from "../src/worker/mod.ts";
import { redisBackend } from "../src/redis/mod.ts";
import { openStore } from "./store_option.ts";
import type { RunWorkerOptions } from "../src/worker/mod.ts";
import {
  type CliIo,
  type Command,
  EXIT,
  type Flag,
  flagHelp,
  type FlagValue,
  parseFlags,
  setter,
  UsageError,
} from "./cli_command.ts";

type Options = RunWorkerOptions & { orchestrate?: boolean; store?: string };

/** Sets option `key` to the flag's value. */
const to = setter<Options>();

function readCa(o: Options, v: FlagValue): void {
  try {
    o.tls = { ...o.tls, ca: Deno.readTextFileSync(String(v)) };
  } catch (error) {
    throw new UsageError(
      `graflow worker: cannot read the CA certificate ${JSON.stringify(v)}: ${
        (error as Error).message
      }`,
    );
  }
}

/**
 * The flags of `graflow worker`, one row each: name, environment variable, kind, help, and the
 * `runWorker()` option it sets.
 *
 * @example Every flag has an environment variable
 * ```ts
 * import { WORKER_FLAGS } from "./worker_command.ts";
 * console.log(WORKER_FLAGS.every((f) => f.env?.startsWith("GRAFLOW_"))); // true
 * ```
 */
// One row per flag (kept on one line each on purpose).
// deno-fmt-ignore
export const WORKER_FLAGS: readonly Flag<Options>[] = [
  { name: "redis", env: "GRAFLOW_REDIS_URL", kind: "string", arg: "URL", apply: to("url"), help: "Redis URL: redis://[user:password@]host:port[/db], rediss:// for TLS (default redis://127.0.0.1:6379)" },
  { name: "prefix", env: "GRAFLOW_PREFIX", kind: "string", arg: "P", apply: to("prefix"), help: "key prefix shared with the producers (default graflow)" },
  { name: "module", env: "GRAFLOW_MODULES", kind: "list", arg: "M", apply: to("modules"), help: "module to import at start (path or URL), e.g. the module defining your tasks; repeatable" },
  { name: "concurrency", env: "GRAFLOW_CONCURRENCY", kind: "number", arg: "N", apply: to("concurrency"), help: "tasks run at once (default 10)" },
  { name: "prefetch", env: "GRAFLOW_PREFETCH", kind: "number", arg: "N", apply: to("prefetch"), help: "tasks reserved ahead of free slots; 0 for long tasks (default: the concurrency)" },
  { name: "worker-id", env: "GRAFLOW_WORKER_ID", kind: "string", arg: "ID", apply: to("workerId"), help: "consumer name, unique among live workers (default <host>-<pid>-<random>)" },
  { name: "lease-ms", env: "GRAFLOW_LEASE_MS", kind: "number", arg: "MS", apply: to("leaseMs"), help: "lease of a reserved task; a dead worker's tasks run elsewhere after it (default: set by the producer's leaseMs, else 15000)" },
  { name: "grace-ms", env: "GRAFLOW_GRACE_MS", kind: "number", arg: "MS", apply: to("graceMs"), help: "on SIGTERM/SIGINT, time for tasks in flight to finish (default 10000)" },
  { name: "metrics-port", env: "GRAFLOW_METRICS_PORT", kind: "number", arg: "PORT", apply: to("metricsPort"), help: "serve /metrics and /health on PORT (0: any free port)" },
  { name: "metrics-host", env: "GRAFLOW_METRICS_HOST", kind: "string", arg: "H", apply: to("metricsHostname"), help: "address of the metrics server; 0.0.0.0 to serve other machines (default 127.0.0.1)" },
  { name: "secret", env: "GRAFLOW_SECRET", kind: "string", arg: "S", apply: to("secret"), help: "HMAC secret shared with the producers; unsigned, tampered, copied and replayed messages are refused" },
  { name: "insecure", env: "GRAFLOW_INSECURE", kind: "boolean", apply: to("insecure"), help: "without a secret, accept a Redis that is not on this machine (messages are then not authenticated)" },
  { name: "tls-ca", env: "GRAFLOW_TLS_CA", kind: "string", arg: "FILE", apply: readCa, help: "CA certificate (PEM) for rediss://" },
  { name: "allow-import", env: "GRAFLOW_ALLOW_IMPORT", kind: "list", arg: "P", apply: to("allowImport"), help: "directory or file (path or file: URL) whose modules may be imported when a queue entry names a task this worker lacks, checked after percent-decoding, .. and symlinks; repeatable (default: none, only --module)" },
  { name: "orchestrate", env: "GRAFLOW_ORCHESTRATE", kind: "boolean", apply: to("orchestrate"), help: "also continue the recorded runs nobody drives (as graflow orchestrate), their tasks queued on this Redis; needs --store" },
  { name: "store", env: "GRAFLOW_STORE", kind: "string", arg: "S", apply: to("store"), help: "with --orchestrate: the run store, a folder or a redis:// URL" },
  { name: "max-deliveries", env: "GRAFLOW_MAX_DELIVERIES", kind: "number", arg: "N", apply: to("maxDeliveries"), help: "deliveries without an outcome before a task is dead-lettered (default 10)" },
  { name: "dead-letter-max", env: "GRAFLOW_DEAD_LETTER_MAX", kind: "number", arg: "N", apply: to("deadLetterMax"), help: "most entries kept in the dead-letter stream (default 10000)" },
];

/**
 * The help of `graflow worker`.
 *
 * @param usage The usage line (the alias `workers/main.ts` shows its own).
 * @returns The text.
 */
function help(usage: string): string {
  return `graflow worker: run Graflow tasks from a Redis queue

Usage: ${usage}

Imports the --module files (which define tasks with task()), then runs the tasks that producers
(runs with redisBackend() from @graflow/graflow/redis) queue under the same --prefix. Logs are
JSON lines on stdout. SIGTERM or SIGINT: stop reserving, let tasks in flight finish within
--grace-ms, hand the rest back to the queue, exit 0.

Flags (environment variable in brackets; the flag wins):
${flagHelp(WORKER_FLAGS)}
Exit codes: 0 stopped by SIGTERM/SIGINT; 1 failed (Redis unreachable, a module that does not
import, ...); 2 usage error (unknown flag, bad flag or environment value).
`;
}

/**
 * Makes the `graflow worker` command.
 *
 * @param usage The usage line of its help.
 * @returns The command.
 *
 * @example The worker command
 * ```ts
 * import { workerCommand } from "./worker_command.ts";
 * console.log(workerCommand().summary); // run tasks of distributed runs from a Redis queue
 * ```
 */
export function workerCommand(usage = "graflow worker [flags]"): Command {
  return {
    summary: "run tasks of distributed runs from a Redis queue",
    help: help(usage),
    run: (args, io) => runWorkerCommand(args, io, help(usage)),
  };
}

async function runWorkerCommand(args: string[], io: CliIo, helpText: string): Promise<number> {
  let options: Options | "help";
  try {
    options = parseFlags("graflow worker", WORKER_FLAGS, args, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\nRun "graflow worker --help" for the flags.`);
    return EXIT.USAGE;
  }
  if (options === "help") {
    io.out(helpText);
    return EXIT.OK;
  }
  const { orchestrate, store: storeSpec, ...workerOptions } = options;
  if (orchestrate && !storeSpec) {
    io.err(
      'graflow worker: --orchestrate needs --store\nRun "graflow worker --help" for the flags.',
    );
    return EXIT.USAGE;
  }
  const stop = new AbortController();
  const log = (e: object) => io.out(JSON.stringify({ time: new Date().toISOString(), ...e }));
  let worker;
  let extra: (() => Promise<void>) | undefined;
  try {
    worker = await runWorker({ ...workerOptions, signal: stop.signal, onEvent: log });
    if (orchestrate) extra = await startOrchestrator(workerOptions, storeSpec!, stop.signal, log);
  } catch (error) {
    await worker?.stop().catch(() => {});
    io.err(JSON.stringify({ type: "fatal", error: (error as Error)?.message ?? String(error) }));
    return error instanceof TypeError || error instanceof RangeError ? EXIT.USAGE : EXIT.FAILED;
  }
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    await worker.finished;
    await extra?.();
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return EXIT.OK;
}

/** `--orchestrate`: an orchestrator in this process whose runs queue their tasks on this Redis. */
async function startOrchestrator(
  o: RunWorkerOptions,
  storeSpec: string,
  signal: AbortSignal,
  log: (e: object) => void,
): Promise<() => Promise<void>> {
  const store = await openStore(storeSpec);
  const backend = redisBackend({ url: o.url, prefix: o.prefix, secret: o.secret, tls: o.tls });
  const orchestrator = await runOrchestrator({
    store,
    backend,
    signal,
    onOrchestratorEvent: log,
  });
  return async () => {
    await orchestrator.finished;
    await backend.close().catch(() => {});
    await store.close().catch(() => {});
  };
}
