/**
 * The Docker handler's parts that need no engine (option checks, the output parser, mounts,
 * frame checks), and the engine-side checks that need one (image policy, leftovers sweep).
 *
 * @module
 */
import assert from "assert";
import { flow, task, type WorkflowError } from "../../mod.ts";
import { dockerHandler, parseMemory } from "../../src/handlers/docker/mod.ts";
import { codeMounts } from "../../src/handlers/docker/code_mounts.ts";
import { type ContainerRunInput, containerSpec } from "../../src/handlers/docker/container_run.ts";
import { normalizeDockerOptions } from "../../src/handlers/docker/options.ts";
import { ContainerOutput, FrameTooLargeError } from "../../src/handlers/docker/container_output.ts";
import { checkCall, checkOutcome, parseFrame } from "../../src/handlers/docker/frames.ts";
import { OWNER_LABEL, ownerId } from "../../src/handlers/docker/leftovers.ts";
import { FRAME_MARKER } from "../../src/handlers/docker/protocol.ts";
import { containersWith, containerTest, docker, IMAGE, rejection } from "./engine.ts";
import { echo } from "./fixtures/tasks.ts";

const ROOT_PATH = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("dockerHandler() refuses bad options, naming the option and the value", () => {
  const cases: [Record<string, unknown>, new (...a: never[]) => Error, string][] = [
    [{}, TypeError, "image must be a non-empty string, got undefined"],
    [{ image: " " }, TypeError, 'image must be a non-empty string, got " "'],
    [
      { image: "i", env: { "1X": "a" } },
      TypeError,
      'env names must match [A-Za-z_][A-Za-z0-9_]*, got "1X"',
    ],
    [{ image: "i", env: { X: 1 } }, TypeError, "env.X must be a string, got 1"],
    [
      { image: "i", mounts: [{ source: "rel", target: "/d" }] },
      TypeError,
      'mounts[0].source must be an absolute path without ":" or ",", got "rel"',
    ],
    [{ image: "i", network: "" }, TypeError, 'network must be a non-empty string, got ""'],
    [{ image: "i", cpus: 0 }, RangeError, "cpus must be a number of cores above 0, got 0"],
    [
      { image: "i", pull: "sometimes" },
      TypeError,
      'pull must be "never", "missing" or "always", got "sometimes"',
    ],
    [
      { image: "i", timeoutMs: -1 },
      RangeError,
      "timeoutMs must be a positive number (finite; omit it for no limit), got -1",
    ],
    [
      { image: "i", maxOutputBytes: 10 },
      RangeError,
      "maxOutputBytes must be a whole number >= 1024, got 10",
    ],
    [
      { image: "i", memory: "lots" },
      TypeError,
      'memory must be a number of bytes or a size like "256m", got "lots"',
    ],
    [
      { image: "i", memory: 1000 },
      RangeError,
      "memory must be at least 6291456 bytes (6 MiB), got 1000",
    ],
    [
      { image: "i", root: "relative/dir" },
      TypeError,
      'root must be an absolute path without ":" or ",", got "relative/dir"',
    ],
    [
      { image: "i", socketPath: "x.sock" },
      TypeError,
      'socketPath must be an absolute path without ":" or ",", got "x.sock"',
    ],
    [{ image: "i", onOutput: "yes" }, TypeError, 'onOutput must be a function, got "string"'],
  ];
  for (const [options, Class, message] of cases) {
    assert.throws(
      () => dockerHandler(options as never),
      (e: Error) => e instanceof Class && e.message === `Cannot create docker handler: ${message}`,
      JSON.stringify(options),
    );
  }
});

Deno.test("parseMemory() reads bytes and k/m/g sizes", () => {
  assert.equal(parseMemory(64 * 2 ** 20), 64 * 2 ** 20);
  assert.equal(parseMemory("256m"), 256 * 2 ** 20);
  assert.equal(parseMemory("1g"), 2 ** 30);
  assert.equal(parseMemory("1.5G"), 1.5 * 2 ** 30);
  assert.equal(parseMemory("8192k"), 8 * 2 ** 20);
});

