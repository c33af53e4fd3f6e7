/**
 * A user's project, made fresh in a temporary folder outside this repository, that uses the
 * package the way README.md says (its `deno.json` is the README's, with `links` pointing at this
 * checkout, so `jsr:@graflow/graflow` resolves here without jsr.io): a flow in-process, on the
 * Web Worker pool (with per-task permissions), in a container, and through Redis with
 * `graflow worker` run from the package. Also: loading the Docker entry point with a fresh
 * DENO_DIR prints nothing, and a project without the worker-options feature gets a clear error.
 *
 * @module
 */
import assert from "assert";
import { containerTest } from "../docker/engine.ts";
import { NO_REDIS, RedisServer } from "../redis/redis_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const README = await Deno.readTextFile(`${ROOT}/README.md`);

/** The project `deno.json` shown in README.md (after `<!-- project-config -->`). */
function readmeConfig(): Record<string, unknown> {
  const at = README.indexOf("<!-- project-config -->");
  assert.ok(at >= 0, "README.md has no <!-- project-config --> block");
  const block = README.slice(at).match(/```jsonc\n([\s\S]*?)\n```/)?.[1];
  assert.ok(block, "no ```jsonc block after <!-- project-config -->");
  return JSON.parse(block.split("\n").filter((l) => !l.trim().startsWith("//")).join("\n"));
}

/** The README's `<!-- file: NAME -->` blocks: the project's files. */
function readmeFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const m of README.matchAll(/<!-- file: (\S+) -->\s*```ts\n([\s\S]*?)\n```/g)) {
    files[m[1]] = `${m[2]}\n`;
  }
  return files;
}

/** Files this test runs (tests/examples/readme_test.ts checks that README.md has no others). */
const PROJECT_FILES = ["tasks.ts", "main.ts", "docker.ts", "producer.ts"];

