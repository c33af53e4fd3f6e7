/**
 * `graflow runs list|show|cancel|retry`: find and steer the runs of a store from a terminal.
 * `list` prints a table (newest first; filters; a cursor for the next page), `show` a run's
 * record, its task attempts with timings and (with `--module` registering its flow) the
 * executed graph; `cancel` and `retry` ask the store. `--json` prints JSON instead.
 *
 * @module
 */
import { fromJsonTree } from "../src/channels/codec.ts";
import { getFlow } from "../src/dsl/flow_registry.ts";
import { ExecutedGraph } from "../src/graph/executed_graph.ts";
import { rebuildState } from "../src/run/recorded_run.ts";
import { taskAttempts } from "../src/store/run_history.ts";
import type { RunRecord, RunRecordStatus, RunStore } from "../src/store/run_store.ts";
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
  status?: string[];
  flow?: string;
  since?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
  modules?: string[];
}

const to = setter<Options>();

/** The flags of `graflow runs`, one row each. */
// deno-fmt-ignore
export const RUNS_FLAGS: readonly Flag<Options>[] = [
  ...storeFlags<Options>(),
  { name: "status", kind: "list", arg: "S", apply: to("status"), help: "list: only runs in this status (queued, running, waiting, completed, failed, cancelled, terminated); repeatable" },
  { name: "flow", kind: "string", arg: "F", apply: to("flow"), help: "list: only runs of this flow" },
  { name: "since", kind: "string", arg: "T", apply: to("since"), help: "list: only runs created at or after this ISO time" },
  { name: "limit", kind: "number", arg: "N", apply: to("limit"), help: "list: runs per page (default 20)" },
  { name: "cursor", kind: "string", arg: "C", apply: to("cursor"), help: "list: the next page, as printed under the previous one" },
  { name: "module", env: "GRAFLOW_MODULES", kind: "list", arg: "M", apply: to("modules"), help: "show: import the module registering the run's flow, to draw its executed graph; repeatable" },
  { name: "json", kind: "boolean", apply: to("json"), help: "print JSON" },
];

const STATUSES = ["queued", "running", "waiting", "completed", "failed", "cancelled", "terminated"];

function help(): string {
  return `graflow runs: list, show, cancel and retry recorded runs

Usage: graflow runs list [--status S] [--flow F] [--since T] [--limit N] [--cursor C] --store S
       graflow runs show RUN_ID [--module M] --store S
       graflow runs cancel RUN_ID --store S
       graflow runs retry RUN_ID --store S

Flags (environment variable in brackets; the flag wins):
${flagHelp(RUNS_FLAGS)}
Exit codes: 0 done; 1 failed (no such run, a run that cannot be cancelled or retried, the
store cannot be opened); 2 usage error.
`;
}

/**
 * Makes the `graflow runs` command.
 *
 * @returns The command.
 */
export function runsCommand(): Command {
  return { summary: "list, show, cancel and retry recorded runs", help: help(), run: runRuns };
}

