/**
 * Checkpoint files on disk: three files per checkpoint (`.state.json`, `.channel`,
 * `.meta.json`); the metadata holds SHA-256 checksums of the other two (and, with a secret, an
 * HMAC over itself), so a torn or tampered checkpoint never loads. Writing over an existing
 * checkpoint is atomic as a whole, through a commit record (see {@linkcode writeCheckpoint}).
 *
 * @module
 */
import { dirname } from "node:path";
import { CheckpointError } from "../errors.ts";
import type { CheckpointMetadata } from "../context/task_context.ts";
import type { ChannelSnapshot } from "../channels/channel.ts";
import { type CheckpointState, checkSchema, checkStateFile } from "./format.ts";
import { hmacKey, sign, verifySignature } from "./signature.ts";

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

/** Options of {@linkcode writeCheckpoint} and {@linkcode readCheckpoint}. */
export interface CheckpointFileOptions {
  /**
   * Signs the metadata (which holds the checksums of the other two files) with HMAC-SHA-256 when
   * writing; when reading, refuses checkpoints that are unsigned or whose signature does not
   * match. @default {undefined} (neither signed nor checked)
   */
  secret?: string | Uint8Array;
}

/**
 * Writes a checkpoint, replacing the one at `base` (if any) as a whole: a process killed at any
 * instant leaves the old or the new checkpoint loadable, never neither.
 *
 * State and channel go to temp files (`B.state.json.tmp`, `B.channel.tmp`, fsynced); then the
 * commit record `B.commit` (the new metadata) is written atomically: that is the commit point.
 * The temp files are then renamed over the targets, the metadata is written, and the commit
 * record is removed. {@linkcode readCheckpoint} honours a commit record it finds (reading the
 * temp files or the targets, whichever match the checksums in it), and the next write completes
 * an interrupted one first and removes stale temp files (their names are fixed per base path,
 * so they never pile up). Writes to one base path are serialized within a process; two
 * processes must not write the same base path at once.
 *
 * @param base Base path.
 * @param files Contents.
 * @param options A secret to sign the metadata with.
 * @returns The metadata written.
 * @throws {TypeError} When the secret is empty.
 */
export async function writeCheckpoint(
  base: string,
  files: CheckpointFiles,
  options: CheckpointFileOptions = {},
): Promise<CheckpointMetadata> {
  const key = options.secret === undefined ? undefined : await hmacKey(options.secret);
  const previous = writing.get(base) ?? Promise.resolve();
  const done = previous.catch(() => {}).then(() => writeNow(base, files, key));
  const tail = done.catch(() => {});
  writing.set(base, tail);
  tail.then(() => {
    if (writing.get(base) === tail) writing.delete(base);
  });
  return await done;
}

/** The write in progress per base path (writes to one base path run one after another). */
const writing = new Map<string, Promise<unknown>>();

async function writeNow(
  base: string,
  files: CheckpointFiles,
  key: CryptoKey | undefined,
): Promise<CheckpointMetadata> {
  await Deno.mkdir(dirname(base), { recursive: true });
  await rollForward(base);
  await removeTemps(base);
  const stateBytes = encoder.encode(JSON.stringify(files.state));
  const channelBytes = encoder.encode(JSON.stringify(files.channel));
  const [stateSum, channelSum] = await Promise.all([
    sha256Hex(stateBytes),
    sha256Hex(channelBytes),
  ]);
  await Promise.all([
    writeSynced(base + SUFFIXES.state + TMP, stateBytes),
    writeSynced(base + SUFFIXES.channel + TMP, channelBytes),
  ]);
  const meta: CheckpointMetadata = {
    ...files.meta,
    checksum: { state: stateSum, channel: channelSum },
  };
  const stored: Record<string, unknown> = key
    ? { ...meta, hmac: await sign(key, meta) }
    : { ...meta };
  const record: CommitRecord = { commit: 1, meta: stored };
  await replaceSynced(base + COMMIT, encoder.encode(JSON.stringify(record)));
  await syncDir(dirname(base)); // the commit point
  await completeCommit(base, stored);
  return meta;
}

/** Suffix of the commit record of an overwrite in progress. */
export const COMMIT = ".commit";
/** Suffix of a checkpoint file's temp file (one fixed name per file: temps never pile up). */
const TMP = ".tmp";

/** What `B.commit` holds: the metadata of the checkpoint being put in place. */
interface CommitRecord {
  commit: 1;
  meta: Record<string, unknown>;
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o644 });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
}

