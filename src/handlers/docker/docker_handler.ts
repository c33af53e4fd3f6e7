/**
 * `dockerHandler()`: a {@linkcode TaskHandler} that runs each task attempt in a new container.
 *
 * @module
 */
import { settleOutcome, toRemoteMessage } from "../../context/remote_context.ts";
import type { TaskContext } from "../../context/task_context.ts";
import { WorkflowError } from "../../errors.ts";
import type { Task } from "../../graph/task.ts";
import type { TaskHandler } from "../task_handler.ts";
import { codeMounts } from "./code_mounts.ts";
import type { DockerClient } from "./docker_api.ts";
import { runInContainer } from "./container_run.ts";
import { connectEngine, ensureImage } from "./engine_client.ts";
import { sweepLeftovers } from "./leftovers.ts";
import {
  type DockerHandlerOptions,
  type NormalizedDockerOptions,
  normalizeDockerOptions,
} from "./options.ts";

/**
 * Runs tasks in containers; create with {@linkcode dockerHandler}. Each attempt gets a new
 * container (removed afterwards), so attempts share nothing but the run's channel.
 * `close()` (or `await using`) kills what still runs and waits until every container it started
 * is removed.
 */
export class DockerHandler implements TaskHandler, AsyncDisposable {
  readonly #options: NormalizedDockerOptions;
  #engine: Promise<DockerClient> | undefined;
  readonly #close = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  /**
   * Creates the handler (nothing connects until the first task runs).
   *
   * @param options Image, limits, mounts and the engine's socket.
   * @throws {TypeError} When an option has the wrong type or form.
   * @throws {RangeError} When a number is out of range.
   */
  constructor(options: DockerHandlerOptions) {
    this.#options = normalizeDockerOptions(options);
  }

  /** The image this handler runs. */
  get image(): string {
    return this.#options.image;
  }

  /**
   * Runs one attempt of `task` in a new container and returns its result; calls the task makes on
   * its `ctx` are served with `ctx`, directives (`next`, `terminate`, …) are applied to it.
   *
   * @param task The task (its module must be a local file).
   * @param input Its input.
   * @param ctx Its context; aborting `ctx.signal` kills the container.
   * @returns The task's result.
   * @throws {WorkflowError} What the task threw (rebuilt with class, message and stack), or a
   * container failure: `DOCKER_UNAVAILABLE`, `IMAGE_NOT_FOUND`, `CONTAINER_SETUP`,
   * `CONTAINER_FAILED`, `CONTAINER_TIMEOUT`, `OUTPUT_TOO_LARGE`, `CONTAINER_PROTOCOL`.
   */
  execute(task: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    const p = this.#execute(task, input, ctx);
    this.#track(p);
    return p;
  }

  async #execute(task: Task, input: unknown, ctx: TaskContext): Promise<unknown> {
    if (this.#close.signal.aborted) {
      throw new WorkflowError(
        `Cannot run task "${task.name}" in a container: the docker handler is closed`,
        { code: "HANDLER_CLOSED" },
      );
    }
    ctx.signal.throwIfAborted();
    const message = toRemoteMessage(task, input, ctx);
    const code = codeMounts(task, this.#options.root);
    const docker = await this.#ready();
    ctx.signal.throwIfAborted();
    const outcome = await runInContainer({
      docker,
      options: this.#options,
      task,
      ctx,
      message,
      code,
      stop: this.#close.signal,
      background: (cleanup) => this.#track(cleanup),
    });
    return settleOutcome(ctx, outcome);
  }

  /** Connects, sweeps leftovers of dead processes and checks the image, once. */
  #ready(): Promise<DockerClient> {
    if (!this.#engine) {
      const o = this.#options;
      this.#engine = (async () => {
        const { docker } = await connectEngine(o.socketPath);
        await sweepLeftovers(docker);
        await ensureImage(docker, o.image, o.pull);
        return docker;
      })();
      // A failure is not cached: the next task tries again (the engine may have come up).
      this.#engine.catch(() => (this.#engine = undefined));
    }
    return this.#engine;
  }

  #track(p: Promise<unknown>): void {
    const tracked = p.catch(() => {}).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /**
   * Removes the containers left by processes that died before removing theirs (also done once
   * before this handler's first container).
   *
   * @returns How many containers were removed.
   * @throws {WorkflowError} `DOCKER_UNAVAILABLE` when the engine does not answer.
   */
  async sweep(): Promise<number> {
    const { docker } = await connectEngine(this.#options.socketPath);
    return sweepLeftovers(docker);
  }

  /**
   * Waits until every attempt has finished and every container this handler started has been
   * removed (without stopping anything).
   */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all(this.#pending);
  }

  /**
   * Kills the containers still running (their attempts fail with a `HANDLER_CLOSED` error) and
   * waits until every container this handler started is removed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#close.abort(
        new WorkflowError("Cannot finish the task: the docker handler was closed", {
          code: "HANDLER_CLOSED",
        }),
      );
      await this.idle();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode DockerHandler.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates a handler that runs tasks in containers (Docker, or podman's Docker-compatible
 * service). Register it under a name and mark tasks with that handler; their module's project
 * folder and graflow are mounted read-only, the container has no network, runs as `nobody` with
 * a read-only root file system, and only JSON comes back.
 *
 * @param options Image, limits, mounts and the engine's socket.
 * @returns The handler.
 * @throws {TypeError} When an option has the wrong type or form.
 * @throws {RangeError} When a number is out of range.
 *
 * @example A task in a container
 * ```ts ignore
 * import { flow, task } from "@graflow/graflow";
 * import { dockerHandler } from "@graflow/graflow/docker";
 *
 * const heavy = task("heavy", (n: number) => n * 2, { handler: "docker" });
 * await using docker = dockerHandler({ image: "localhost/graflow-deno:latest", memory: "256m" });
 * const result = await flow`${heavy}`.run({ input: 21, handlers: { docker } });
 * console.log(result.output); // 42
 * ```
 */
export function dockerHandler(options: DockerHandlerOptions): DockerHandler {
  return new DockerHandler(options);
}
