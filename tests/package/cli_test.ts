/**
 * The `graflow` command (`workers/cli.ts`), run as a real subprocess: help, version, exit codes,
 * unknown commands and flags, reserved commands, flags from environment variables, and the
 * `workers/main.ts` alias. The worker doing real work through Redis is in
 * `fresh_project_test.ts`.
 *
 * @module
 */
import assert from "assert";
import { EXIT, type Flag, parseFlags, UsageError } from "../../workers/cli_command.ts";
import { WORKER_FLAGS } from "../../workers/worker_command.ts";
import { freePort } from "../redis/redis_server.ts";

const ROOT = new URL("../../", import.meta.url);
const CLI = new URL("workers/cli.ts", ROOT).pathname;
const MAIN = new URL("workers/main.ts", ROOT).pathname;
const CONFIG = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const MORE = ["serve"];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command with a clean environment (no GRAFLOW_* from the caller). */
async function graflow(
  args: string[],
  env: Record<string, string> = {},
  entry = CLI,
): Promise<Result> {
  const clean = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("GRAFLOW_")),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", entry, ...args],
    env: { ...clean, NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("graflow --help lists the commands and the exit codes", async () => {
  const r = await graflow(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^graflow \d+\.\d+\.\d+: /);
  for (const name of ["worker", ...MORE]) {
    assert.match(r.stdout, new RegExp(`^  ${name} `, "m"));
  }
  for (const code of [0, 1, 2, 3]) assert.match(r.stdout, new RegExp(`^  ${code}  \\S`, "m"));
  assert.match(r.stdout, /deno install -g -A -n graflow jsr:@graflow\/graflow\/cli/);
  assert.equal((await graflow(["-h"])).stdout, r.stdout);
  assert.equal((await graflow(["help"])).stdout, r.stdout);
});

Deno.test("graflow --version prints the version from deno.json", async () => {
  const r = await graflow(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `graflow ${CONFIG.version} (deno ${Deno.version.deno})`);
});

Deno.test("every command has --help, also as `graflow help <command>`", async () => {
  await Promise.all(["worker", ...MORE].map(async (name) => {
    const [r, viaHelp, short] = await Promise.all([
      graflow([name, "--help"]),
      graflow(["help", name]),
      graflow([name, "-h"]),
    ]);
    assert.equal(r.code, EXIT.OK, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^graflow ${name}: `), name);
    assert.equal(viaHelp.stdout, r.stdout, name);
    assert.equal(short.stdout, r.stdout, name);
  }));
});

Deno.test("graflow worker --help shows every flag of the table with its environment variable", async () => {
  const r = await graflow(["worker", "--help"]);
  assert.ok(WORKER_FLAGS.length >= 14);
  for (const f of WORKER_FLAGS) {
    assert.match(
      r.stdout,
      new RegExp(`^  --${f.name}\\b[^\\n]*(\\n {20,}[^\\n]*)*\\[${f.env}`, "m"),
    );
  }
  assert.match(r.stdout, /Exit codes: 0 .* 1 .*\n.* 2 usage error/);
});

Deno.test("an unknown command is exit code 2, named, with the closest command", async () => {
  const r = await graflow(["wrker", "--module", "x.ts"]);
  assert.equal(r.code, EXIT.USAGE);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /unknown command "wrker" \(did you mean "worker"\?\); the commands are worker/,
  );
  const far = await graflow(["deploy"]);
  assert.equal(far.code, 2);
  assert.match(far.stderr, /unknown command "deploy"; the commands are/);
  const proto = await graflow(["constructor"]);
  assert.equal(proto.code, 2, "names of Object.prototype are not commands");
});

Deno.test("a flag before the command, or no command at all, is exit code 2", async () => {
  const flag = await graflow(["--verbose", "worker"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option "--verbose" before the command/);
  const none = await graflow([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Missing command: name one of worker, orchestrate, serve, runs/);
});

Deno.test("graflow serve without --store or tokens is a usage error (code 2)", async () => {
  const none = await graflow(["serve"]);
  assert.equal(none.code, EXIT.USAGE, none.stderr);
  assert.match(none.stderr, /--store is required/);
  const noTokens = await graflow(["serve", "--store", await Deno.makeTempDir()]);
  assert.equal(noTokens.code, EXIT.USAGE, noTokens.stderr);
  assert.match(noTokens.stderr, /no tokens/);
});

Deno.test("graflow worker refuses unknown flags, arguments and bad values with code 2", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--nope"], {}, /graflow worker: Unknown option '--nope'/],
    [["tasks.ts"], {}, /graflow worker: Unexpected argument 'tasks.ts'/],
    [["--concurrency", "lots"], {}, /--concurrency must be a number, got "lots"/],
    [["--lease-ms", ""], {}, /--lease-ms must be a number, got ""/],
    [[], { GRAFLOW_CONCURRENCY: "ten" }, /GRAFLOW_CONCURRENCY must be a number, got "ten"/],
    [[], { GRAFLOW_METRICS_PORT: "Infinity" }, /GRAFLOW_METRICS_PORT must be a number/],
    [["--tls-ca", "/nonexistent/ca.pem"], {}, /cannot read the CA certificate "\/nonexistent/],
    [["--concurrency", "0"], {}, /concurrency must be a whole number >= 1, got 0/],
    [[], { GRAFLOW_LEASE_MS: "5" }, /leaseMs must be a whole number >= 100, got 5/],
    [["--redis", "http://x"], {}, /must start with redis:\/\/ or rediss:\/\//],
    [["--worker-id", "a b"], {}, /workerId must be 1-100 characters/],
  ];
  await Promise.all(cases.map(async ([args, env, message]) => {
    const r = await graflow(["worker", ...args], env);
    assert.equal(r.code, EXIT.USAGE, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }));
});

Deno.test("a flag wins over its environment variable, which is then not read", async () => {
  // The bad environment value would be a usage error of its own; the flag's bad URL is reported.
  const r = await graflow(["worker", "--concurrency", "3", "--redis", "http://x"], {
    GRAFLOW_CONCURRENCY: "ten",
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /must start with redis:\/\//);
  assert.doesNotMatch(r.stderr, /GRAFLOW_CONCURRENCY/);
});

Deno.test("graflow worker exits with code 1 when a --module does not import", async () => {
  const dir = await Deno.makeTempDir({ prefix: "graflow_cli_" });
  try {
    await Deno.writeTextFile(`${dir}/broken.ts`, `throw new Error("broken on purpose");\n`);
    const r = await graflow([
      "worker",
      "--redis",
      `redis://127.0.0.1:${freePort()}`,
      "--module",
      `${dir}/broken.ts`,
    ]);
    assert.equal(r.code, EXIT.FAILED, r.stderr);
    const fatal = JSON.parse(r.stderr.trim().split("\n").at(-1)!);
    assert.equal(fatal.type, "fatal");
    assert.match(fatal.error, /importing module file:\/\/.*broken\.ts failed: broken on purpose/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers/main.ts is graflow worker under its older name", async () => {
  const help = await graflow(["--help"], {}, MAIN);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^graflow worker: /);
  assert.match(help.stdout, /deno run -A workers\/main\.ts \[flags\]/);
  const worker = await graflow(["worker", "--help"]);
  const flags = (s: string) => s.slice(s.indexOf("Flags"));
  assert.equal(flags(help.stdout), flags(worker.stdout));
  const bad = await graflow(["--concurrency", "lots"], {}, MAIN);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--concurrency must be a number, got "lots"/);
});

Deno.test("parseFlags: booleans and lists from environment variables, flags first", () => {
  const flags: Flag<Record<string, unknown>>[] = [
    { name: "insecure", env: "X_INSECURE", kind: "boolean", help: "", apply: (o, v) => o.b = v },
    { name: "module", env: "X_MODULES", kind: "list", help: "", apply: (o, v) => o.l = v },
  ];
  const env = (values: Record<string, string>) => (name: string) => values[name];
  for (const yes of ["1", "true", "YES", " on "]) {
    assert.deepEqual(parseFlags("t", flags, [], env({ X_INSECURE: yes })), { b: true });
  }
  for (const no of ["0", "false", "No", "off"]) {
    assert.deepEqual(parseFlags("t", flags, [], env({ X_INSECURE: no })), { b: false });
  }
  assert.throws(
    () => parseFlags("t", flags, [], env({ X_INSECURE: "maybe" })),
    (e: Error) => e instanceof UsageError && /X_INSECURE must be one of 1, true/.test(e.message),
  );
  assert.deepEqual(parseFlags("t", flags, ["--insecure"], env({ X_INSECURE: "0" })), { b: true });
  assert.deepEqual(parseFlags("t", flags, [], env({ X_MODULES: " a.ts, ,b.ts " })), {
    l: ["a.ts", "b.ts"],
  });
  assert.deepEqual(
    parseFlags("t", flags, ["--module", "c.ts", "--module", "d.ts"], env({ X_MODULES: "a.ts" })),
    { l: ["c.ts", "d.ts"] },
  );
  assert.deepEqual(parseFlags("t", flags, [], env({ X_MODULES: "" })), {}, "empty is unset");
  assert.equal(parseFlags("t", flags, ["-h"], env({})), "help");
});

Deno.test("deno install -g from a checkout, as README.md shows, gives a working graflow", async () => {
  const root = await Deno.makeTempDir({ prefix: "graflow_install_" });
  try {
    const config = new URL("deno.json", ROOT).pathname;
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["install", "-g", "-A", "-n", "graflow", "--root", root, "--config", config, CLI],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(`${root}/bin/graflow`, { args, cwd: root }).output();
      return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
    };
    assert.deepEqual(await run("--version"), {
      code: 0,
      stdout: `graflow ${CONFIG.version} (deno ${Deno.version.deno})\n`,
    });
    const help = await run("worker", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^graflow worker: /);
    assert.equal((await run("serve")).code, EXIT.USAGE);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