/** Writes `path` atomically through its fixed temp file. */
async function replaceSynced(path: string, bytes: Uint8Array): Promise<void> {
  await writeSynced(path + TMP, bytes);
  await Deno.rename(path + TMP, path);
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Puts a committed checkpoint in place: temps over targets, then metadata, then no record. */
async function completeCommit(base: string, meta: Record<string, unknown>): Promise<void> {
  for (const suffix of [SUFFIXES.state, SUFFIXES.channel]) {
    // Missing: renamed already by the interrupted write.
    await ignoreMissing(Deno.rename(base + suffix + TMP, base + suffix));
  }
  await replaceSynced(base + SUFFIXES.meta, encoder.encode(JSON.stringify(meta, null, 2)));
  await syncDir(dirname(base));
  await ignoreMissing(Deno.remove(base + COMMIT));
}

/** Completes an overwrite that a killed process committed but did not finish. */
async function rollForward(base: string): Promise<void> {
  let record: CommitRecord | undefined;
  try {
    record = parseCommit(await Deno.readFile(base + COMMIT));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    record = undefined;
  }
  // A record we did not write (it is only ever replaced atomically) is not followed.
  if (!record) return await ignoreMissing(Deno.remove(base + COMMIT));
  await completeCommit(base, record.meta);
}

/** Removes the temp files a killed process left before its commit point. */
async function removeTemps(base: string): Promise<void> {
  await Promise.all(
    [...Object.values(SUFFIXES), COMMIT].map((s) => ignoreMissing(Deno.remove(base + s + TMP))),
  );
}

function parseCommit(bytes: Uint8Array): CommitRecord | undefined {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    const ok = typeof v === "object" && v !== null && v.commit === 1 &&
      typeof v.meta === "object" && v.meta !== null && !Array.isArray(v.meta);
    return ok ? v : undefined;
  } catch {
    return undefined;
  }
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
 * schema not newer than this code; with a secret, the metadata's signature too. A commit record
 * left by an overwrite in progress (or by a process killed during one) is honoured: the new
 * checkpoint is read from the temp files or the targets, whichever match its checksums. Needs
 * no write access. An overwrite finishing while this reads is retried.
 *
 * @param path Base path (or one of the three file names).
 * @param options A secret to check the signature with.
 * @returns The checkpoint.
 * @throws {CheckpointError} Naming the file and the reason.
 * @throws {TypeError} When the secret is empty.
 */
export async function readCheckpoint(
  path: string,
  options: CheckpointFileOptions = {},
): Promise<LoadedCheckpoint> {
  const base = basePath(path);
  const key = options.secret === undefined ? undefined : await hmacKey(options.secret);
  for (let attempt = 1;; attempt++) {
    try {
      return await readOnce(base, key);
    } catch (error) {
      // An overwrite may have replaced files between our reads: look again, a few times.
      if (attempt >= 4 || !(error instanceof CheckpointError) || !isRaceLike(error)) throw error;
      await new Promise((r) => setTimeout(r, 10 * attempt));
    }
  }
}

function isRaceLike(error: CheckpointError): boolean {
  return /checksum mismatch|the file is missing|does not match the metadata/.test(error.message);
}

async function readOnce(base: string, key: CryptoKey | undefined): Promise<LoadedCheckpoint> {
  const metaFile = base + SUFFIXES.meta;
  const commitFile = base + COMMIT;
  let committed: Uint8Array | undefined;
  try {
    committed = await Deno.readFile(commitFile);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new CheckpointError(commitFile, `cannot read the file: ${(error as Error).message}`);
    }
  }
  let meta: CheckpointMetadata & { hmac?: unknown };
  let from: string;
  if (committed) {
    const record = parseCommit(committed);
    if (!record) throw new CheckpointError(commitFile, "the commit record is malformed");
    meta = record.meta as unknown as CheckpointMetadata;
    from = commitFile;
  } else {
    meta = parseJson(await readBytes(metaFile), metaFile) as CheckpointMetadata;
    from = metaFile;
  }
  if (!meta || typeof meta !== "object") throw new CheckpointError(from, "not a JSON object");
  if (key) await verifySignature(key, meta as unknown as Record<string, unknown>, from);
  checkSchema(meta.schemaVersion ?? (meta as { schema_version?: unknown }).schema_version, from);
  if (!meta.checksum || typeof meta.checksum.state !== "string") {
    throw new CheckpointError(from, "checksum is missing or malformed");
  }
  const stateFile = base + SUFFIXES.state;
  const channelFile = base + SUFFIXES.channel;
  const [stateBytes, channelBytes] = await Promise.all([
    readVerified(stateFile, meta.checksum.state, !!committed),
    readVerified(channelFile, meta.checksum.channel, !!committed),
  ]);
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
  const { hmac: _, ...metadata } = meta;
  return { path: base, metadata, state, channel };
}

/**
 * A checkpoint file whose SHA-256 is `expected`; during a commit, its temp file when that one
 * matches (it has not been renamed over the target yet).
 */
async function readVerified(
  file: string,
  expected: string,
  committed: boolean,
): Promise<Uint8Array> {
  if (committed) {
    try {
      const temp = await Deno.readFile(file + TMP);
      if (await sha256Hex(temp) === expected) return temp;
    } catch {
      // renamed already: the target holds it
    }
  }
  const bytes = await readBytes(file);
  const sum = await sha256Hex(bytes);
  if (sum !== expected) {
    throw new CheckpointError(
      file,
      `checksum mismatch (the file was modified or only partly written): expected ${expected}, got ${sum}`,
    );
  }
  return bytes;
}

/**
 * Removes the three files of a checkpoint, its commit record and temp files (missing files are
 * fine).
 *
 * @param base Base path.
 */
export async function removeCheckpoint(base: string): Promise<void> {
  await Promise.all(
    [...Object.values(SUFFIXES), COMMIT].flatMap((s) => [base + s, base + s + TMP])
      .map((file) => Deno.remove(file).catch(() => {})),
  );
}