async function runRuns(args: string[], io: CliIo): Promise<number> {
  const positionals: string[] = [];
  while (args.length && !args[0].startsWith("-")) positionals.push(args.shift()!);
  let o: Options | "help";
  const [sub, runId, ...extra] = positionals;
  try {
    o = parseFlags("graflow runs", RUNS_FLAGS, args, io.env);
    if (o !== "help") {
      if (!["list", "show", "cancel", "retry"].includes(sub ?? "")) {
        throw new UsageError(
          `graflow runs: expected list, show, cancel or retry, got ${JSON.stringify(sub ?? "")}`,
        );
      }
      if (sub !== "list" && !runId) {
        throw new UsageError(`graflow runs ${sub}: a run id is required`);
      }
      if (extra.length || (sub === "list" && runId)) {
        throw new UsageError(
          `graflow runs ${sub}: unexpected argument ${JSON.stringify(extra[0] ?? runId)}`,
        );
      }
      for (const s of o.status ?? []) {
        if (!STATUSES.includes(s)) {
          throw new UsageError(
            `graflow runs: --status must be one of ${STATUSES.join(", ")}, got ${
              JSON.stringify(s)
            }`,
          );
        }
      }
      if (!o.store) throw new UsageError("graflow runs: --store is required");
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\nRun "graflow runs --help" for the flags.`);
    return EXIT.USAGE;
  }
  if (o === "help") {
    io.out(help());
    return EXIT.OK;
  }
  let store: RunStore | undefined;
  try {
    store = await openStore(o.store, o.storePrefix);
    switch (sub) {
      case "list":
        await list(store, o, io);
        break;
      case "show":
        await show(store, runId, o, io);
        break;
      case "cancel":
      case "retry": {
        const r = sub === "cancel" ? await store.cancel(runId) : await store.retry(runId);
        io.out(o.json ? JSON.stringify(r) : `${r.runId}: ${describe(r)}`);
        break;
      }
    }
    return EXIT.OK;
  } catch (error) {
    const e = error as Error & { code?: string };
    io.err(`graflow runs ${sub}: ${e.message}${e.code ? ` (${e.code})` : ""}`);
    return error instanceof TypeError || error instanceof RangeError ? EXIT.USAGE : EXIT.FAILED;
  } finally {
    await store?.close().catch(() => {});
  }
}

function describe(r: RunRecord): string {
  if (r.cancelRequested) return `${r.status}, cancel requested (its owner stops it)`;
  if (r.retryRequested) return `${r.status}, retry requested (an orchestrator continues it)`;
  return r.status;
}

function duration(r: RunRecord): string {
  if (!r.startedAt) return "-";
  const end = r.finishedAt ? Date.parse(r.finishedAt) : Date.now();
  const ms = end - Date.parse(r.startedAt);
  return ms < 1000
    ? `${ms} ms`
    : ms < 120_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.round(ms / 60_000)} min`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

async function list(store: RunStore, o: Options, io: CliIo): Promise<void> {
  const page = await store.list({
    ...(o.status?.length ? { status: o.status as RunRecordStatus[] } : {}),
    ...(o.flow ? { flow: o.flow } : {}),
    ...(o.since ? { since: o.since } : {}),
    limit: o.limit ?? 20,
    ...(o.cursor ? { cursor: o.cursor } : {}),
  });
  if (o.json) {
    io.out(JSON.stringify(page));
    return;
  }
  if (!page.runs.length) {
    io.out("no runs");
    return;
  }
  io.out(table([
    ["RUN", "FLOW", "STATUS", "STARTED", "DURATION", "STEPS", "OWNER"],
    ...page.runs.map((r) => [
      r.runId,
      r.flow || "-",
      r.status + (r.cancelRequested ? " (cancelling)" : r.retryRequested ? " (retry)" : ""),
      (r.startedAt ?? r.createdAt).replace("T", " ").slice(0, 19),
      duration(r),
      String(r.steps),
      r.owner ?? "-",
    ]),
  ]));
  if (page.cursor) io.out(`\nnext page: --cursor ${page.cursor}`);
}

async function show(store: RunStore, runId: string, o: Options, io: CliIo): Promise<void> {
  const record = await store.get(runId);
  if (!record) {
    throw Object.assign(new Error(`no run "${runId}" in the store`), { code: "RUN_NOT_FOUND" });
  }
  const attempts = taskAttempts(await store.entries(runId));
  for (const m of o.modules ?? []) await import(moduleUrl(m));
  const flow = getFlow(record.flow);
  let graph: string | undefined;
  if (flow && flow.version === record.version) {
    const state = await rebuildState(store, runId, flow.graph, flow.plan());
    graph = new ExecutedGraph(flow.graph, state.traceEdges()).toAscii();
  }
  if (o.json) {
    io.out(JSON.stringify({ record, attempts, ...(graph ? { graph } : {}) }));
    return;
  }
  const lines = [
    `run       ${record.runId}`,
    `flow      ${record.flow || "-"} (version ${record.version || "-"})`,
    `status    ${describe(record)}`,
    `created   ${record.createdAt}`,
    ...(record.startedAt ? [`started   ${record.startedAt}`] : []),
    ...(record.finishedAt ? [`finished  ${record.finishedAt} (${duration(record)})`] : []),
    `steps     ${record.steps}`,
    ...(record.owner
      ? [
        `owner     ${record.owner} (lease until ${new Date(record.leaseUntil ?? 0).toISOString()})`,
      ]
      : []),
    ...(record.idempotencyKey ? [`key       ${record.idempotencyKey}`] : []),
    ...(record.feedback ? [`waiting   for feedback ${record.feedback.id}`] : []),
    ...(record.output !== undefined
      ? [`output    ${JSON.stringify(fromJsonTree(record.output))?.slice(0, 400)}`]
      : []),
    ...(record.error
      ? [
        `error     ${record.error.name}: ${record.error.message}${
          record.error.code ? ` (${record.error.code})` : ""
        }`,
      ]
      : []),
    ...(record.checkpoints.length ? [`checkpoints ${record.checkpoints.join(", ")}`] : []),
  ];
  io.out(lines.join("\n"));
  if (attempts.length) {
    const t0 = attempts[0].startedAt;
    io.out(
      "\n" + table([
        ["STEP", "TASK", "ATTEMPT", "START", "DURATION", "OUTCOME"],
        ...attempts.map((a) => [
          String(a.step),
          a.taskId,
          String(a.attempt),
          `+${a.startedAt - t0} ms`,
          a.endedAt === undefined ? "-" : `${a.endedAt - a.startedAt} ms`,
          a.status + (a.error ? `: ${a.error.message.slice(0, 80)}` : ""),
        ]),
      ]),
    );
  }
  if (graph) io.out(`\nexecuted graph:\n${graph}`);
  else if (!flow) {
    io.out(
      `\n(pass --module with the module registering "${record.flow}" to draw its executed graph)`,
    );
  }
}
