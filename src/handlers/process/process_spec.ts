/**
 * How a subprocess of the `ProcessPool` is started for a task: `deno run` with a heap limit,
 * Deno permission flags derived from the task's `permissions` option (never more than this
 * process has), the task's project configuration, and as main module a `data:` URL that imports
 * the runner first and the task's module second, so that both load as its static module graph
 * (with no read permission needed) and the runner is evaluated before any task code.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { WorkflowError } from "../../errors.ts";
import type { Task } from "../../graph/task.ts";
import { configIn, projectFolder } from "../docker/code_mounts.ts";
import { PERMISSION_KINDS, permissionKey, permissionsFromKey } from "../worker_permissions.ts";
import type { NormalizedProcessOptions } from "./process_options.ts";

/** What a subprocess is started with; processes with equal keys are interchangeable. */
export interface ProcessSpec {
  /** Pool key: permission flags, module and configuration. */
  key: string;
  /** Arguments of `deno`. */
  args: string[];
}

/** URL of the runner module. */
const RUNNER_URL = new URL("../../../workers/process_runner.ts", import.meta.url).href;

/** The descriptor field that names one item of each permission kind. */
const ITEM_FIELD: Record<string, string> = {
  read: "path",
  write: "path",
  ffi: "path",
  net: "host",
  import: "host",
  env: "variable",
  run: "command",
  sys: "kind",
};

function setupError(task: Task, why: string): WorkflowError {
  return new WorkflowError(`Cannot run task "${task.name}" in a subprocess: ${why}`, {
    code: "PROCESS_START_FAILED",
  });
}

function hostHas(kind: string, item?: string): boolean {
  const descriptor = item === undefined ? { name: kind } : { name: kind, [ITEM_FIELD[kind]]: item };
  try {
    return Deno.permissions.querySync(descriptor as Deno.PermissionDescriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The `--allow-*` / `--deny-import` flags for a task's `permissions` option. `"inherit"` (for the
 * whole set or one kind) passes on what this process holds for the whole kind (a grant limited to
 * some paths or hosts is not passed on: list them explicitly); `true` and lists must be held by
 * this process.
 *
 * @param task The task.
 * @returns The flags.
 * @throws {TypeError} When the option is malformed or a list item holds a comma.
 * @throws {WorkflowError} `PROCESS_START_FAILED` when it asks for more than this process has.
 */
export function permissionFlags(task: Task): string[] {
  const key = permissionKey(task.name, task.options.permissions, "a subprocess");
  const set = permissionsFromKey(key);
  const flags: string[] = [];
  for (const kind of PERMISSION_KINDS) {
    const want = set === undefined
      ? "inherit"
      : set === "none"
      ? false
      : (set as Record<string, unknown>)[kind] ?? false;
    if (want === "inherit") {
      if (hostHas(kind)) flags.push(`--allow-${kind}`);
    } else if (want === true) {
      if (!hostHas(kind)) {
        throw setupError(task, `it asks for ${kind} permission, which this process does not have`);
      }
      flags.push(`--allow-${kind}`);
    } else if (Array.isArray(want) && want.length > 0) {
      for (const item of want as string[]) {
        if (item.includes(",")) {
          throw new TypeError(
            `Cannot run task "${task.name}" in a subprocess: permission "${kind}" item ${
              JSON.stringify(item)
            } holds a comma`,
          );
        }
        if (!hostHas(kind, item)) {
          throw setupError(
            task,
            `it asks for ${kind} permission for ${
              JSON.stringify(item)
            }, which this process does not have`,
          );
        }
      }
      flags.push(`--allow-${kind}=${want.join(",")}`);
    }
  }
  // Without import permission, not even Deno's default hosts may be imported from.
  if (!flags.some((f) => f === "--allow-import" || f.startsWith("--allow-import="))) {
    flags.push("--deny-import");
  }
  return flags;
}

/**
 * How to start a subprocess for `task`.
 *
 * @param task The task; its `module` must be known.
 * @param options The pool's options.
 * @returns The spec.
 * @throws {WorkflowError} `PROCESS_START_FAILED` when the module is unknown or the task asks for
 * permissions this process does not have.
 * @throws {TypeError} When its `permissions` option is malformed.
 */
export function processSpec(task: Task, options: NormalizedProcessOptions): ProcessSpec {
  if (!task.module) {
    throw setupError(
      task,
      "the URL of its module is unknown (define it with { module: import.meta.url })",
    );
  }
  const perms = permissionFlags(task);
  const config: string[] = ["--no-config", "--no-lock"];
  if (task.module.startsWith("file:")) {
    const file = configIn(projectFolder(fileURLToPath(task.module)));
    if (file) {
      const lock = file.replace(/deno\.jsonc?$/, "deno.lock");
      config.splice(0, 2, "--config", file, ...(isFile(lock) ? ["--frozen"] : ["--no-lock"]));
    }
  }
  const source = `import { serveProcess } from ${JSON.stringify(RUNNER_URL)};\n` +
    `import ${JSON.stringify(task.module)};\n` +
    "await serveProcess();\n";
  const args = [
    "run",
    "--no-prompt",
    "--cached-only",
    ...config,
    `--v8-flags=--max-old-space-size=${options.maxHeapMb}`,
    ...perms,
    `data:application/javascript,${encodeURIComponent(source)}`,
  ];
  return { key: args.join("\u0000"), args };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
