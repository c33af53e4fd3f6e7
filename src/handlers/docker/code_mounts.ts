/**
 * What a container must see of the host's files to run a task: the task's project (the
 * nearest folder above its module with a `deno.json`, so relative imports and the import map
 * resolve) and graflow itself (the runner and the protocol), both read-only and at the same
 * paths as on the host, so module URLs mean the same inside and out.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Task } from "../../graph/task.ts";
import { WorkflowError } from "../../errors.ts";

/** Host paths a container needs to run a task. */
export interface CodeMounts {
  /** Folders to bind read-only at the same path (no folder inside another). */
  folders: string[];
  /** Path of the container runner script. */
  runner: string;
  /** The project's deno.json / deno.jsonc, when there is one. */
  config: string | undefined;
  /** Working directory of the container (the project folder). */
  workdir: string;
}

const CONFIG_NAMES = ["deno.json", "deno.jsonc"];

/** Where graflow's own files are (this file is `<root>/src/handlers/docker/code_mounts.ts`). */
function graflowRoot(taskId: string): string {
  const url = new URL("../../../", import.meta.url);
  if (url.protocol !== "file:") {
    throw setupError(
      taskId,
      `graflow is loaded from ${url.href}, not from local files, so its container runner cannot be mounted`,
    );
  }
  return fileURLToPath(url).replace(/\/+$/, "") || "/";
}

function setupError(taskId: string, why: string): WorkflowError {
  return new WorkflowError(`Cannot run task "${taskId}" in a container: ${why}`, {
    code: "CONTAINER_SETUP",
  });
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function inside(path: string, folder: string): boolean {
  return folder === "/" || path === folder || path.startsWith(folder + "/");
}

/**
 * The project folder of a module: the nearest folder above it that holds a `deno.json` or
 * `deno.jsonc`, else the module's folder.
 *
 * @param modulePath Absolute path of the module.
 * @returns The folder.
 */
export function projectFolder(modulePath: string): string {
  for (let dir = dirname(modulePath);; dir = dirname(dir)) {
    if (configIn(dir)) return dir;
    if (dir === dirname(dir)) return dirname(modulePath);
  }
}

/**
 * The `deno.json` or `deno.jsonc` of a folder, if it has one.
 *
 * @param folder The folder.
 * @returns The file's path, or `undefined`.
 */
export function configIn(folder: string): string | undefined {
  return CONFIG_NAMES.map((n) => `${folder === "/" ? "" : folder}/${n}`).find(isFile);
}

/**
 * Works out the mounts for running `task` in a container.
 *
 * @param task The task (its `module` must be a `file:` URL).
 * @param root The project folder chosen by the caller, if any.
 * @returns Folders to mount, the runner, the config file and the working directory.
 * @throws {WorkflowError} `CONTAINER_SETUP` when the module is unknown, not a local file, or
 * outside `root`.
 */
export function codeMounts(task: Task, root: string | undefined): CodeMounts {
  const own = graflowRoot(task.name);
  if (!task.module) {
    throw setupError(
      task.name,
      "the URL of its module is unknown (define it with { module: import.meta.url })",
    );
  }
  if (!task.module.startsWith("file:")) {
    throw setupError(task.name, `its module ${task.module} is not a file: URL`);
  }
  const modulePath = fileURLToPath(task.module);
  let project: string;
  if (root !== undefined) {
    if (!inside(modulePath, root)) {
      throw setupError(task.name, `its module ${modulePath} is not inside root ${root}`);
    }
    project = root;
  } else project = projectFolder(modulePath);
  const folders = inside(own, project) ? [project] : inside(project, own) ? [own] : [own, project];
  return {
    folders,
    runner: `${own === "/" ? "" : own}/workers/container_runner.ts`,
    config: configIn(project),
    workdir: project,
  };
}
