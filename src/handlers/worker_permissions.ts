/**
 * Validation and identity of the Deno permission sets that Web Workers run tasks with.
 *
 * @module
 */
import type { WorkerPermissions } from "../graph/task.ts";

/** The kinds of Deno permissions. */
export const PERMISSION_KINDS: ReadonlySet<string> = new Set([
  "env",
  "net",
  "ffi",
  "read",
  "run",
  "sys",
  "write",
  "import",
]);
const KINDS = PERMISSION_KINDS;

/**
 * Checks a task's `permissions` option and returns a key that is equal for equal sets
 * (workers are pooled per key).
 *
 * @param taskName The task (for messages).
 * @param permissions The option. @default {"inherit"}
 * @param executor Where the task runs, for messages. @default {"a Web Worker"}
 * @returns `"inherit"`, `"none"` or a canonical JSON text of the set.
 * @throws {TypeError} When the value is not a Deno worker permission descriptor.
 */
export function permissionKey(
  taskName: string,
  permissions: unknown,
  executor = "a Web Worker",
): string {
  if (permissions === undefined || permissions === "inherit") return "inherit";
  if (permissions === "none") return "none";
  const where = `Cannot run task "${taskName}" in ${executor}`;
  if (typeof permissions !== "object" || permissions === null || Array.isArray(permissions)) {
    throw new TypeError(
      `${where}: permissions must be "inherit", "none" or an object, got ${
        JSON.stringify(permissions) ?? typeof permissions
      }`,
    );
  }
  const canonical: Record<string, unknown> = {};
  for (const name of Object.keys(permissions).sort()) {
    const value = (permissions as Record<string, unknown>)[name];
    if (!KINDS.has(name)) {
      throw new TypeError(
        `${where}: unknown permission "${name}" (known: ${[...KINDS].join(", ")})`,
      );
    }
    if (value === undefined) continue;
    if (typeof value === "boolean" || value === "inherit") canonical[name] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
      canonical[name] = [...new Set(value)].sort();
    } else {
      throw new TypeError(
        `${where}: permission "${name}" must be "inherit", a boolean or a list of strings, got ${
          JSON.stringify(value) ?? typeof value
        }`,
      );
    }
  }
  return JSON.stringify(canonical);
}

/**
 * The `deno.permissions` option for `new Worker` from a key made by {@linkcode permissionKey}.
 *
 * @param key The key.
 * @returns The permissions, or `undefined` for `"inherit"` (the option is then left out, which
 * needs no unstable flag).
 */
export function permissionsFromKey(key: string): WorkerPermissions | undefined {
  if (key === "inherit") return undefined;
  if (key === "none") return "none";
  return JSON.parse(key) as WorkerPermissions;
}
