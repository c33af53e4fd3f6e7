/**
 * One task attempt in one container: create (labelled, locked down), attach (stdin, stdout,
 * stderr over one hijacked connection), send the task, start, serve the task's calls, and
 * return its outcome. The container is killed on abort, timeout or a protocol breach, and
 * removed in every case.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import {
  type RemoteOutcome,
  type RemoteTaskMessage,
  serveContextCall,
} from "../../context/remote_context.ts";
import type { TaskContext } from "../../context/task_context.ts";
import { toErrorRecord, WorkflowError } from "../../errors.ts";
import type { Task } from "../../graph/task.ts";
import type { CodeMounts } from "./code_mounts.ts";
import { ContainerExitError } from "./container_error.ts";
import type { ContainerSpec, DockerClient, DockerContainer } from "./docker_api.ts";
import { ContainerOutput, FrameTooLargeError } from "./container_output.ts";
import { checkCall, checkOutcome, parseFrame } from "./frames.ts";
import { OWNER_LABEL, ownerId, RUN_LABEL, TASK_LABEL } from "./leftovers.ts";
import type { NormalizedDockerOptions } from "./options.ts";
import type { AnswerLine, CallFrame, TaskLine } from "./protocol.ts";
import { sleep } from "../../time/sleep.ts";
import { setLongTimer, type Timer } from "../../time/clock.ts";
import { randomNonce } from "../nonce.ts";

/** What one container run needs. */
export interface ContainerRunInput {
  /** The engine client. */
  docker: DockerClient;
  /** Handler options. */
  options: NormalizedDockerOptions;
  /** The task. */
  task: Task;
  /** Its host context (calls are served with it; its signal kills the container). */
  ctx: TaskContext;
  /** The task message (input as a codec tree). */
  message: RemoteTaskMessage;
  /** Folders to mount, runner and config. */
  code: CodeMounts;
  /** Aborted when the handler closes. */
  stop: AbortSignal;
  /** Keeps track of cleanup that outlives the attempt (removal after a result). */
  background(cleanup: Promise<void>): void;
}

/**
 * The engine's container settings for a run: Deno as the command, the code mounted read-only,
 * no capabilities, no new privileges, limits from the options.
 *
 * @param input The run.
 * @returns The create options.
 */
