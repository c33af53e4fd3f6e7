/**
 * Connecting to the container engine (Docker, or podman's Docker-compatible service) through
 * dockerode, which is imported here lazily, and making sure the image is there.
 *
 * @module
 */
import type { DockerClient, DockerConstructor } from "./docker_api.ts";
import { WorkflowError } from "../../errors.ts";
import type { PullPolicy } from "./options.ts";

/**
 * The dockerode specifier, in a variable on purpose: Deno loads the targets of literal dynamic
 * imports together with the importing module, and a module that defines container tasks is also
 * imported inside containers (no network, no npm cache), where dockerode is never needed.
 */
// The full npm: specifier (not the import-map name) so it also resolves for users of the
// published package, where this project's import map does not apply. Keep it in step with deno.json.
const DOCKERODE = "npm:dockerode@5.0.1";

const CANDIDATES = ["/var/run/docker.sock", "/run/podman/podman.sock"];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the Docker API is: `socketPath`, else `DOCKER_HOST`, else the first existing socket
 * among Docker's and podman's usual places.
 *
 * @param socketPath The socket given in the options.
 * @returns A socket path, or `{ host }` for `DOCKER_HOST`.
 */
export function locateEngine(socketPath?: string): { socketPath: string } | { host: string } {
  if (socketPath) return { socketPath };
  const host = env("DOCKER_HOST");
  if (host) return { host };
  const runtime = env("XDG_RUNTIME_DIR");
  const candidates = runtime ? [...CANDIDATES, `${runtime}/podman/podman.sock`] : CANDIDATES;
  return { socketPath: candidates.find(exists) ?? CANDIDATES[0] };
}

function describe(where: { socketPath: string } | { host: string }): string {
  return "host" in where ? `DOCKER_HOST=${where.host}` : `unix://${where.socketPath}`;
}

/**
 * Creates a dockerode client and checks that the engine answers.
 *
 * @param socketPath The socket given in the options.
 * @returns The client and a description of where it points.
 * @throws {WorkflowError} `DOCKER_UNAVAILABLE` when the engine does not answer.
 */
export async function connectEngine(
  socketPath?: string,
): Promise<{ docker: DockerClient; where: string }> {
  const where = locateEngine(socketPath);
  const { default: Dockerode } = await import(DOCKERODE) as { default: DockerConstructor };
  // With no options, docker-modem reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
  const docker = "host" in where
    ? new Dockerode()
    : new Dockerode({ socketPath: where.socketPath });
  try {
    await docker.ping();
  } catch (error) {
    throw new WorkflowError(
      `Cannot reach the container engine at ${describe(where)}: ${(error as Error).message} ` +
        "(start Docker, or `podman system service --time=0 unix:///path/podman.sock` and pass " +
        "socketPath or set DOCKER_HOST)",
      { code: "DOCKER_UNAVAILABLE", cause: error },
    );
  }
  return { docker, where: describe(where) };
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number })?.statusCode;
}

/**
 * Makes sure `image` is available under the pull policy.
 *
 * @param docker The client.
 * @param image The image reference.
 * @param pull The policy.
 * @throws {WorkflowError} `IMAGE_NOT_FOUND` when the image is missing and may not or could not
 * be pulled.
 */
export async function ensureImage(
  docker: DockerClient,
  image: string,
  pull: PullPolicy,
): Promise<void> {
  let present = true;
  try {
    await docker.getImage(image).inspect();
  } catch (error) {
    if (statusCode(error) !== 404) throw error;
    present = false;
  }
  if (present && pull !== "always") return;
  if (!present && pull === "never") {
    throw new WorkflowError(
      `Cannot run image "${image}": it is not present and the pull policy is "never"`,
      { code: "IMAGE_NOT_FOUND" },
    );
  }
  try {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (error, events) => {
        const failed = error ?? events.find((e) => e.error);
        if (failed) reject(failed instanceof Error ? failed : new Error(String(failed.error)));
        else resolve();
      });
    });
  } catch (error) {
    throw new WorkflowError(
      `Cannot pull image "${image}" (pull policy "${pull}"): ${(error as Error).message}`,
      { code: "IMAGE_NOT_FOUND", cause: error },
    );
  }
}
