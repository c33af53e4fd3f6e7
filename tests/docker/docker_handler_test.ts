/**
 * The Docker handler against a real engine (podman): results, errors, input and output sizes,
 * the task's context inside the container, and cleanup.
 *
 * @module
 */
import assert from "assert";
import {
  flow,
  MemoryChannel,
  TaskFailedError,
  WorkflowCanceledError,
  WorkflowError,
} from "../../mod.ts";
import { type ContainerOutputLine, dockerHandler } from "../../src/handlers/docker/mod.ts";
import { containersWith, containerTest, IMAGE, rejection } from "./engine.ts";
import {
  adder,
  big,
  canceller,
  channelUser,
  counter,
  digest,
  echo,
  fail,
  forger,
  pathPicker,
  quitter,
  stopper,
} from "./fixtures/tasks.ts";

containerTest(
  "dockerHandler runs a task in a container and returns its result",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath, env: { DK_FLAVOR: "plain" } });
    const input = { n: 1, when: new Date(0), tags: new Set(["x"]), big: 2n ** 70n };
    const result = await flow`${echo}`.run({ input, handlers: { docker }, runId: "dk-roundtrip" });
    const out = result.output as Record<string, unknown>;
    assert.deepEqual(out.input, input);
    assert.equal(out.uid, 65534, "runs as nobody by default");
    assert.equal(out.gid, 65534);
    assert.equal(out.env, "plain");
    await docker.idle();
    assert.deepEqual(await containersWith("graflow.run=dk-roundtrip"), [], "container removed");
  },
);

containerTest(
  "an error thrown in a container keeps its class, message, code and stack",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath });
    const range = await rejection(
      flow`${fail}`.run({ input: "range", handlers: { docker }, runId: "dk-err" }),
    );
    assert.ok(range instanceof TaskFailedError);
    assert.equal(range.taskId, "dk_fail");
    assert.ok(range.cause instanceof RangeError, `cause: ${range.cause}`);
    assert.equal(range.cause.message, "value 7 is out of range");
    assert.match(
      String(range.cause.stack),
      /failInside \(file:\/\/.*tests\/docker\/fixtures\/tasks\.ts:\d+:\d+\)/,
    );

    const quota = await rejection(flow`${fail}`.run({ input: "quota", handlers: { docker } }));
    assert.equal(quota.cause.name, "QuotaError");
    assert.equal(quota.cause.message, "quota of 3 exceeded");
    assert.equal(quota.cause.code, "QUOTA");

    const plain = await rejection(flow`${fail}`.run({ input: "string", handlers: { docker } }));
    assert.equal(plain.cause.code, "NON_ERROR_THROWN");
    assert.match(plain.cause.message, /a plain string/);
    await docker.idle();
    assert.deepEqual(await containersWith("graflow.run=dk-err"), [], "removed after failure");
  },
);

containerTest("1 MiB of input arrives whole on stdin", async (socketPath) => {
  await using docker = dockerHandler({ image: IMAGE, socketPath });
  const text = Array.from({ length: 1 << 20 }, (_, i) => String.fromCharCode(97 + (i * 7) % 26))
    .join("");
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hex = [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const result = await flow`${digest}`.run({ input: text, handlers: { docker } });
  assert.deepEqual(result.output, { length: 1 << 20, sha256: hex });
});

containerTest(
  "output over maxOutputBytes is refused and the container killed",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath, maxOutputBytes: 64 * 1024 });
    // Under the limit: fine.
    const ok = await flow`${big}`.run({ input: 60_000, handlers: { docker } });
    assert.equal((ok.output as string).length, 60_000);
    const error = await rejection(
      flow`${big}`.run({ input: 200_000, handlers: { docker }, runId: "dk-big" }),
    );
    assert.ok(error instanceof TaskFailedError);
    assert.ok(error.cause instanceof WorkflowError);
    assert.equal(error.cause.code, "OUTPUT_TOO_LARGE");
    assert.match(
      error.cause.message,
      /^Cannot accept the output of task "dk_big": the container sent a message of more than 65536 bytes \(maxOutputBytes\); it was killed$/,
    );
    assert.deepEqual(
      await containersWith("graflow.run=dk-big"),
      [],
      "removed before the run failed",
    );
  },
);

