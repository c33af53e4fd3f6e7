/**
 * What every subcommand of the `graflow` command shares: the {@linkcode Command} shape, the exit
 * codes, where output goes ({@linkcode CliIo}), and flags that can also come from environment
 * variables ({@linkcode parseFlags}, {@linkcode flagHelp}).
 *
 * A subcommand is one module exporting a {@linkcode Command} and one line in the table of
 * `workers/cli.ts`; its flags are a table of {@linkcode Flag} rows, one row per flag.
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * Exit codes of the `graflow` command.
 *
 * @example Exit codes
 * ```ts
 * import { EXIT } from "./cli_command.ts";
 * console.log(EXIT.USAGE); // 2
 * ```
 */
export const EXIT: {
  /** Done (for `worker`: stopped by SIGTERM or SIGINT after handing back its work). */
  readonly OK: 0;
  /** Failed at run time (Redis unreachable, a module that does not import, ...). */
  readonly FAILED: 1;
  /** Usage error: unknown command or flag, a bad flag or environment value. */
  readonly USAGE: 2;
  /** The command exists but is not available in this version. */
  readonly UNAVAILABLE: 3;
} = { OK: 0, FAILED: 1, USAGE: 2, UNAVAILABLE: 3 };

/** Where a command writes and what environment it reads (the real process, or a test's). */
export interface CliIo {
  /** Writes a line (or lines) to standard output. */
  out(text: string): void;
  /** Writes a line (or lines) to standard error. */
  err(text: string): void;
  /** Reads an environment variable; `undefined` when unset. */
  env(name: string): string | undefined;
}

/**
 * The real process: stdout, stderr and `Deno.env`.
 *
 * @example Write to stdout
 * ```ts
 * import { processIo } from "./cli_command.ts";
 * processIo.out("hello");
 * ```
 */
export const processIo: CliIo = {
  // deno-lint-ignore no-console
  out: (text) => console.log(text),
  // deno-lint-ignore no-console
  err: (text) => console.error(text),
  env: (name) => Deno.env.get(name),
};

/** A subcommand of `graflow`. */
export interface Command {
  /** One line for the list of commands. */
  readonly summary: string;
  /** The `--help` text. */
  readonly help: string;
  /**
   * Runs the command.
   *
   * @param args The arguments after the command's name.
   * @param io Output and environment.
   * @returns The exit code (see {@linkcode EXIT}).
   */
  run(args: string[], io: CliIo): Promise<number>;
}

/**
 * A mistake in how the command was called (exit code 2); the message says what was wrong.
 *
 * @example A usage error
 * ```ts
 * import { UsageError } from "./cli_command.ts";
 * console.log(new UsageError("unknown command \"wrk\"").name); // UsageError
 * ```
 */
