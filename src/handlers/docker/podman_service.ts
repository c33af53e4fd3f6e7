/**
 * `startPodmanService()`: a private Docker-compatible API on a temporary unix socket, for
 * machines with podman but no Docker daemon (tests, examples, CI).
 *
 * @module
 */
import { WorkflowError } from "../../errors.ts";
import { sleep } from "../../time/sleep.ts";

/** Options of {@linkcode startPodmanService}. */
export interface PodmanServiceOptions {
  /** The podman binary. @default {"podman"} */
  podman?: string;
  /** How long to wait for the socket to answer. @default {15000} */
  timeoutMs?: number;
  /** Aborts the start. */
  signal?: AbortSignal;
}

/** A running `podman system service`; `close()` stops it and removes its socket folder. */
export class PodmanService implements AsyncDisposable {
  /** The socket to pass as `socketPath` (or as `DOCKER_HOST=unix://<socketPath>`). */
  readonly socketPath: string;
  /** Process id of `podman system service`. */
  readonly pid: number;
  /** The temp folder holding the socket (removed by `close()`). */
  readonly dir: string;
  readonly #child: Deno.ChildProcess;
  #closing: Promise<void> | undefined;

  /** @internal Use {@linkcode startPodmanService}. */
  constructor(child: Deno.ChildProcess, dir: string) {
    this.#child = child;
    this.dir = dir;
    this.pid = child.pid;
    this.socketPath = `${dir}/podman.sock`;
  }

  /** Stops the service and removes the socket folder. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await this.#child.status;
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
    return this.#closing;
  }

  /** Same as {@linkcode PodmanService.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function pings(socketPath: string): Promise<boolean> {
  let conn: Deno.UnixConn | undefined;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
    await conn.write(new TextEncoder().encode("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("HTTP/1.1 200");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/**
 * Starts `podman system service --time=0` on a socket in a new temp folder and waits until it
 * answers.
 *
 * @param options The binary, a start timeout and a signal.
 * @returns The service (close it, or `await using` it).
 * @throws {WorkflowError} `DOCKER_UNAVAILABLE` when podman is missing, exits, or does not answer
 * in time.
 *
 * @example A private engine for a run
 * ```ts ignore
 * import { dockerHandler, startPodmanService } from "@graflow/graflow/docker";
 * await using podman = await startPodmanService();
 * await using docker = dockerHandler({ image: "localhost/graflow-deno:latest", socketPath: podman.socketPath });
 * ```
 */
export async function startPodmanService(
  options: PodmanServiceOptions = {},
): Promise<PodmanService> {
  const { podman = "podman", timeoutMs = 15_000, signal } = options;
  signal?.throwIfAborted();
  const dir = await Deno.makeTempDir({ prefix: "graflow_podman_" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(podman, {
      args: ["system", "service", "--time=0", `unix://${dir}/podman.sock`],
      // conmon writes files (e.g. "oom" after an out-of-memory kill) into its working directory.
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new WorkflowError(
      `Cannot start podman: ${
        error instanceof Deno.errors.NotFound ? `"${podman}" is not installed (not on PATH)` : error
      }`,
      { code: "DOCKER_UNAVAILABLE", cause: error },
    );
  }
  const service = new PodmanService(child, dir);
  let exited = false;
  child.status.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!(await pings(service.socketPath))) {
    if (exited || Date.now() > deadline || signal?.aborted) {
      await service.close();
      signal?.throwIfAborted();
      throw new WorkflowError(
        `Cannot start podman: \`${podman} system service\` ${
          exited ? "exited" : `did not answer within ${timeoutMs} ms`
        } (socket ${service.socketPath})`,
        { code: "DOCKER_UNAVAILABLE" },
      );
    }
    await sleep(20);
  }
  return service;
}