function muxed(stream: 1 | 2, text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + body.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, body.length);
  out.set(body, 8);
  return out;
}

Deno.test("containerSpec() locks a container down and applies the limits", () => {
  const spec = (options: Record<string, unknown>) =>
    containerSpec({
      options: normalizeDockerOptions({ image: "img", ...options }),
      code: codeMounts(echo, undefined),
      task: echo,
      ctx: { runId: "r1" },
    } as unknown as ContainerRunInput);
  const plain = spec({});
  assert.deepEqual(plain.Cmd, [
    "deno",
    "run",
    "-A",
    "--no-prompt",
    "--no-lock",
    "--config",
    `${ROOT_PATH}/deno.json`,
    `${ROOT_PATH}/workers/container_runner.ts`,
  ]);
  assert.equal(plain.User, "65534:65534");
  assert.equal(plain.WorkingDir, ROOT_PATH);
  assert.deepEqual(plain.Env, []);
  assert.equal(plain.Labels["graflow.run"], "r1");
  assert.equal(plain.Labels["graflow.task"], "dk_echo");
  assert.equal(plain.Labels["graflow.owner"], ownerId());
  const host = plain.HostConfig;
  assert.deepEqual(host.Binds, [`${ROOT_PATH}:${ROOT_PATH}:ro`]);
  assert.equal(host.NetworkMode, "none");
  assert.deepEqual(host.CapDrop, ["ALL"]);
  assert.deepEqual(host.SecurityOpt, ["no-new-privileges"]);
  assert.equal(host.ReadonlyRootfs, true);
  assert.deepEqual(host.Tmpfs, { "/tmp": "rw,nosuid,nodev,size=256m" });
  assert.equal(host.Memory, undefined);
  assert.equal(host.NanoCpus, undefined);

  const limited = spec({
    memory: "128m",
    cpus: 0.5,
    env: { A: "1" },
    network: "bridge",
    user: "1000",
    readOnlyRootfs: false,
    mounts: [{ source: "/srv/in", target: "/in" }, {
      source: "/srv/out",
      target: "/out",
      readOnly: false,
    }],
  });
  assert.equal(limited.HostConfig.Memory, 128 * 2 ** 20);
  assert.equal(limited.HostConfig.MemorySwap, 128 * 2 ** 20, "no swap");
  assert.equal(limited.HostConfig.NanoCpus, 5e8);
  assert.deepEqual(limited.Env, ["A=1"]);
  assert.equal(limited.HostConfig.NetworkMode, "bridge");
  assert.equal(limited.User, "1000");
  assert.equal(limited.HostConfig.ReadonlyRootfs, false);
  assert.equal(limited.HostConfig.Tmpfs, undefined);
  assert.deepEqual(limited.HostConfig.Binds, [
    `${ROOT_PATH}:${ROOT_PATH}:ro`,
    "/srv/in:/in:ro",
    "/srv/out:/out",
  ]);
});

Deno.test("ContainerOutput splits stdout and stderr and finds frames, even byte by byte", () => {
  const frames: string[] = [];
  const logs: string[] = [];
  const output = new ContainerOutput({
    maxFrameBytes: 1024,
    onFrame: (json) => frames.push(json),
    onLog: (s, line) => logs.push(`${s}: ${line}`),
  });
  const bytes = [
    muxed(1, "hello\nhalf a "),
    muxed(2, "warning ü\n"),
    muxed(1, `line${FRAME_MARKER}{"t":"call","id":1}\n`),
    muxed(1, `${FRAME_MARKER}{"t":"outcome"}\nlast`),
  ];
  for (const chunk of bytes) for (const b of chunk) output.push(new Uint8Array([b]));
  output.end();
  assert.deepEqual(frames, ['{"t":"call","id":1}', '{"t":"outcome"}']);
  assert.deepEqual(logs, [
    "stdout: hello",
    "stderr: warning ü",
    "stdout: half a line",
    "stdout: last",
  ]);
  assert.deepEqual(output.tail("stderr"), ["warning ü"]);
  assert.deepEqual(output.tail("stdout"), ["hello", "half a line", "last"]);
});

