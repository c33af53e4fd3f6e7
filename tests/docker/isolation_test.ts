/**
 * What the Docker handler's containers may not do, and how they are stopped: network, file
 * system, memory, time limits, aborts, and the handler closing.
 *
 * @module
 */
import assert from "assert";
import { flow, TaskFailedError, TaskTimeoutError } from "../../mod.ts";
import { dockerHandler } from "../../src/handlers/docker/mod.ts";
import { containersWith, containerTest, IMAGE, rejection } from "./engine.ts";
import { echo, hog, limited, netProbe, sleeper, writer } from "./fixtures/tasks.ts";

containerTest(
  'network: "none" (the default) blocks the network; "host" does not',
  async (socketPath) => {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("hello from the host"),
    );
    const port = server.addr.port;
    await using none = dockerHandler({ image: IMAGE, socketPath });
    const blocked = (await flow`${netProbe}`.run({ input: port, handlers: { docker: none } }))
      .output as Record<string, unknown>;
    assert.deepEqual([...new Set(blocked.interfaces as string[])], ["lo"]);
    assert.match(blocked.host as string, /^failed: /);
    assert.match(blocked.outside as string, /^failed: /);
    // The same probe with the host's network reaches the server: the probe can tell.
    await using open = dockerHandler({ image: IMAGE, socketPath, network: "host" });
    const reached = (await flow`${netProbe}`.run({ input: port, handlers: { docker: open } }))
      .output as Record<string, unknown>;
    assert.equal(reached.host, "ok 200 hello from the host");
  },
);

containerTest(
  "code mounts are read-only; extra mounts are read-only unless readOnly: false",
  async (socketPath) => {
    const data = await Deno.makeTempDir({ prefix: "graflow_dk_data_" });
    try {
      await Deno.chmod(data, 0o777);
      await using ro = dockerHandler({
        image: IMAGE,
        socketPath,
        mounts: [{ source: data, target: "/data" }],
      });
      const denied = (await flow`${writer}`.run({ handlers: { docker: ro } })).output as Record<
        string,
        string
      >;
      assert.match(denied.module, /Read-only file system/);
      assert.match(denied.data, /Read-only file system/);
      assert.match(denied.etc, /Read-only file system/, "root file system is read-only");
      assert.equal(denied.tmp, "written", "/tmp is a private tmpfs");
      await assert.rejects(Deno.stat(new URL("./fixtures/written.txt", import.meta.url)));

      await using rw = dockerHandler({
        image: IMAGE,
        socketPath,
        mounts: [{ source: data, target: "/data", readOnly: false }],
      });
      const allowed = (await flow`${writer}`.run({ handlers: { docker: rw } })).output as Record<
        string,
        string
      >;
      assert.equal(allowed.data, "written");
      assert.equal(await Deno.readTextFile(`${data}/written.txt`), "written from a container");
      assert.match(allowed.module, /Read-only file system/);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
);

containerTest("user: the task runs as the given user", async (socketPath) => {
  await using docker = dockerHandler({ image: IMAGE, socketPath, user: "1234:5678" });
  const out = (await flow`${echo}`.run({ handlers: { docker } })).output as Record<string, unknown>;
  assert.equal(out.uid, 1234);
  assert.equal(out.gid, 5678);
});

containerTest("a memory limit kills a task that exceeds it (exit code 137)", async (socketPath) => {
  await using docker = dockerHandler({ image: IMAGE, socketPath, memory: "96m" });
  const error = await rejection(flow`${hog}`.run({ handlers: { docker }, runId: "dk-oom" }));
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.cause.name, "ContainerExitError");
  assert.equal(error.cause.code, "CONTAINER_FAILED");
  assert.ok(
    error.cause.exitCode === 137 || error.cause.oomKilled === true,
    `exit ${error.cause.exitCode}, oomKilled ${error.cause.oomKilled}`,
  );
  assert.match(error.cause.message, /exited with code 137 \(killed/);
  assert.match(error.cause.message, /allocated \d+ MiB/);
  assert.deepEqual(await containersWith("graflow.run=dk-oom"), []);
});

containerTest("timeoutMs of the handler kills the container", async (socketPath) => {
  await using docker = dockerHandler({ image: IMAGE, socketPath, timeoutMs: 1500 });
  const started = Date.now();
  const error = await rejection(
    flow`${sleeper}`.run({ input: 60_000, handlers: { docker }, runId: "dk-timeout" }),
  );
  assert.ok(Date.now() - started < 10_000, "did not wait for the task");
  assert.equal(error.cause.code, "CONTAINER_TIMEOUT");
  assert.equal(
    error.cause.message,
    'Cannot finish task "dk_sleep" in a container: no result after 1500 ms (dockerHandler ' +
      "timeoutMs); the container was killed",
  );
  assert.deepEqual(await containersWith("graflow.run=dk-timeout"), []);
});

containerTest(
  "a task's own timeoutMs aborts ctx.signal, which kills the container",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath });
    const error = await rejection(
      flow`${limited}`.run({ input: 60_000, handlers: { docker }, runId: "dk-task-timeout" }),
    );
    assert.ok(error.cause instanceof TaskTimeoutError, String(error.cause));
    // The engine fails the attempt at once; the container goes right after.
    await docker.idle();
    assert.deepEqual(await containersWith("graflow.run=dk-task-timeout"), []);
  },
);

containerTest(
  "aborting the run kills and removes its containers",
  async (socketPath) => {
    const controller = new AbortController();
    await using docker = dockerHandler({
      image: IMAGE,
      socketPath,
      onOutput: (l) => l.line.startsWith("sleeping") && controller.abort(new Error("stop now")),
    });
    const error = await rejection(
      flow`${sleeper}`.run({
        input: 60_000,
        handlers: { docker },
        signal: controller.signal,
        runId: "dk-abort",
      }),
    );
    assert.equal(error.message, "stop now");
    // The run settles at once; the handler kills and removes the container right after.
    const started = Date.now();
    await docker.idle();
    assert.ok(Date.now() - started < 10_000, "the container was killed, not waited for");
    assert.deepEqual(await containersWith("graflow.run=dk-abort"), []);
  },
);

containerTest(
  "close() kills running containers and waits until they are removed",
  async (socketPath) => {
    const docker = dockerHandler({
      image: IMAGE,
      socketPath,
      onOutput: (l) => l.line.startsWith("sleeping") && void docker.close(),
    });
    const error = await rejection(
      flow`${sleeper}`.run({ input: 60_000, handlers: { docker }, runId: "dk-close" }),
    );
    assert.equal(error.cause.code, "HANDLER_CLOSED");
    await docker.close();
    assert.deepEqual(await containersWith("graflow.run=dk-close"), []);
    const after = await rejection(flow`${echo}`.run({ handlers: { docker } }));
    assert.equal(
      after.cause.message,
      'Cannot run task "dk_echo" in a container: the docker handler is closed',
    );
  },
);