export function containerSpec(input: ContainerRunInput): ContainerSpec {
  const { options: o, code, task, ctx } = input;
  const binds = [
    ...code.folders.map((f) => `${f}:${f}:ro`),
    ...o.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`),
  ];
  const config = code.config ? ["--config", code.config] : ["--no-config"];
  return {
    Image: o.image,
    Cmd: ["deno", "run", "-A", "--no-prompt", "--no-lock", ...config, code.runner],
    Env: o.env.map(([k, v]) => `${k}=${v}`),
    User: o.user,
    WorkingDir: code.workdir,
    Labels: { [OWNER_LABEL]: ownerId(), [RUN_LABEL]: ctx.runId, [TASK_LABEL]: task.name },
    AttachStdin: true,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      Binds: binds,
      NetworkMode: o.network,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: o.readOnlyRootfs,
      ...(o.readOnlyRootfs ? { Tmpfs: { "/tmp": "rw,nosuid,nodev,size=256m" } } : {}),
      PidsLimit: 1024,
      // Output reaches the host through the attach stream only; nothing is written to disk.
      LogConfig: { Type: "none", Config: {} },
      ...(o.memory ? { Memory: o.memory, MemorySwap: o.memory } : {}),
      ...(o.nanoCpus ? { NanoCpus: o.nanoCpus } : {}),
    },
  };
}

/**
 * Runs one attempt of `input.task` in a new container.
 *
 * @param input The run.
 * @returns The task's outcome (checked: safe to apply with `settleOutcome`).
 * @throws {WorkflowError} `CONTAINER_FAILED` (a {@linkcode ContainerExitError}) when it ends
 * without a result, `CONTAINER_TIMEOUT`, `OUTPUT_TOO_LARGE`, `CONTAINER_PROTOCOL`; or the reason
 * of `ctx.signal` when the attempt is aborted.
 */
export function runInContainer(input: ContainerRunInput): Promise<RemoteOutcome> {
  return new ContainerRun(input).run();
}

/** State of one container run. */
class ContainerRun {
  readonly #input: ContainerRunInput;
  readonly #kill = new AbortController();
  /** Frames of this attempt echo it; anything else is refused. */
  readonly #nonce = randomNonce();
  readonly #stopped: Promise<never>;
  #created: Promise<DockerContainer> | undefined;
  #container: DockerContainer | undefined;
  #stream: Duplex | undefined;
  #lastLines: string[] = [];

  constructor(input: ContainerRunInput) {
    this.#input = input;
    this.#stopped = new Promise<never>((_, reject) => {
      const signal = this.#kill.signal;
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    this.#stopped.catch(() => {});
  }

  /** Kills the container (once) with `reason` as the attempt's error. */
  #stop = (reason: unknown): void => {
    this.#kill.abort(reason);
  };

  /** Waits for `p`, or rejects as soon as the run is stopped. */
  #until<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#stopped]);
  }

  async run(): Promise<RemoteOutcome> {
    const { docker, options: o, task, ctx, stop } = this.#input;
    const onCtx = () => this.#stop(ctx.signal.reason);
    const onStop = () => this.#stop(stop.reason);
    ctx.signal.addEventListener("abort", onCtx, { once: true });
    stop.addEventListener("abort", onStop, { once: true });
    if (ctx.signal.aborted) onCtx();
    if (stop.aborted) onStop();
    let timer: Timer | undefined;
    let succeeded = false;
    try {
      this.#created = docker.createContainer(containerSpec(this.#input));
      const container = this.#container = await this.#until(this.#created);
      const first: TaskLine = { t: "task", nonce: this.#nonce, message: this.#input.message };
      const stream = this.#stream = await this.#until(
        attach(docker, container.id, JSON.stringify(first) + "\n"),
      );
      const outcome = this.#readOutcome(stream);
      outcome.catch(() => {});
      if (o.timeoutMs !== undefined) {
        timer = setLongTimer(() =>
          this.#stop(
            new WorkflowError(
              `Cannot finish task "${task.name}" in a container: no result after ${o.timeoutMs} ` +
                "ms (dockerHandler timeoutMs); the container was killed",
              { code: "CONTAINER_TIMEOUT" },
            ),
          ), o.timeoutMs);
      }
      try {
        await this.#until(container.start());
      } catch (error) {
        // podman 4.3 under load answers 500 "read /proc/<pid>/cgroup: no such process" when the
        // container's process exited before start() looked at it. The attached output still
        // tells what happened: an outcome, or the end of the stream (then the exit code below).
        if (this.#kill.signal.aborted || !isExitedBeforeStart(error)) throw error;
      }
      const result = await outcome;
      if (result) {
        const checked = checkOutcome(task.name, result);
        succeeded = true;
        return checked;
      }
      // The output ended without an outcome: the process exited or was killed.
      const { StatusCode } = await this.#until(container.wait());
      const state = (await this.#until(container.inspect())).State;
      throw new ContainerExitError({
        taskId: task.name,
        exitCode: StatusCode ?? state.ExitCode,
        oomKilled: state.OOMKilled === true,
        memory: o.memory,
        output: this.#lastLines,
      });
    } catch (error) {
      if (this.#kill.signal.aborted) throw this.#kill.signal.reason;
      throw wrap(task.name, error);
    } finally {
      timer?.clear();
      ctx.signal.removeEventListener("abort", onCtx);
      stop.removeEventListener("abort", onStop);
      this.#stream?.destroy();
      const removal = this.#remove();
      // After a result, removal need not delay the run; the handler still waits for it on close.
      if (succeeded) this.#input.background(removal);
      else await removal;
    }
  }

  /** Parses the attach stream; resolves with the outcome, or `undefined` when it ends without. */
  #readOutcome(stream: Duplex): Promise<RemoteOutcome | undefined> {
    const { task, ctx, options } = this.#input;
    const onOutput = options.onOutput;
    const result = new Promise<RemoteOutcome | undefined>((resolve, reject) => {
      const output = new ContainerOutput({
        maxFrameBytes: options.maxOutputBytes,
        onFrame: (json) => {
          const frame = parseFrame(task.name, json, this.#nonce);
          if (frame.t === "outcome") resolve(frame.outcome);
          else this.#serve(stream, frame);
        },
        onLog: onOutput
          ? (s, line) => onOutput({ taskId: task.name, runId: ctx.runId, stream: s, line })
          : undefined,
      });
      const fail = (error: unknown) => {
        this.#stop(
          error instanceof FrameTooLargeError
            ? new WorkflowError(
              `Cannot accept the output of task "${task.name}": the container sent a message ` +
                `of more than ${options.maxOutputBytes} bytes (maxOutputBytes); it was killed`,
              { code: "OUTPUT_TOO_LARGE", cause: error },
            )
            : error,
        );
        reject(error);
      };
      stream.on("data", (chunk: Uint8Array) => {
        try {
          output.push(chunk);
        } catch (error) {
          fail(error);
        }
      });
      stream.on("end", () => {
        try {
          output.end();
        } catch (error) {
          return fail(error);
        }
        const err = output.tail("stderr");
        this.#lastLines = err.length ? err : output.tail("stdout");
        resolve(undefined);
      });
      stream.on("error", (error: Error) => reject(error));
    });
    return this.#until(result);
  }

  /** Answers a call from the task with the host context. */
  async #serve(stream: Duplex, frame: CallFrame): Promise<void> {
    const { task, ctx } = this.#input;
    let answer: AnswerLine;
    try {
      const value = await this.#until(serveContextCall(ctx, checkCall(task.name, frame.call)));
      answer = { t: "answer", id: frame.id, ok: true, value };
    } catch (error) {
      if (this.#kill.signal.aborted) return;
      answer = { t: "answer", id: frame.id, ok: false, error: toErrorRecord(error) };
    }
    if (!stream.destroyed) stream.write(JSON.stringify(answer) + "\n");
  }

  /**
   * Removes the container (killing it if it runs), also when it is still being created. Retries
   * a few times: podman refuses to remove a container that is in the middle of exiting
   * ("container state improper").
   */
  async #remove(): Promise<void> {
    const container = this.#container ?? await this.#created?.catch(() => undefined);
    if (!container) return;
    for (let attempt = 0;; attempt++) {
      try {
        await container.remove({ force: true });
        return;
      } catch (error) {
        const status = (error as { statusCode?: number })?.statusCode;
        // 404: already gone. After the last retry the sweep of a later process removes it.
        if (status === 404 || attempt === REMOVE_RETRIES) return;
        await sleep(25 * 2 ** attempt);
      }
    }
  }
}

const REMOVE_RETRIES = 6;

/**
 * Attaches to a created container's stdin, stdout and stderr over one hijacked connection, with
 * `stdin` as the request body: the engine passes the body on to the container's stdin (podman
 * does; dockerode's own `attach()` sends its options there instead, apocas/dockerode#742), and
 * what is written to the returned stream afterwards follows it.
 *
 * @param docker The client.
 * @param id The container.
 * @param stdin The first bytes of the container's stdin.
 * @returns The duplex stream: multiplexed output in, stdin out.
 */
function attach(docker: DockerClient, id: string, stdin: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    docker.modem.dial({
      path: `/containers/${id}/attach?`,
      method: "POST",
      isStream: true,
      hijack: true,
      openStdin: true,
      file: Buffer.from(stdin),
      statusCodes: { 101: true, 200: true, 404: "no such container", 500: "server error" },
      options: { stream: true, stdin: true, stdout: true, stderr: true },
    }, (error: unknown, stream: unknown) => error ? reject(error) : resolve(stream as Duplex));
  });
}

function wrap(taskId: string, error: unknown): unknown {
  if (error instanceof WorkflowError) return error;
  return new WorkflowError(
    `Cannot run task "${taskId}" in a container: the engine refused: ${(error as Error)?.message}`,
    { code: "CONTAINER_FAILED", cause: error },
  );
}

/**
 * Whether an engine error from `start()` only says the container's process had already exited.
 *
 * @param error What `start()` threw.
 * @returns True for podman's "read /proc/<pid>/cgroup: no such process".
 */
export function isExitedBeforeStart(error: unknown): boolean {
  const message = (error as { message?: unknown })?.message;
  return typeof message === "string" && /\/proc\/\d+\/cgroup: no such process/.test(message);
}
