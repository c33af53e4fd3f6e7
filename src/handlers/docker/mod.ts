/**
 * `@graflow/graflow/docker`: run tasks in containers (Docker, or podman's Docker-compatible
 * service) through `npm:dockerode`, which this entry point loads only when the first task runs.
 *
 * ```ts ignore
 * import { flow, task } from "@graflow/graflow";
 * import { dockerHandler } from "@graflow/graflow/docker";
 *
 * const add = task("add", async (n: number, ctx) => {
 *   await ctx.channel.increment("calls");
 *   return n + 1;
 * }, { handler: "docker" });
 *
 * await using docker = dockerHandler({ image: "localhost/graflow-deno:latest" });
 * const result = await flow`${add}`.run({ input: 1, handlers: { docker } });
 * ```
 *
 * Each attempt runs in a new container: the task's project folder and graflow are mounted
 * read-only at their host paths, a runner imports the task's module, finds the task by name and
 * runs it with a `ctx` whose calls go back to the host over stdin/stdout. Defaults: no network,
 * user `nobody`, read-only root file system, no capabilities; only JSON comes back.
 *
 * ## Reference
 *
 * Several images in one flow are several handlers: `handlers: { analysis: dockerHandler({ image: A }),
 * reporting: dockerHandler({ image: B }) }` with
 * tasks marked `{ handler: "analysis" }` / `{ handler: "reporting" }`.
 * `examples/docker_multi_image.ts` does that (it derives image B from
 * A through the Docker API, and starts a private podman service when `DOCKER_HOST` is not set):
 * `deno run -A examples/docker_multi_image.ts`.
 *
 * dockerode is loaded when the first task runs; its dependencies ssh2 (an optional native crypto
 * binding, for `ssh://` engines), cpu-features (optional for ssh2) and protobufjs (a check of its
 * dependents' version ranges) ship install scripts that this handler does not need. Deno skips
 * them and says so once per project ("Ignored build scripts"), unless the project's `deno.json`
 * denies them: `"allowScripts": { "deny": ["npm:ssh2", "npm:cpu-features", "npm:protobufjs"] }`.
 *
 * Each attempt (retries included) gets a new container, removed afterwards. `await using` (or
 * `close()`) kills what still runs and waits until every container of the handler is gone; `idle()`
 * waits without killing; `sweep()` removes containers left by dead processes (done automatically
 * before a handler's first container). No Docker daemon? `startPodmanService()` runs
 * `podman system service` on a temporary socket: `await using podman = await startPodmanService();`
 * then `dockerHandler({ image, socketPath: podman.socketPath })`.
 *
 * ### Options
 *
 * | option           | default         | meaning                                                                                   |
 * | ---------------- | --------------- | ----------------------------------------------------------------------------------------- |
 * | `image`          | (required)      | image to run; needs `deno` on its `PATH`                                                  |
 * | `env`            | `{}`            | extra environment variables                                                               |
 * | `mounts`         | `[]`            | extra bind mounts `{ source, target, readOnly = true }`                                   |
 * | `network`        | `"none"`        | network mode (`"none"`, `"bridge"`, `"host"`, a network name)                             |
 * | `memory`         | no limit        | bytes or `"256m"`/`"1g"`; swap disabled; exceeding it kills the container (exit code 137) |
 * | `cpus`           | no limit        | cores, e.g. `0.5`                                                                         |
 * | `user`           | `"65534:65534"` | user (and group) of the process: `nobody`                                                 |
 * | `pull`           | `"missing"`     | `"never"`, `"missing"` or `"always"` (once per handler)                                   |
 * | `timeoutMs`      | none            | wall-clock limit per container, then it is killed (`CONTAINER_TIMEOUT`)                   |
 * | `socketPath`     | see below       | the Docker API socket                                                                     |
 * | `maxOutputBytes` | 16 MiB          | largest message (result, error or call) accepted from a container                         |
 * | `root`           | see below       | host folder mounted for the task's module                                                 |
 * | `readOnlyRootfs` | `true`          | read-only root file system with a private 256 MiB tmpfs on `/tmp`                         |
 * | `onOutput`       | none            | receives each line the task prints (`{ taskId, runId, stream, line }`)                    |
 *
 * The engine is `socketPath`, else `DOCKER_HOST`, else the first of `/var/run/docker.sock`,
 * `/run/podman/podman.sock` and `$XDG_RUNTIME_DIR/podman/podman.sock` that exists. A task's own
 * `timeoutMs` works as well: it aborts `ctx.signal`, which kills the container. Bad options throw at
 * `dockerHandler()`: `TypeError`/`RangeError` naming the option and the value, e.g.
 * `Cannot create docker handler: memory must be at least 6291456 bytes (6 MiB), got 1000`.
 *
 * ### What a container sees
 *
 * The container runs
 * `deno run -A --no-prompt --no-lock --config <project>/deno.json
 * <graflow>/workers/container_runner.ts`
 * as `nobody`, in the project folder. Two host folders are mounted read-only **at their own paths**,
 * so a module URL means the same file inside and out:
 *
 * - the task's project: the nearest folder above the task's module (`task.module`, a `file:` URL) that
 *   holds a `deno.json`/`deno.jsonc` (its import map applies), else the module's folder; or the `root`
 *   option;
 * - graflow's own folder (the runner and the modules it imports); one mount when one folder holds the
 *   other.
 *
 * So the task's module and everything it imports must load from those files, offline: relative
 * imports, import-map entries that point at local files, `node:` built-ins. `npm:`, `jsr:` and
 * `https:` imports fail inside (no network, empty package cache) unless the image carries them in its
 * `DENO_DIR`; keep container tasks in modules that import only graflow and your own files (the example
 * keeps them in `docker_multi_image_tasks.ts`). Files outside the project: `root` or `mounts`. A task
 * whose module is not a local file, or graflow loaded from a URL instead of local files, fails with
 * `CONTAINER_SETUP`.
 *
 * ### Protocol
 *
 * One connection carries everything: the Docker API attach request (`POST /containers/{id}/attach`,
 * upgraded to a raw stream) made before `start`, with the task as the request body (podman passes the
 * body to the container's stdin; dockerode's own `attach()` would send its options there,
 * apocas/dockerode#742).
 *
 * - **Host → container (stdin), one JSON document per line.** First
 *   `{"t":"task","message":{runId,taskId,module,input,attempt,cycle}}`; later the answers to calls,
 *   `{"t":"answer","id":n,"ok":true,"value":…}` or `{"t":"answer","id":n,"ok":false,"error":…}`. The
 *   input never appears on the command line.
 * - **Container → host (stdout), frames**: the marker `\x1egraflow\x1f`, one JSON document, `\n`.
 *   `{"t":"call","id":n,"call":{"op":"channel","method":"increment","args":[…]}}` (also `result`,
 *   immediate `checkpoint`, `requestFeedback`), answered on stdin from the host's `ctx`; the last
 *   frame is `{"t":"outcome","outcome":{"ok":true,"value":…,"directives":{…}}}` or
 *   `{"ok":false,"error":{name,message,stack,code,cause,props}}`. `next`, `nextIteration`,
 *   `terminate`, `cancel` and deferred checkpoints travel as directives with the outcome and are
 *   applied by the host (the same `runRemoteTask` / `serveContextCall` / `settleOutcome` protocol as
 *   Web Workers and Redis workers).
 * - Everything else the task prints, on stdout or stderr, is output: `onOutput` gets it line by line
 *   and errors quote the last lines. The host reads the attach stream until the outcome (never polls
 *   `wait()`); the runner exits right after writing it.
 *
 * Values cross as codec trees (JSON plus `Date`, `Map`, `Set`, `BigInt`, `Uint8Array`, `undefined`),
 * so `Date`s stay `Date`s; errors keep class (for known and registered classes; others come back as an
 * `Error` with the same `name`), message, stack, `code` and cause.
 *
 * ### Failures
 *
 * | code                      | when                                                                                                |
 * | ------------------------- | --------------------------------------------------------------------------------------------------- |
 * | (the task's own)          | the task threw: `TaskFailedError` whose `cause` is the rebuilt error                                |
 * | `CONTAINER_FAILED`        | `ContainerExitError`: the process ended without a result: exit code, `oomKilled`, last output lines |
 * | `CONTAINER_TIMEOUT`       | the handler's `timeoutMs` passed; the container was killed                                          |
 * | `OUTPUT_TOO_LARGE`        | a message over `maxOutputBytes`; refused before it is buffered whole, the container killed          |
 * | `CONTAINER_PROTOCOL`      | a frame that is not JSON or not well formed                                                         |
 * | `TASK_NOT_FOUND`          | `ctx.next()` in the container named a task the host has not registered                              |
 * | `CHECKPOINT_PATH_REFUSED` | a checkpoint with a `path` asked for from a container                                               |
 * | `DOCKER_UNAVAILABLE`      | the engine does not answer (names the socket)                                                       |
 * | `IMAGE_NOT_FOUND`         | the image is missing and `pull: "never"`, or the pull failed                                        |
 * | `CONTAINER_SETUP`         | the module is not a local file, or not inside `root`                                                |
 * | `HANDLER_CLOSED`          | the handler was closed                                                                              |
 *
 * The engine wraps each in a `TaskFailedError` (or `RetryLimitExceededError`), so retries apply. For
 * example an out-of-memory kill under `memory: "96m"` reads
 * `Task "dk_hog" failed: Cannot run task "dk_hog" in a container: it exited with code 137 (killed by
 * SIGKILL; out of memory? its limit is 96 MiB) without sending a result; last output: …`
 * (podman 4.3 on this cgroup v1 host reports the kill only through the exit code, not `OOMKilled`).
 *
 * ### Security notes
 *
 * - **Locked down by default.** No network (`network: "none"`: only `lo`), user `nobody`
 *   (65534:65534), read-only root file system (private tmpfs on `/tmp`), every capability dropped,
 *   `no-new-privileges`, at most 1024 processes, the code folders mounted read-only, extra mounts
 *   read-only unless `readOnly: false`, no log files (output only reaches the host through the attach
 *   stream). Inside, Deno runs with `-A`: the container is the boundary.
 * - **JSON only.** The host parses what a container sends with `JSON.parse` and decodes values with
 *   the codec (data types only); errors are rebuilt from records by class name; nothing a container
 *   sends is evaluated. Frames are checked for shape and size before use. `ctx.next()` from a
 *   container may only name tasks the host has registered already (the module URL in the directive is
 *   replaced by the host's, so a container cannot make the host import a module of its choice), and a
 *   container cannot choose where the host writes a checkpoint.
 * - **Not hidden.** The task can read everything in the project folder (keep secrets elsewhere), and
 *   `network`, `mounts` with `readOnly: false`, `user: "0"` or `readOnlyRootfs: false` open what they
 *   say.
 * - **Always removed.** Containers carry the labels
 *   `graflow.owner=<host>/<pid>/<process start
 *   time>`, `graflow.run=<runId>` and
 *   `graflow.task=<taskId>`. They are removed after every attempt (after a success in the background,
 *   tracked by `idle()`/`close()`; after a failure or abort before the attempt settles), killed on
 *   `ctx.signal` (run cancel, task timeout), the handler's `timeoutMs` or `close()`. Containers of a
 *   process that died (crash, `kill -9`) are removed by the next handler's sweep, which compares the
 *   recorded process start time with `/proc`, so a reused pid is not mistaken for the owner (Linux;
 *   elsewhere nothing is swept).
 *
 * ### Tests
 *
 * `tests/docker/` runs against a real engine: a helper starts `podman system service` on a temporary
 * socket per test file (and builds `localhost/graflow-deno:latest` with `.ci/bootstrap.sh` when it is
 * missing). Covered: results of every codec type, thrown errors (class, message, code, stack), a 1 MiB
 * input, output over the limit, every channel method and `ctx.result` from inside, `next` /
 * `nextIteration` / `terminate` / `cancel` from inside, exit codes with output, forged frames (not
 * JSON; a `next` naming a `data:` module), checkpoint paths, `network: "none"` against a host server
 * that `network: "host"` reaches, read-only code and extra mounts, `user`, a memory limit (exit 137),
 * both timeouts, run abort, `close()`, pull policies, an unreachable engine, the leftover sweep (also
 * of the containers of a child process killed with SIGKILL mid-task), option errors, the output
 * parser, and the example. Without podman or the image the tests are skipped with a message saying
 * what is missing; with `REQUIRE_CONTAINERS=1` (set by `.ci/run`) they fail instead. About 25 s on
 * this VM.
 *
 * @module
 */
export { DockerHandler, dockerHandler } from "./docker_handler.ts";
export {
  type ContainerOutputLine,
  type DockerHandlerOptions,
  type DockerMount,
  parseMemory,
  type PullPolicy,
} from "./options.ts";
export { type ContainerExitDetails, ContainerExitError } from "./container_error.ts";
export type { OutputStream } from "./container_output.ts";
export { PodmanService, type PodmanServiceOptions, startPodmanService } from "./podman_service.ts";
