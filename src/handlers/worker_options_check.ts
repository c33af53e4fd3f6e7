/**
 * Whether Deno's unstable `worker-options` feature is on, checked before the pool starts a Web
 * Worker with its own permissions (`task(..., { permissions })`).
 *
 * Without the feature, Deno ends the whole process (exit code 70) the moment such a worker is
 * created, with "Unstable API 'Worker.deno.permissions'"; no `try` can catch it. Deno does not
 * say whether the feature is on, so this looks where it can be turned on: the process's command
 * line (`--unstable-worker-options`, Linux `/proc/self/cmdline`) and the `deno.json`/`deno.jsonc`
 * files Deno may have used (`--config`, the folders of the main module and of the working
 * directory, up to the root). It answers "off" only when it could read all of them and none
 * turns the feature on; whenever it cannot tell (no `/proc`, no read permission, a compiled
 * binary) it answers "unknown" and the worker is started as before.
 *
 * @module
 */

/** `true` on, `false` off, `undefined` cannot tell. */
export type FeatureState = boolean | undefined;

const CONFIG_NAMES = ["deno.json", "deno.jsonc"];
const ENABLES = /"unstable"\s*:\s*\[[^\]]*"worker-options"/;

let cached: { state: FeatureState; config?: string } | undefined;

function canRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

/** Reads a file; `null` when missing, `undefined` when it cannot tell. */
function read(path: string): string | null | undefined {
  if (!canRead(path)) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? null : undefined;
  }
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir.replace(/\/+$/, "") || "/";; d = d.slice(0, d.lastIndexOf("/")) || "/") {
    out.push(d);
    if (d === "/") return out;
  }
}

/**
 * Looks for the feature (see the module documentation); the answer is kept for the process.
 *
 * @returns The state, and the nearest config file seen (for the message).
 */
export function workerOptionsFeature(): { state: FeatureState; config?: string } {
  if (!cached) {
    try {
      cached = detect();
    } catch {
      // e.g. Deno.cwd() without read permission: cannot tell.
      cached = { state: undefined };
    }
  }
  return cached;
}

function detect(): { state: FeatureState; config?: string } {
  if (Deno.build.standalone || Deno.build.os !== "linux") return { state: undefined };
  const cmdline = read("/proc/self/cmdline");
  if (!cmdline) return { state: undefined };
  const args = cmdline.split("\0");
  if (args.some((a) => a === "--unstable" || a.startsWith("--unstable-worker-options"))) {
    return { state: true };
  }
  const cwd = Deno.cwd();
  const files: string[] = [];
  args.forEach((a, i) => {
    const given = a.startsWith("--config=")
      ? a.slice(9)
      : (a === "--config" || a === "-c")
      ? args[i + 1]
      : undefined;
    if (given) files.push(given.startsWith("/") ? given : `${cwd}/${given}`);
  });
  const dirs = ancestors(cwd);
  if (Deno.mainModule.startsWith("file:")) {
    const main = decodeURIComponent(new URL(Deno.mainModule).pathname);
    dirs.unshift(...ancestors(main.slice(0, main.lastIndexOf("/")) || "/"));
  }
  for (const d of dirs) for (const n of CONFIG_NAMES) files.push(`${d === "/" ? "" : d}/${n}`);
  let nearest: string | undefined;
  for (const file of files) {
    const text = read(file);
    if (text === undefined) return { state: undefined };
    if (text === null) continue;
    nearest ??= file;
    if (ENABLES.test(text)) return { state: true, config: file };
  }
  return { state: false, config: nearest };
}

/**
 * The reason a permission-restricted Web Worker cannot start, or `undefined` when it can (or
 * when this cannot tell).
 *
 * @returns A sentence for `Cannot start Web Worker: …`.
 */
export function workerOptionsProblem(): string | undefined {
  const { state, config } = workerOptionsFeature();
  if (state !== false) return undefined;
  return `a task with its own permissions needs Deno's unstable worker-options feature, which ` +
    `is off in this process (Deno would end the process): add "unstable": ["worker-options"] ` +
    `to ${config ? `your deno.json (${config})` : "a deno.json next to your main module"}, or ` +
    `run deno with --unstable-worker-options`;
}
