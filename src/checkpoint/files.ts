/**
 * Checkpoint files on disk: three files per checkpoint (`.state.json`, `.channel`,
 * `.meta.json`), each written atomically (temp file, fsync, rename, fsync of the folder), the
 * metadata last with SHA-256 checksums of the other two, so a torn checkpoint never loads.
 *
 * @module
 */
import { dirname } from "node:path";
import { CheckpointError } from "../errors.ts";
import type { CheckpointMetadata } from "../context/task_context.ts";
import type { ChannelSnapshot } from "../channels/channel.ts";
import { type CheckpointState, checkSchema, checkStateFile } from "./format.ts";

/** File name suffixes of a checkpoint with base path `B`. */
export const SUFFIXES = { state: ".state.json", meta: ".meta.json", channel: ".channel" } as const;

const encoder = new TextEncoder();

/**
 * SHA-256 of bytes, as hex.
 *
 * @param bytes The data.
 * @returns 64 hex digits.
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename.
 *
 * @param path Target file.
 * @param bytes Contents.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the renames are still atomic.
  }
}

/**
 * Normalises a checkpoint path: accepts the base path or any of its three file names.
 *
 * @param path A base path or file name.
 * @returns The base path.
 */
export function basePath(path: string): string {
  for (const suffix of Object.values(SUFFIXES)) {
    if (path.endsWith(suffix)) return path.slice(0, -suffix.length);
  }
  return path;
}

/** Everything written for one checkpoint. */
export interface CheckpointFiles {
  /** State file contents. */
  state: CheckpointState;
  /** Channel contents (or reference). */
  channel: ChannelSnapshot;
  /** Metadata without checksums (they are computed here). */
  meta: Omit<CheckpointMetadata, "checksum">;
}

/**
 * Writes a checkpoint: state and channel first, metadata (with their checksums) last.
 *
 * @param base Base path.
 * @param files Contents.
 * @returns The metadata written.
 */
export async function writeCheckpoint(
  base: string,
  files: CheckpointFiles,
): Promise<CheckpointMetadata> {
  await Deno.mkdir(dirname(base), { recursive: true });
  const stateBytes = encoder.encode(JSON.stringify(files.state));
  const channelBytes = encoder.encode(JSON.stringify(files.channel));
  const [stateSum, channelSum] = await Promise.all([
    sha256Hex(stateBytes),
    sha256Hex(channelBytes),
  ]);
  await Promise.all([
    writeFileAtomic(base + SUFFIXES.state, stateBytes),
    writeFileAtomic(base + SUFFIXES.channel, channelBytes),
  ]);
  const meta: CheckpointMetadata = {
    ...files.meta,
    checksum: { state: stateSum, channel: channelSum },
  };
  await writeFileAtomic(base + SUFFIXES.meta, encoder.encode(JSON.stringify(meta, null, 2)));
  await syncDir(dirname(base));
  return meta;
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CheckpointError(file, "the file is missing", error);
    }
    throw new CheckpointError(file, `cannot read the file: ${(error as Error).message}`, error);
  }
}

/** `verified`: the bytes matched their checksum, so they are what was written (valid UTF-8). */
function parseJson(bytes: Uint8Array, file: string, verified = false): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: !verified }).decode(bytes));
  } catch (error) {
    throw new CheckpointError(
      file,
      `the file is not valid JSON (truncated or corrupted): ${(error as Error).message}`,
      error,
    );
  }
}

/** A checkpoint read from disk and verified. */
export interface LoadedCheckpoint {
  /** Base path. */
  path: string;
  /** `.meta.json`. */
  metadata: CheckpointMetadata;
  /** `.state.json`. */
  state: CheckpointState;
  /** `.channel`. */
  channel: ChannelSnapshot;
}

/**
 * Reads and verifies a checkpoint: every file present, valid JSON, checksums matching,
 * schema not newer than this code.
 *
 * @param path Base path (or one of the three file names).
 * @returns The checkpoint.
 * @throws {CheckpointError} Naming the file and the reason.
 */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const base = basePath(path);
  const metaFile = base + SUFFIXES.meta;
  const meta = parseJson(await readBytes(metaFile), metaFile) as CheckpointMetadata;
  if (!meta || typeof meta !== "object") throw new CheckpointError(metaFile, "not a JSON object");
  checkSchema(meta.schemaVersion ?? (meta as { schemaVersion?: unknown }).schemaVersion, metaFile);
  if (!meta.checksum || typeof meta.checksum.state !== "string") {
    throw new CheckpointError(metaFile, "checksum is missing or malformed");
  }
  const stateFile = base + SUFFIXES.state;
  const channelFile = base + SUFFIXES.channel;
  const [stateBytes, channelBytes] = await Promise.all([
    readBytes(stateFile),
    readBytes(channelFile),
  ]);
  const [stateSum, channelSum] = await Promise.all([
    sha256Hex(stateBytes),
    sha256Hex(channelBytes),
  ]);
  if (stateSum !== meta.checksum.state) {
    throw new CheckpointError(
      stateFile,
      `checksum mismatch (the file was modified or only partly written): expected ${meta.checksum.state}, got ${stateSum}`,
    );
  }
  if (channelSum !== meta.checksum.channel) {
    throw new CheckpointError(
      channelFile,
      `checksum mismatch (the file was modified or only partly written): expected ${meta.checksum.channel}, got ${channelSum}`,
    );
  }
  const state = checkStateFile(parseJson(stateBytes, stateFile, true), stateFile);
  const channel = parseJson(channelBytes, channelFile, true) as ChannelSnapshot;
  if (!channel || typeof channel.kind !== "string") {
    throw new CheckpointError(channelFile, "channel kind is missing or malformed");
  }
  if (state.runId !== meta.runId) {
    throw new CheckpointError(
      stateFile,
      `run id "${state.runId}" does not match the metadata's "${meta.runId}"`,
    );
  }
  return { path: base, metadata: meta, state, channel };
}

/**
 * Removes the three files of a checkpoint (missing files are fine).
 *
 * @param base Base path.
 */
export async function removeCheckpoint(base: string): Promise<void> {
  await Promise.all(
    Object.values(SUFFIXES).map((s) => Deno.remove(base + s).catch(() => {})),
  );
}
