/**
 * Options of the Docker handler, their defaults and their validation.
 *
 * @module
 */
import type { OutputStream } from "./container_output.ts";

/** When the handler pulls its image. */
export type PullPolicy = "never" | "missing" | "always";

/** An extra bind mount. */
export interface DockerMount {
  /** Absolute path on the host. */
  source: string;
  /** Absolute path in the container. */
  target: string;
  /** Mount read-only. @default {true} */
  readOnly?: boolean;
}

/** A line the task printed in its container, for {@linkcode DockerHandlerOptions.onOutput}. */
export interface ContainerOutputLine {
  /** The task. */
  taskId: string;
  /** The run. */
  runId: string;
  /** `stdout` or `stderr`. */
  stream: OutputStream;
  /** The line, without its `\n`. */
  line: string;
}

/** Options of `dockerHandler()`. */
export interface DockerHandlerOptions {
  /** Image to run; it must provide `deno` on its `PATH` (e.g. `localhost/graflow-deno:latest`). */
  image: string;
  /** Extra environment variables of the container. @default {{}} */
  env?: Record<string, string>;
  /** Extra bind mounts (read-only unless `readOnly: false`). @default {[]} */
  mounts?: DockerMount[];
  /** Network mode (`"none"`, `"bridge"`, `"host"` or a network name). @default {"none"} */
  network?: string;
  /** Memory limit in bytes, or a string like `"256m"` / `"1g"` (swap disabled). @default {undefined} (no limit) */
  memory?: number | string;
  /** CPU limit in cores, e.g. `0.5`. @default {undefined} (no limit) */
  cpus?: number;
  /** User (and group) the task runs as, `"uid:gid"` or a name. @default {"65534:65534"} (nobody) */
  user?: string;
  /** When to pull the image: `"never"`, `"missing"`, or `"always"` (once per handler). @default {"missing"} */
  pull?: PullPolicy;
  /**
   * Wall-clock limit per container; the container is killed when it is reached. Any finite value
   * is honoured (past 2^31−1 ms the timer is chained); `Infinity`, NaN and values <= 0 are a
   * `RangeError`. @default {undefined} (none)
   */
  timeoutMs?: number;
  /**
   * Unix socket of the Docker API (Docker or `podman system service`). @default {`DOCKER_HOST` when
   * set, else the first of /var/run/docker.sock, /run/podman/podman.sock and
   * $XDG_RUNTIME_DIR/podman/podman.sock that exists}
   */
  socketPath?: string;
  /** Largest message (result, error or call) accepted from a container, in bytes. @default {16777216} (16 MiB) */
  maxOutputBytes?: number;
  /**
   * Host folder mounted read-only (at the same path) so that the task's module and its relative
   * imports resolve. It must contain the module. @default {the nearest folder above the module
   * that holds a deno.json or deno.jsonc, else the module's folder}
   */
  root?: string | URL;
  /** Make the container's root file system read-only (`/tmp` is a private tmpfs). @default {true} */
  readOnlyRootfs?: boolean;
  /** Receives each line the task prints in its container. @default {undefined} */
  onOutput?: (line: ContainerOutputLine) => void;
}