Deno.test("ContainerOutput refuses a frame over the limit before its end arrives", () => {
  const output = new ContainerOutput({
    maxFrameBytes: 1024,
    onFrame: () => assert.fail("no frame"),
  });
  output.push(muxed(1, FRAME_MARKER + "x".repeat(1000)));
  assert.throws(
    () => output.push(muxed(1, "x".repeat(100))),
    (e: Error) => e instanceof FrameTooLargeError && /more than 1024 bytes/.test(e.message),
  );
  // A long line that is not a frame is only log output.
  const logs: string[] = [];
  const quiet = new ContainerOutput({
    maxFrameBytes: 1024,
    onFrame: () => {},
    onLog: (_, l) => logs.push(l),
  });
  quiet.push(muxed(1, "y".repeat(5000)));
  quiet.end();
  assert.equal(logs.join("").length, 5000);
});

Deno.test("codeMounts() mounts the project folder (with deno.json) read-only at its own path", async () => {
  const inRepo = codeMounts(echo, undefined);
  assert.deepEqual(inRepo.folders, [ROOT_PATH]);
  assert.equal(inRepo.config, `${ROOT_PATH}/deno.json`);
  assert.equal(inRepo.runner, `${ROOT_PATH}/workers/container_runner.ts`);
  assert.equal(inRepo.workdir, ROOT_PATH);

  const dir = await Deno.makeTempDir({ prefix: "graflow_dk_mount_" });
  try {
    const outside = task("dk_outside", () => 1, { module: `file://${dir}/sub/tasks.ts` });
    const m = codeMounts(outside, undefined);
    assert.deepEqual(m.folders, [ROOT_PATH, `${dir}/sub`], "graflow and the module's folder");
    assert.equal(m.config, undefined);
    await Deno.writeTextFile(`${dir}/deno.json`, "{}");
    const withRoot = codeMounts(outside, dir);
    assert.deepEqual(withRoot.folders, [ROOT_PATH, dir]);
    assert.equal(withRoot.config, `${dir}/deno.json`);
    assert.throws(
      () => codeMounts(outside, "/somewhere/else"),
      (e: WorkflowError) =>
        e.code === "CONTAINER_SETUP" &&
        e.message ===
          `Cannot run task "dk_outside" in a container: its module ${dir}/sub/tasks.ts is not inside root /somewhere/else`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const remote = task("dk_remote_module", () => 1, { module: "https://example.com/tasks.ts" });
  assert.throws(
    () => codeMounts(remote, undefined),
    /its module https:\/\/example\.com\/tasks\.ts is not a file: URL/,
  );
});

Deno.test("frame checks refuse malformed frames, frames without the nonce and checkpoint paths", () => {
  const bad = [
    "[1]",
    '{"t":"call","nonce":"n"}',
    '{"t":"outcome","nonce":"n","outcome":{"ok":false,"error":{"name":1}}}',
    '{"t":"x","nonce":"n"}',
    '{"t":"outcome","outcome":{"ok":true,"value":1}}',
    '{"t":"outcome","nonce":"other","outcome":{"ok":true,"value":1}}',
    '{"t":"call","nonce":"n","id":1,"call":{"op":"import","url":"data:,"}}',
  ];
  for (const json of bad) {
    assert.throws(
      () => parseFrame("t", json, "n"),
      (e: WorkflowError) => e.code === "CONTAINER_PROTOCOL",
      json,
    );
  }
  const ok = parseFrame("t", '{"t":"outcome","nonce":"n","outcome":{"ok":true,"value":1}}', "n");
  assert.deepEqual(ok, { t: "outcome", nonce: "n", outcome: { ok: true, value: 1 } });
  assert.throws(
    () =>
      checkOutcome("t", { ok: true, value: 1, directives: { checkpoints: [{ path: "/etc/x" }] } }),
    (e: WorkflowError) => e.code === "CHECKPOINT_PATH_REFUSED",
  );
  assert.throws(
    () => checkCall("t", { op: "checkpoint", options: { path: "/etc/x" } }),
    (e: WorkflowError) => e.code === "CHECKPOINT_PATH_REFUSED",
  );
});

Deno.test("an unreachable engine is a DOCKER_UNAVAILABLE error naming the socket", async () => {
  await using handler = dockerHandler({ image: IMAGE, socketPath: "/nonexistent/docker.sock" });
  const error = (await rejection(flow`${echo}`.run({ handlers: { docker: handler } })))
    .cause as unknown as WorkflowError;
  assert.equal(error.code, "DOCKER_UNAVAILABLE");
  assert.match(
    error.message,
    /^Cannot reach the container engine at unix:\/\/\/nonexistent\/docker\.sock: /,
  );
});

containerTest(
  'pull: "never" refuses a missing image; "missing" reports a failed pull',
  async (socketPath) => {
    await using never = dockerHandler({
      image: "localhost/graflow-absent:1",
      socketPath,
      pull: "never",
    });
    const e1 = (await rejection(flow`${echo}`.run({ handlers: { docker: never } })))
      .cause as unknown as WorkflowError;
    assert.equal(e1.code, "IMAGE_NOT_FOUND");
    assert.equal(
      e1.message,
      'Cannot run image "localhost/graflow-absent:1": it is not present and the pull policy is "never"',
    );
    // No registry listens on port 1: the pull fails fast.
    await using missing = dockerHandler({ image: "127.0.0.1:1/graflow-absent:1", socketPath });
    const e2 = (await rejection(flow`${echo}`.run({ handlers: { docker: missing } })))
      .cause as unknown as WorkflowError;
    assert.equal(e2.code, "IMAGE_NOT_FOUND");
    assert.match(
      e2.message,
      /^Cannot pull image "127\.0\.0\.1:1\/graflow-absent:1" \(pull policy "missing"\): /,
    );
  },
);

containerTest(
  "sweep() removes containers of dead processes and keeps those of live ones",
  async (socketPath) => {
    // A process that has exited: its pid no longer has the recorded start time.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const dead = `${Deno.hostname()}/${gone.pid}/1`;
    const make = (owner: string) =>
      docker!.createContainer({
        Image: IMAGE,
        Cmd: ["deno", "--version"],
        Labels: { [OWNER_LABEL]: owner, "graflow.run": "dk-sweep" },
      });
    const [deadOne, liveOne] = await Promise.all([make(dead), make(ownerId())]);
    try {
      await using handler = dockerHandler({ image: IMAGE, socketPath });
      assert.ok((await handler.sweep()) >= 1);
      assert.deepEqual(await containersWith("graflow.run=dk-sweep"), [liveOne.id]);
      void deadOne;
    } finally {
      await liveOne.remove({ force: true });
      await deadOne.remove({ force: true }).catch(() => {});
    }
  },
);

containerTest(
  "the containers of a SIGKILLed process are removed by the next handler's sweep",
  async (socketPath) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "fixtures/crash_child.ts", socketPath, "dk-crash"],
      cwd: new URL(".", import.meta.url),
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("started")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.match(seen, /started/);
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    assert.equal((await containersWith("graflow.run=dk-crash")).length, 1, "left behind");
    await using handler = dockerHandler({ image: IMAGE, socketPath });
    assert.ok((await handler.sweep()) >= 1);
    assert.deepEqual(await containersWith("graflow.run=dk-crash"), []);
  },
);

Deno.test("the dockerode specifier loaded at run time is the one deno.json pins", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const source = await Deno.readTextFile(
    new URL("../../src/handlers/docker/engine_client.ts", import.meta.url),
  );
  const used = source.match(/const DOCKERODE = "([^"]+)"/)?.[1];
  assert.equal(used, config.imports.dockerode);
});

Deno.test("a start() error saying the container's process already exited is recognised", async () => {
  const { isExitedBeforeStart } = await import("../../src/handlers/docker/container_run.ts");
  assert.ok(
    isExitedBeforeStart(
      new Error("(HTTP code 500) server error - read /proc/2748/cgroup: no such process "),
    ),
  );
  assert.ok(!isExitedBeforeStart(new Error("(HTTP code 500) server error - no such image")));
  assert.ok(!isExitedBeforeStart("read /proc/1/cgroup: no such process"));
});
