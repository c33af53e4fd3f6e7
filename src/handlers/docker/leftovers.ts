/**
 * Labels on every container the Docker handler starts, and the sweep that removes containers
 * left behind by processes that died (a crash, `kill -9`) before they could remove them.
 *
 * A container's owner is `<hostname>/<pid>/<process start time>`; the start time (from
 * `/proc/<pid>/stat`) tells a dead process from a new one that reuses its pid. Where `/proc`
 * is missing (not Linux), owners cannot be checked and nothing is swept.
 *
 * @module
 */
import type { DockerClient } from "./docker_api.ts";

/** Label: the process that owns the container. */
export const OWNER_LABEL = "graflow.owner";
/** Label: the run id. */
export const RUN_LABEL = "graflow.run";
/** Label: the task id. */
export const TASK_LABEL = "graflow.task";

function startTime(pid: number | "self"): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 22 (starttime); fields after the ")" that closes the command name start at field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

let self: string | undefined;

/**
 * This process as a container owner: `<hostname>/<pid>/<start time>`.
 *
 * @returns The owner label value.
 */
export function ownerId(): string {
  return self ??= `${Deno.hostname()}/${Deno.pid}/${startTime("self") ?? "?"}`;
}

/**
 * Whether the process that owns a container is gone for sure.
 *
 * @param owner An owner label value.
 * @returns `true` when it ran on this host and no longer runs; `false` when it runs or cannot
 * be checked.
 */
export function ownerIsDead(owner: string): boolean {
  const [host, pidText, start] = owner.split("/");
  if (host !== Deno.hostname() || start === "?" || startTime("self") === undefined) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return startTime(pid) !== start;
}

/**
 * Removes the containers whose owner process died.
 *
 * @param docker The engine client.
 * @returns How many containers were removed.
 */
export async function sweepLeftovers(docker: DockerClient): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [OWNER_LABEL] } });
  let removed = 0;
  await Promise.all(list.map(async (info) => {
    const owner = info.Labels?.[OWNER_LABEL];
    if (!owner || !ownerIsDead(owner)) return;
    try {
      await docker.getContainer(info.Id).remove({ force: true });
      removed++;
    } catch {
      // Another process swept it first, or the engine is removing it already.
    }
  }));
  return removed;
}
