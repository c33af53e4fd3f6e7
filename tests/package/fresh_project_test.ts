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
import { containerTest, IMAGE } from "../docker/engine.ts";
import { NO_REDIS, randomPrefix, RedisServer } from "../redis/redis_server.ts";

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

const TASKS = `import { task } from "@graflow/graflow";

export const sum = task("user_sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
export const square = task("user_square", (n: number) => n * n);
export const where = task("user_where", (n: number) => ({ n: n * 2, pid: Deno.pid }));
export const onWorker = task("user_on_worker", (n: number) => ({
  n,
  worker: typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function",
}), { handler: "worker" });
export const sandboxed = task("user_sandboxed", async (n: number) => ({
  n: n + 1,
  net: (await Deno.permissions.query({ name: "net" })).state === "granted",
}), { handler: "worker", permissions: "none" });
export const boxed = task("user_boxed", async (n: number, ctx) => {
  await ctx.channel.increment("boxed");
  return { n: n * 10, uid: Deno.uid() };
}, { handler: "docker" });
`;

const APP = `import { flow } from "@graflow/graflow";
import { onWorker, sandboxed, square, sum } from "./tasks.ts";

const local = await flow\`\${sum} >> \${square}\`.run({ input: [1, 2, 3] });
const pooled = await flow\`\${onWorker} | \${sandboxed}\`.run({ input: 4 });
const { user_on_worker, user_sandboxed } = pooled.results;
console.log(JSON.stringify({ local: local.output, pooled: { user_on_worker, user_sandboxed } }));
`;

const DOCKER_APP = `import { flow } from "jsr:@graflow/graflow";
import { dockerHandler } from "jsr:@graflow/graflow/docker";
import { boxed, square } from "./tasks.ts";

await using docker = dockerHandler({
  image: Deno.env.get("IMAGE")!,
  socketPath: Deno.env.get("DOCKER_SOCKET")!,
});
const result = await flow\`\${square} >> \${boxed}\`.run({ input: 3, handlers: { docker } });
console.log(JSON.stringify({ output: result.output, boxed: await result.channel.get("boxed") }));
`;

const PRODUCER = `import { flow } from "@graflow/graflow";
import { redisBackend } from "@graflow/graflow/redis";
import { sum, where } from "./tasks.ts";

await using backend = redisBackend({
  url: Deno.env.get("REDIS_URL"),
  prefix: Deno.env.get("PREFIX"),
});
const result = await flow\`\${sum} >> \${where}\`.run({ backend, input: [1, 2, 3, 4] });
console.log(JSON.stringify(result.output));
`;

/** Makes a project folder with the README's deno.json (changed by `edit`) and the files. */
async function makeProject(edit: (config: Record<string, unknown>) => void = () => {}) {
  const dir = await Deno.makeTempDir({ prefix: "graflow_user_project_" });
  await Deno.chmod(dir, 0o755); // as a project folder is: containers run as nobody
  assert.ok(!dir.startsWith(`${ROOT}/`) && !ROOT.startsWith(dir), `${dir} is outside ${ROOT}`);
  const config = readmeConfig();
  config.links = [ROOT];
  edit(config);
  await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config, null, 2));
  for (const [name, text] of Object.entries({ "tasks.ts": TASKS, "app.ts": APP })) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  await Deno.writeTextFile(`${dir}/docker_app.ts`, DOCKER_APP);
  await Deno.writeTextFile(`${dir}/producer.ts`, PRODUCER);
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
  const check = await deno(["check", "app.ts", "producer.ts", "docker_app.ts"], project.dir);
  assert.equal(check.code, 0, check.stderr);
  const r = await deno(["run", "-A", "app.ts"], project.dir);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    local: 36,
    pooled: { user_on_worker: { n: 4, worker: true }, user_sandboxed: { n: 5, net: false } },
  });
});

Deno.test("a project without the worker-options feature gets a clear error, not Deno's exit 70", async () => {
  await using project = await makeProject((c) => delete c.unstable);
  const r = await deno(["run", "-A", "app.ts"], project.dir);
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  assert.match(
    r.stderr,
    /"user_sandboxed"[^]*Cannot start Web Worker: a task with its own permissions needs/,
  );
  assert.match(
    r.stderr,
    new RegExp(
      `add "unstable": \\["worker-options"\\] to your deno.json \\(${project.dir}/deno.json\\)`,
    ),
  );
  // The flag works as well as the config.
  const flagged = await deno(["run", "-A", "--unstable-worker-options", "app.ts"], project.dir);
  assert.equal(flagged.code, 0, flagged.stderr);
});

containerTest(
  "a fresh project runs a task in a container; a fresh DENO_DIR prints nothing on stderr",
  async (socketPath) => {
    await using project = await makeProject();
    await using denoDir = await freshDenoDir();
    const env = { DENO_DIR: denoDir.path, IMAGE, DOCKER_SOCKET: socketPath };
    const r = await deno(["run", "-A", "docker_app.ts"], project.dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { output: { n: 90, uid: 65534 }, boxed: 1 });
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
    const env = { DENO_DIR: denoDir.path, IMAGE, DOCKER_SOCKET: socketPath };
    const r = await deno(["run", "-A", "docker_app.ts"], project.dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Ignored build scripts for packages:/);
    for (const name of ["ssh2", "cpu-features", "protobufjs"]) {
      assert.match(r.stderr, new RegExp(name));
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
    const prefix = randomPrefix();
    const worker = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "jsr:@graflow/graflow/cli",
        "worker",
        "--module",
        "./tasks.ts",
        "--concurrency",
        "2",
      ],
      cwd: project.dir,
      env: { NO_COLOR: "1", GRAFLOW_REDIS_URL: server.url(), GRAFLOW_PREFIX: prefix },
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
      const r = await deno(["run", "-A", "producer.ts"], project.dir, {
        REDIS_URL: server.url(),
        PREFIX: prefix,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { n: 20, pid: worker.pid });
    } finally {
      worker.kill("SIGTERM");
    }
    const status = await worker.status;
    await reading;
    assert.equal(status.code, 0, await stderr);
    assert.equal(await stderr, "");
    const stopped = lines.map((l) => JSON.parse(l)).find((e) => e.type === "stopped");
    assert.ok(stopped, `no "stopped" event in\n${lines.join("\n")}`);
  },
});