/** Options after validation and defaults. */
export interface NormalizedDockerOptions {
  image: string;
  env: [string, string][];
  mounts: Required<DockerMount>[];
  network: string;
  memory: number | undefined;
  nanoCpus: number | undefined;
  user: string;
  pull: PullPolicy;
  timeoutMs: number | undefined;
  socketPath: string | undefined;
  maxOutputBytes: number;
  root: string | undefined;
  readOnlyRootfs: boolean;
  onOutput: ((line: ContainerOutputLine) => void) | undefined;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MIN_MEMORY = 6 * 2 ** 20;

function fail(what: string, got: unknown): never {
  throw new TypeError(`Cannot create docker handler: ${what}, got ${JSON.stringify(got)}`);
}

function range(what: string, got: unknown): never {
  const text = typeof got === "number" ? String(got) : JSON.stringify(got);
  throw new RangeError(`Cannot create docker handler: ${what}, got ${text}`);
}

/**
 * Parses a memory size: bytes, or a number with a `b`, `k`, `m` or `g` suffix (powers of 1024).
 *
 * @param value The size.
 * @returns Bytes.
 * @throws {TypeError} When it is not a size.
 * @throws {RangeError} When it is below 6 MiB (the smallest limit container engines accept).
 */
export function parseMemory(value: number | string): number {
  let bytes: number;
  if (typeof value === "number") bytes = value;
  else {
    const m = typeof value === "string"
      ? value.trim().toLowerCase().match(/^(\d+(?:\.\d+)?)([bkmg]?)$/)
      : null;
    if (!m) fail('memory must be a number of bytes or a size like "256m"', value);
    bytes = Math.floor(Number(m[1]) * UNITS[m[2]]);
  }
  if (!Number.isFinite(bytes) || !(bytes >= MIN_MEMORY)) {
    range(`memory must be at least ${MIN_MEMORY} bytes (6 MiB)`, value);
  }
  return Math.floor(bytes);
}

function absolute(path: unknown, what: string): string {
  if (typeof path !== "string" || !path.startsWith("/") || /[:,\n]/.test(path)) {
    fail(`${what} must be an absolute path without ":" or ","`, path);
  }
  return path;
}

/**
 * Validates options and fills in defaults.
 *
 * @param options What the caller passed.
 * @returns The normalised options.
 * @throws {TypeError} When an option has the wrong type or form.
 * @throws {RangeError} When a number is out of range.
 */
export function normalizeDockerOptions(options: DockerHandlerOptions): NormalizedDockerOptions {
  if (!options || typeof options !== "object") fail("options must be an object", options);
  const o = options;
  if (typeof o.image !== "string" || !o.image.trim()) {
    fail("image must be a non-empty string", o.image);
  }
  const env = Object.entries(o.env ?? {});
  for (const [k, v] of env) {
    if (!ENV_NAME.test(k)) fail("env names must match [A-Za-z_][A-Za-z0-9_]*", k);
    if (typeof v !== "string") fail(`env.${k} must be a string`, v);
  }
  if (!Array.isArray(o.mounts ?? [])) fail("mounts must be an array", o.mounts);
  const mounts = (o.mounts ?? []).map((m, i) => ({
    source: absolute(m?.source, `mounts[${i}].source`),
    target: absolute(m?.target, `mounts[${i}].target`),
    readOnly: m.readOnly ?? true,
  }));
  const network = o.network ?? "none";
  if (typeof network !== "string" || !network) fail("network must be a non-empty string", network);
  if (o.cpus !== undefined && !(typeof o.cpus === "number" && o.cpus > 0 && o.cpus <= 1024)) {
    range("cpus must be a number of cores above 0", o.cpus);
  }
  const user = o.user ?? "65534:65534";
  if (typeof user !== "string" || !user) fail("user must be a non-empty string", user);
  const pull = o.pull ?? "missing";
  if (!["never", "missing", "always"].includes(pull)) {
    fail('pull must be "never", "missing" or "always"', pull);
  }
  if (
    o.timeoutMs !== undefined &&
    !(typeof o.timeoutMs === "number" && Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)
  ) {
    // Any finite value is honoured (long timers are chained); Infinity means "omit it".
    range("timeoutMs must be a positive number (finite; omit it for no limit)", o.timeoutMs);
  }
  if (o.socketPath !== undefined) absolute(o.socketPath, "socketPath");
  const maxOutputBytes = o.maxOutputBytes ?? 16 * 2 ** 20;
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 1024) {
    range("maxOutputBytes must be a whole number >= 1024", o.maxOutputBytes);
  }
  let root: string | undefined;
  if (o.root !== undefined) {
    const url = o.root instanceof URL
      ? o.root
      : o.root.startsWith("file:")
      ? new URL(o.root)
      : null;
    root = absolute(url ? decodeURIComponent(url.pathname) : o.root, "root").replace(/\/+$/, "");
  }
  if (o.onOutput !== undefined && typeof o.onOutput !== "function") {
    fail("onOutput must be a function", typeof o.onOutput);
  }
  return {
    image: o.image,
    env,
    mounts,
    network,
    memory: o.memory === undefined ? undefined : parseMemory(o.memory),
    nanoCpus: o.cpus === undefined ? undefined : Math.round(o.cpus * 1e9),
    user,
    pull,
    timeoutMs: o.timeoutMs,
    socketPath: o.socketPath,
    maxOutputBytes,
    root: root || (o.root !== undefined ? "/" : undefined),
    readOnlyRootfs: o.readOnlyRootfs ?? true,
    onOutput: o.onOutput,
  };
}