export class UsageError extends Error {
  /**
   * @param message What was wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A flag's value after parsing, by kind. */
export type FlagValue = string | number | boolean | string[];

/** One flag of a command: its name, environment variable, help, and where its value goes. */
export interface Flag<O> {
  /** Name without dashes: `lease-ms` is `--lease-ms`. */
  readonly name: string;
  /** Environment variable read when the flag is not given (the flag wins). */
  readonly env?: string;
  /**
   * `string`, `number`, `boolean`, or `list` (repeatable flag; comma-separated in the
   * environment variable).
   */
  readonly kind: "string" | "number" | "boolean" | "list";
  /** Placeholder of the value in the help (`URL`, `MS`, ...). */
  readonly arg?: string;
  /** What it does, and its default. */
  readonly help: string;
  /**
   * Puts the value into the options.
   *
   * @throws {UsageError} When the value cannot be used (e.g. a file that cannot be read).
   */
  apply(options: O, value: FlagValue): void;
}

/**
 * The `apply` maker of a command's flags: `to("leaseMs")` stores the value under that key.
 *
 * @returns A function from an option name to the flag's `apply`.
 */
export function setter<O>(): <K extends keyof O>(key: K) => (o: O, v: FlagValue) => void {
  return (key) => (o, v) => {
    o[key] = v as O[typeof key];
  };
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Parses a command's arguments, filling in what is missing from environment variables.
 *
 * @param command Name of the command (for messages), e.g. `"graflow worker"`.
 * @param flags The command's flags.
 * @param args The arguments after the command's name.
 * @param env Reads an environment variable (empty counts as unset).
 * @returns The options, or `"help"` when `--help` or `-h` was given.
 * @throws {UsageError} For an unknown flag, a positional argument, or a bad value.
 *
 * @example Flags and environment variables
 * ```ts
 * import { type Flag, parseFlags } from "./cli_command.ts";
 * const flags: Flag<{ port?: number }>[] = [
 *   { name: "port", env: "PORT", kind: "number", help: "port", apply: (o, v) => o.port = v as number },
 * ];
 * console.log(parseFlags("demo", flags, [], (n) => n === "PORT" ? "8080" : undefined)); // { port: 8080 }
 * ```
 */
export function parseFlags<O extends object>(
  command: string,
  flags: readonly Flag<O>[],
  args: string[],
  env: (name: string) => string | undefined,
): O | "help" {
  const spec: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const f of flags) {
    spec[f.name] = { type: f.kind === "boolean" ? "boolean" : "string" };
    if (f.kind === "list") spec[f.name].multiple = true;
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  if (values.help) return "help";
  const options = {} as O;
  for (const f of flags) {
    const given = values[f.name];
    const fromEnv = f.env ? env(f.env) || undefined : undefined;
    if (given === undefined && fromEnv === undefined) continue;
    const where = given !== undefined ? `--${f.name}` : f.env!;
    f.apply(options, convert(command, f, where, given ?? fromEnv!, given === undefined));
  }
  return options;
}

function convert(
  command: string,
  f: Flag<unknown>,
  where: string,
  raw: string | boolean | (string | boolean)[],
  fromEnv: boolean,
): FlagValue {
  const bad = (what: string) =>
    new UsageError(`${command}: ${where} must be ${what}, got ${JSON.stringify(raw)}`);
  switch (f.kind) {
    case "list":
      if (!fromEnv) return raw as string[];
      return String(raw).split(",").map((s) => s.trim()).filter(Boolean);
    case "boolean": {
      if (!fromEnv) return raw as boolean;
      const v = String(raw).trim().toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      throw bad("one of 1, true, yes, on, 0, false, no, off");
    }
    case "number": {
      const text = String(raw);
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw bad("a number");
      return n;
    }
    default:
      return String(raw);
  }
}

/**
 * The flags part of a command's help: one entry per flag, its environment variable in brackets.
 *
 * @param flags The command's flags.
 * @returns Lines of text, wrapped to 100 columns.
 *
 * @example Help lines
 * ```ts
 * import { flagHelp } from "./cli_command.ts";
 * const text = flagHelp([{ name: "port", env: "PORT", arg: "N", kind: "number", help: "port", apply() {} }]);
 * console.log(text.trim()); // --port N               port [PORT]
 * ```
 */
export function flagHelp(flags: readonly Flag<never>[]): string {
  const lines: string[] = [];
  for (const f of flags) {
    const head = `  --${f.name}${f.arg ? ` ${f.arg}` : ""}`;
    const text = `${f.help}${
      f.env ? ` [${f.env}${f.kind === "list" ? ", comma-separated" : ""}]` : ""
    }`;
    const words = text.split(" ");
    let line = head.length < 25 ? head.padEnd(25) : `${head}\n${"".padEnd(25)}`;
    let width = line.length - line.lastIndexOf("\n") - 1;
    for (const word of words) {
      if (width + word.length > 99 && width > 25) {
        lines.push(line.trimEnd());
        line = "".padEnd(25);
        width = 25;
      }
      line += `${word} `;
      width += word.length + 1;
    }
    lines.push(line.trimEnd());
  }
  return `${lines.join("\n")}\n  --help, -h             show this help\n`;
}

/**
 * A command whose place is reserved but that this version does not have: it says so on stderr
 * and exits with {@linkcode EXIT}`.UNAVAILABLE` (3); `--help` describes what it will do.
 *
 * @param name The command's name.
 * @param summary What it will do (one line).
 * @param version This version of Graflow.
 * @returns The command.
 *
 * @example A reserved command
 * ```ts
 * import { notAvailable } from "./cli_command.ts";
 * const serve = notAvailable("serve", "serve the HTTP API and dashboard", "0.1.0");
 * console.log(serve.summary); // serve the HTTP API and dashboard (not available in this version)
 * ```
 */
export function notAvailable(name: string, summary: string, version: string): Command {
  const message = `graflow ${name} is not available in this version (${version}): ` +
    `it will ${summary.charAt(0).toLowerCase()}${summary.slice(1)}`;
  return {
    summary: `${summary} (not available in this version)`,
    help: `graflow ${name}: ${summary}\n\nNot available in this version (${version}): ` +
      `\`graflow ${name}\` exits with code ${EXIT.UNAVAILABLE}.\n`,
    run(args, io) {
      if (args.includes("--help") || args.includes("-h")) {
        io.out(this.help);
        return Promise.resolve(EXIT.OK);
      }
      io.err(message);
      return Promise.resolve(EXIT.UNAVAILABLE);
    },
  };
}
