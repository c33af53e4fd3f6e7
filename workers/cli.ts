/**
 * The `graflow` command.
 *
 * ```sh
 * deno install -g -A -n graflow jsr:@graflow/graflow/cli    # then: graflow worker --help
 * deno run -A jsr:@graflow/graflow/cli worker --module ./tasks.ts
 * deno run -A workers/cli.ts worker --module ./tasks.ts    # from a checkout
 * ```
 *
 * Commands:
 *
 * - `graflow worker`: runs the tasks of distributed runs from a Redis queue (`runWorker()` behind
 *   flags; every flag can also come from a `GRAFLOW_*` environment variable, the flag wins).
 * - `graflow orchestrate`: continues the recorded runs nobody drives (`runOrchestrator()`).
 * - `graflow runs list|show|cancel|retry`: finds and steers the runs of a store.
 * - `graflow serve`: the HTTP API, live dashboard and human-in-the-loop inbox (`serve()`).
 *
 * `graflow --help`, `graflow <command> --help` (or `graflow help <command>`) and
 * `graflow --version` print to stdout and exit 0.
 *
 * Exit codes:
 *
 * | code | meaning |
 * | ---- | ------- |
 * | 0 | done (`worker`: stopped by SIGTERM or SIGINT after handing back its work) |
 * | 1 | failed at run time (Redis unreachable, a `--module` that does not import, ...) |
 * | 2 | usage error: unknown command or flag, a bad flag or environment value (the message names it) |
 * | 3 | the command is not available in this version |
 *
 * A new command is one module exporting a {@linkcode Command} (see `workers/cli_command.ts`) and
 * one line in {@linkcode COMMANDS}.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };
import { type CliIo, type Command, EXIT, processIo } from "./cli_command.ts";
import { workerCommand } from "./worker_command.ts";
import { orchestrateCommand } from "./orchestrate_command.ts";
import { runsCommand } from "./runs_command.ts";
import { serveCommand } from "./serve_command.ts";

export type { CliIo, Command } from "./cli_command.ts";
export { EXIT } from "./cli_command.ts";

/**
 * This version of Graflow (from its `deno.json`).
 *
 * @example The version
 * ```ts
 * import { VERSION } from "@graflow/graflow/cli";
 * console.log(/^\d+\.\d+\.\d+/.test(VERSION)); // true
 * ```
 */
export const VERSION: string = config.version;

/**
 * The commands of `graflow`, by name.
 *
 * @example The command names
 * ```ts
 * import { COMMANDS } from "@graflow/graflow/cli";
 * console.log(Object.keys(COMMANDS)); // [ "worker", "orchestrate", "serve", "runs" ]
 * ```
 */
export const COMMANDS: Readonly<Record<string, Command>> = {
  worker: workerCommand(),
  orchestrate: orchestrateCommand(),
  serve: serveCommand(),
  runs: runsCommand(),
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)} ${c.summary}`)
    .join("\n");
  return `graflow ${VERSION}: run Graflow workflows from the command line

Usage: graflow <command> [flags]
       graflow <command> --help      (or: graflow help <command>)
       graflow --version

Commands:
${list}

Exit codes:
  0  done (worker: stopped by SIGTERM or SIGINT after handing back its work)
  1  failed at run time (Redis unreachable, a --module that does not import, ...)
  2  usage error: unknown command or flag, a bad flag or environment value
  3  the command is not available in this version

Install: deno install -g -A -n graflow jsr:@graflow/graflow/cli
`;
}

function closest(name: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0];
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const next = d[j];
        d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = next;
      }
    }
    return d[b.length];
  };
  const best = Object.keys(COMMANDS)
    .map((c) => [c, distance(name, c)] as const)
    .sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(1, Math.floor(name.length / 3)) ? best[0] : undefined;
}

/**
 * Runs the `graflow` command.
 *
 * @param args The command line after `graflow`.
 * @param io Output and environment (default: the process's).
 * @returns The exit code (see {@linkcode EXIT}).
 *
 * @example Print the version
 * ```ts
 * import { main } from "@graflow/graflow/cli";
 * const lines: string[] = [];
 * const code = await main(["--version"], { out: (t) => lines.push(t), err: () => {}, env: () => undefined });
 * console.log(code, lines[0].startsWith("graflow ")); // 0 true
 * ```
 */
export async function main(args: string[], io: CliIo = processIo): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) {
    io.err(`${help()}\nMissing command: name one of ${Object.keys(COMMANDS).join(", ")}.`);
    return EXIT.USAGE;
  }
  if (first === "--help" || first === "-h") {
    io.out(help());
    return EXIT.OK;
  }
  if (first === "--version" || first === "-V") {
    io.out(`graflow ${VERSION} (deno ${Deno.version.deno})`);
    return EXIT.OK;
  }
  if (first === "help") {
    if (rest[0] === undefined) {
      io.out(help());
      return EXIT.OK;
    }
    return main([rest[0], "--help"], io);
  }
  if (first.startsWith("-")) {
    io.err(
      `graflow: unknown option ${JSON.stringify(first)} before the command\n` +
        `Run "graflow --help" for the commands.`,
    );
    return EXIT.USAGE;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) {
    const guess = closest(first);
    io.err(
      `graflow: unknown command ${JSON.stringify(first)}${
        guess ? ` (did you mean "${guess}"?)` : ""
      }; the commands are ${Object.keys(COMMANDS).join(", ")}\n` +
        `Run "graflow --help" for more.`,
    );
    return EXIT.USAGE;
  }
  return await command.run(rest, io);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
