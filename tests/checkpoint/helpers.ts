/**
 * Shared helpers of the checkpoint tests: temp folders that remove themselves, reading and
 * tampering with checkpoint files, child processes.
 *
 * @module
 */
import assert from "assert";
import { CheckpointError, type CheckpointMetadata, loadCheckpoint } from "../../mod.ts";

/** A temp folder removed by `await using`. */
export interface TempDir extends AsyncDisposable {
  /** Its path. */
  path: string;
}

/**
 * Creates a temp folder that `await using` removes.
 *
 * @returns The folder.
 */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "graflow_cp_" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * SHA-256 of bytes as hex (as `.meta.json` stores it).
 *
 * @param bytes The data.
 * @returns 64 hex digits.
 */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads a JSON file.
 *
 * @param file The file.
 * @returns Its parsed contents.
 */
export async function readJson<T = Record<string, unknown>>(file: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(file)) as T;
}

/**
 * Rewrites one file of a checkpoint and, when `fixChecksum`, updates `.meta.json` to match, so
 * only the content check (not the checksum) can refuse it.
 *
 * @param base Base path.
 * @param part Which file.
 * @param edit Receives the parsed JSON, returns the new JSON.
 * @param fixChecksum Recompute the checksum in `.meta.json`.
 */
export async function tamper(
  base: string,
  part: "state" | "channel",
  edit: (json: Record<string, unknown>) => unknown,
  fixChecksum: boolean,
): Promise<void> {
  const file = base + (part === "state" ? ".state.json" : ".channel");
  const bytes = new TextEncoder().encode(JSON.stringify(edit(await readJson(file))));
  await Deno.writeFile(file, bytes);
  if (fixChecksum) {
    const meta = await readJson<CheckpointMetadata>(base + ".meta.json");
    meta.checksum[part] = await sha256(bytes);
    await Deno.writeTextFile(base + ".meta.json", JSON.stringify(meta));
  }
}

/**
 * Asserts that `promise` rejects with a `CheckpointError` for `file` whose message matches.
 *
 * @param promise What should fail.
 * @param file The file the error must name.
 * @param reason Pattern of the reason.
 * @returns The error.
 */
export async function assertCheckpointError(
  promise: Promise<unknown>,
  file: string,
  reason: RegExp,
): Promise<CheckpointError> {
  const error = await promise.then(
    () => assert.fail(`expected a CheckpointError for ${file}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof CheckpointError, `not a CheckpointError: ${error}`);
  assert.equal(error.code, "CHECKPOINT_INVALID");
  assert.equal(error.path, file);
  assert.ok(error.message.includes(`"${file}"`), `message does not name ${file}: ${error.message}`);
  assert.match(error.message, reason);
  return error;
}

/**
 * The checkpoints (base paths) in a run's folder, oldest first by step count.
 *
 * @param dir The checkpoint directory.
 * @param runId The run.
 * @returns Base paths.
 */
export async function checkpointsIn(dir: string, runId: string): Promise<string[]> {
  const found: { base: string; steps: number }[] = [];
  for await (const e of Deno.readDir(`${dir}/${runId}`)) {
    if (!e.name.endsWith(".meta.json")) continue;
    const base = `${dir}/${runId}/${e.name.slice(0, -".meta.json".length)}`;
    found.push({ base, steps: (await readJson<CheckpointMetadata>(base + ".meta.json")).steps });
  }
  return found.sort((a, b) => a.steps - b.steps).map((f) => f.base);
}

/**
 * Files of a folder (names only, sorted).
 *
 * @param dir The folder.
 * @returns Names.
 */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** Resolves after `ms`. */
export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Outcome of a child `deno run`. */
export interface ChildOutput {
  /** Exit code. */
  code: number;
  /** Stdout text. */
  stdout: string;
  /** Stderr text. */
  stderr: string;
}

/**
 * Runs `deno run -A --quiet <script> ...args` to the end.
 *
 * @param script Script path or URL.
 * @param args Its arguments.
 * @returns Exit code and output.
 */
export async function denoRun(script: string | URL, args: string[] = []): Promise<ChildOutput> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", String(script), ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

/** What {@linkcode runAndKill} saw. */
export interface KilledChild {
  /** Stdout lines read before the child died. */
  lines: string[];
  /** How it ended. */
  status: Deno.CommandStatus;
}

/**
 * Runs `deno run -A --quiet <script> ...args` and SIGKILLs it as soon as `killWhen` returns true
 * for the stdout lines read so far.
 *
 * @param script Script path or URL.
 * @param args Its arguments.
 * @param killWhen Decides, after each stdout line, whether to kill now.
 * @returns The lines read and the exit status.
 */
export async function runAndKill(
  script: string | URL,
  args: string[],
  killWhen: (lines: string[]) => boolean,
): Promise<KilledChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", String(script), ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  let killed = false;
  let rest = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    const parts = rest.split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (!killed && killWhen(lines)) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
  }
  return { lines, status: await child.status };
}

/**
 * The newest checkpoint of a run that loads, skipping any a crash left unusable.
 *
 * @param dir The checkpoint directory.
 * @param runId The run.
 * @returns Its base path and how many newer ones were skipped.
 */
export async function latestValid(
  dir: string,
  runId: string,
): Promise<{ path: string; skipped: number }> {
  const found: { base: string; steps: number }[] = [];
  for await (const e of Deno.readDir(`${dir}/${runId}`)) {
    const m = e.name.match(/^step_(\d+)\.state\.json$/);
    if (m) found.push({ base: `${dir}/${runId}/step_${m[1]}`, steps: Number(m[1]) });
  }
  found.sort((a, b) => b.steps - a.steps);
  let skipped = 0;
  for (const { base } of found) {
    try {
      await loadCheckpoint(base);
      return { path: base, skipped };
    } catch {
      skipped++;
    }
  }
  throw new Error(`no valid checkpoint of run ${runId} in ${dir}`);
}

/**
 * The `result <json>` line of a child's output, parsed.
 *
 * @param stdout The output.
 * @returns The parsed JSON.
 */
export function resultLine<T = { status: string; results: Record<string, unknown> }>(
  stdout: string,
): T {
  const line = stdout.split("\n").find((l) => l.startsWith("result "));
  assert.ok(line, `no "result" line in:\n${stdout}`);
  return JSON.parse(line.slice("result ".length)) as T;
}