/** Makes a project folder with the README's deno.json (changed by `edit`) and the files. */
async function makeProject(edit: (config: Record<string, unknown>) => void = () => {}) {
  const dir = await Deno.makeTempDir({ prefix: "graflow_user_project_" });
  await Deno.chmod(dir, 0o755); // as a project folder is: containers run as nobody
  assert.ok(!dir.startsWith(`${ROOT}/`) && !ROOT.startsWith(dir), `${dir} is outside ${ROOT}`);
  const config = readmeConfig();
  config.links = [ROOT];
  edit(config);
  await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config, null, 2));
  const files = readmeFiles();
  assert.deepEqual(Object.keys(files).sort(), [...PROJECT_FILES].sort());
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function deno(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Output> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/**
 * A DENO_DIR as a new machine has it, except that the npm packages are already downloaded
 * (offline: the registry is not needed): a hard-linked copy of this machine's npm cache without
 * Deno's "scripts warned" markers, and nothing else (no transpiled code, no other caches).
 */
async function freshDenoDir(): Promise<{ path: string } & AsyncDisposable> {
  const info = JSON.parse((await deno(["info", "--json"], ROOT)).stdout);
  const path = await Deno.makeTempDir({ prefix: "graflow_deno_dir_" });
  const copy = async (flags: string) =>
    (await new Deno.Command("cp", { args: [flags, info.npmCache, `${path}/npm`] }).output())
      .success;
  if (!await copy("-al")) assert.ok(await copy("-r"), `cannot copy ${info.npmCache}`);
  const find = await new Deno.Command("find", {
    args: [`${path}/npm`, "-name", ".scripts-warned-*", "-delete"],
  }).output();
  assert.ok(find.success);
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

Deno.test("README's project config: the JSR import and links to a checkout", () => {
  const config = readmeConfig();
  assert.deepEqual(config.imports, { "@graflow/graflow": "jsr:@graflow/graflow@^0.1.0" });
  assert.ok(Array.isArray(config.links) && config.links.length === 1);
});

Deno.test("a fresh project type-checks and runs a flow in-process and on the Web Worker pool", async () => {
  await using project = await makeProject();
  const check = await deno(["check", ...PROJECT_FILES], project.dir);
  assert.equal(check.code, 0, check.stderr);
  const r = await deno(["run", "-A", "main.ts"], project.dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "30 16\n");
  assert.equal(r.stderr, "");
});

Deno.test("a project without the worker-options feature gets a clear error, not Deno's exit 70", async () => {
  await using project = await makeProject((c) => delete c.unstable);
  const r = await deno(["run", "-A", "main.ts"], project.dir);
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /"largest"[^]*Cannot start Web Worker: a task with its own permissions/);
  const where = `${project.dir}/deno.json`.replaceAll("/", "\\/");
  assert.match(
    r.stderr,
    new RegExp(`add "unstable": \\["worker-options"\\] to your deno.json \\(${where}\\)`),
  );
  // The flag works as well as the config, and so does a config given with --config.
  const flagged = await deno(["run", "-A", "--unstable-worker-options", "main.ts"], project.dir);
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.equal(flagged.stdout, "30 16\n");
  const other = { ...readmeConfig(), links: [ROOT] };
  await Deno.writeTextFile(`${project.dir}/other.jsonc`, `// mine\n${JSON.stringify(other)}`);
  const configured = await deno(["run", "-A", "--config", "other.jsonc", "main.ts"], project.dir);
  assert.equal(configured.code, 0, configured.stderr);
  // Without read permission the pool cannot tell, starts the worker, and Deno ends the process.
  const blind = await deno(["run", "--allow-env", "main.ts"], project.dir);
  assert.equal(blind.code, 70, blind.stderr);
  assert.match(blind.stderr, /The `--unstable-worker-options` flag must be provided/);
});

containerTest(
  "a fresh project runs a task in a container; with a fresh DENO_DIR nothing goes to stderr",
  async (socketPath) => {
    await using project = await makeProject();
    await using denoDir = await freshDenoDir();
    const env = { DENO_DIR: denoDir.path, DOCKER_HOST: `unix://${socketPath}` };
    const r = await deno(["run", "-A", "docker.ts"], project.dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "{ count: 3, uid: 65534 }\n");
    assert.equal(r.stderr, "", "loading and using @graflow/graflow/docker printed something");
  },
);

containerTest(
  "without the README's allowScripts line, Deno's box about dockerode's install scripts shows",
  async (socketPath) => {
    // The cause the allowScripts line removes: ssh2, cpu-features and protobufjs (dependencies of
    // dockerode) ship install scripts that Deno does not run, and says so once per project.
    await using project = await makeProject((c) => delete c.allowScripts);
    await using denoDir = await freshDenoDir();
    const env = { DENO_DIR: denoDir.path, DOCKER_HOST: `unix://${socketPath}` };
    const r = await deno(["run", "-A", "docker.ts"], project.dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Ignored build scripts for packages:/);
    for (const name of ["ssh2", "cpu-features", "protobufjs"]) {
      assert.match(r.stderr, new RegExp(`npm:${name}@`));
    }
    assert.doesNotMatch(r.stderr, /msgpackr|bullmq|langchain/, "benchmark packages leaked in");
  },
);

Deno.test({
  name: "a fresh project runs a flow through Redis on `graflow worker` from the package",
  ignore: NO_REDIS,
  async fn() {
    await using project = await makeProject();
    await using server = await RedisServer.start();
    const env = { NO_COLOR: "1", GRAFLOW_REDIS_URL: server.url() };
    const worker = new Deno.Command(Deno.execPath(), {
      // As README.md runs it: the command from the package, the task module from the project.
      args: ["run", "-A", "jsr:@graflow/graflow/cli", "worker", "--module", "./tasks.ts"],
      cwd: project.dir,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const reading = (async () => {
      for await (const chunk of worker.stdout.pipeThrough(new TextDecoderStream())) {
        lines.push(...chunk.split("\n").filter(Boolean));
      }
    })();
    const stderr = new Response(worker.stderr).text();
    try {
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => l.includes('"type":"started"'))) {
        assert.ok(Date.now() < deadline, `the worker did not start: ${lines.join("\n")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // The producer has no worker of its own: the run completes only if the worker ran the tasks.
      const r = await deno(["run", "-A", "producer.ts"], project.dir, env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "30\n");
    } finally {
      worker.kill("SIGTERM");
    }
    const status = await worker.status;
    await reading;
    assert.equal(status.code, 0, await stderr);
    assert.equal(await stderr, "");
    // A warning first: no secret, which is allowed because Redis is on this machine.
    const events = lines.map((l) => JSON.parse(l).type).filter((t) => t !== "warning");
    assert.deepEqual([events[0], events.at(-1)], ["started", "stopped"], lines.join("\n"));
  },
});