containerTest("ctx.channel and ctx.result work inside the container", async (socketPath) => {
  await using docker = dockerHandler({ image: IMAGE, socketPath });
  const channel = new MemoryChannel();
  await channel.set("seed", 41);
  await channel.set("count", 1);
  await channel.append("log", "host");
  await channel.set("doomed", true);
  const result = await flow`${echo} >> ${channelUser}`.run({
    input: 7,
    channel,
    handlers: { docker },
  });
  const out = result.output as Record<string, unknown>;
  assert.equal(out.before, 41);
  assert.equal(out.counted, 6);
  assert.equal(out.length, 2);
  assert.equal(out.missing, "fallback");
  assert.equal(out.has, true);
  assert.equal(out.deleted, true);
  assert.deepEqual(out.keys, ["count", "from_container", "log", "seed"]);
  assert.match(
    out.refused as string,
    /^TypeError: Cannot store channel set argument 2: value is a function/,
  );
  assert.deepEqual((out.echo as { input: number }).input, 7);
  // The host's channel saw every change.
  assert.deepEqual(await channel.get("from_container"), {
    at: new Date(0),
    tags: new Set(["a", "b"]),
  });
  assert.equal(await channel.get("count"), 6);
  assert.deepEqual(await channel.get("log"), ["host", "container"]);
  assert.equal(await channel.has("doomed"), false);
});

containerTest(
  "ctx.next, nextIteration, terminate and cancel from inside a container",
  async (socketPath) => {
    await using docker = dockerHandler({ image: IMAGE, socketPath });
    const next = await flow`${adder}`.run({ input: 1, handlers: { docker } });
    assert.deepEqual(next.completed, ["dk_next", "dk_after"]);
    assert.deepEqual(next.results.dk_after, { after: { from: "container", x: 1 } });

    const loop = await flow`${counter}`.run({ input: 1, handlers: { docker } });
    assert.deepEqual(loop.completed, ["dk_iterate", "dk_iterate", "dk_iterate"]);
    assert.equal(loop.output, 3);

    const term = await flow`${stopper} >> ${echo}`.run({ handlers: { docker } });
    assert.equal(term.status, "terminated");
    assert.deepEqual(term.completed, ["dk_terminate"]);

    const cancel = await rejection(flow`${canceller} >> ${echo}`.run({ handlers: { docker } }));
    assert.ok(cancel instanceof WorkflowCanceledError, String(cancel));
    assert.equal(cancel.taskId, "dk_cancel");
  },
);

containerTest(
  "a container that exits without a result fails with its exit code and output",
  async (socketPath) => {
    const lines: ContainerOutputLine[] = [];
    await using docker = dockerHandler({
      image: IMAGE,
      socketPath,
      onOutput: (l) => lines.push(l),
    });
    const error = await rejection(flow`${quitter}`.run({ handlers: { docker }, runId: "dk-exit" }));
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.cause.name, "ContainerExitError");
    assert.equal(error.cause.code, "CONTAINER_FAILED");
    assert.equal(error.cause.exitCode, 3);
    assert.deepEqual(error.cause.output, ["about to exit with 3"]);
    assert.equal(
      error.cause.message,
      'Cannot run task "dk_exit" in a container: it exited with code 3 without sending a result; ' +
        "last output:\n  about to exit with 3",
    );
    assert.deepEqual(lines, [
      { taskId: "dk_exit", runId: "dk-exit", stream: "stderr", line: "about to exit with 3" },
    ]);
    assert.deepEqual(await containersWith("graflow.run=dk-exit"), []);
  },
);

containerTest("the host never acts on a forged or malformed frame", async (socketPath) => {
  await using docker = dockerHandler({ image: IMAGE, socketPath });
  const garbage = await rejection(flow`${forger}`.run({ input: "garbage", handlers: { docker } }));
  assert.equal(garbage.cause.code, "CONTAINER_PROTOCOL");
  assert.match(
    garbage.cause.message,
    /^Cannot read the container of task "dk_forge": a frame is not JSON/,
  );

  const forged = await rejection(flow`${forger}`.run({ input: "forged", handlers: { docker } }));
  assert.equal(forged.cause.code, "CONTAINER_PROTOCOL");
  assert.match(forged.cause.message, /a frame does not carry the task's nonce/);

  const hostile = await rejection(flow`${forger}`.run({ input: "next", handlers: { docker } }));
  assert.equal(hostile.cause.code, "TASK_NOT_FOUND");
  assert.match(hostile.cause.message, /task "dk_never_defined" is not registered in this process/);
  assert.equal((globalThis as { pwned?: number }).pwned, undefined, "the data: module never ran");

  const path = await flow`${pathPicker}`.run({ handlers: { docker } });
  assert.match(
    path.output as string,
    /^WorkflowError: Cannot checkpoint from the container of task "dk_checkpoint_path": a checkpoint path chosen in a container is not accepted/,
  );
});
