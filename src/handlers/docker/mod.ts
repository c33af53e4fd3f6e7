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
