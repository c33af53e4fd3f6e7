/**
 * HMAC-SHA-256 signatures of checkpoint metadata: with a secret, `B.meta.json` (and the commit
 * record) carry an `hmac` field over the rest of the metadata, which holds the SHA-256 of the
 * state and channel files, so the signature covers the whole checkpoint.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";

const encoder = new TextEncoder();

/**
 * Imports a secret as an HMAC-SHA-256 key.
 *
 * @param secret The secret (UTF-8 text or bytes).
 * @returns The key.
 * @throws {TypeError} When the secret is empty or not a string or bytes.
 */
export async function hmacKey(secret: string | Uint8Array): Promise<CryptoKey> {
  const bytes = typeof secret === "string" ? encoder.encode(secret) : secret;
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new TypeError("Cannot use the checkpoint secret: it must be a non-empty string or bytes");
  }
  return await crypto.subtle.importKey(
    "raw",
    bytes as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** The signed bytes: the metadata's JSON without its `hmac` field. */
function signedBytes(meta: Record<string, unknown>): Uint8Array {
  const { hmac: _, ...rest } = meta;
  return encoder.encode(JSON.stringify(rest));
}

/**
 * Signs metadata.
 *
 * @param key The key.
 * @param meta The metadata (an `hmac` field in it is left out).
 * @returns The signature, 64 hex digits.
 */
export async function sign(key: CryptoKey, meta: object): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    signedBytes(meta as Record<string, unknown>) as BufferSource,
  );
  return toHex(new Uint8Array(mac));
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Checks the `hmac` field of metadata.
 *
 * @param key The key.
 * @param meta The metadata as read.
 * @param file The file it came from (for errors).
 * @throws {CheckpointError} When it is unsigned or the signature does not match.
 */
export async function verifySignature(
  key: CryptoKey,
  meta: Record<string, unknown>,
  file: string,
): Promise<void> {
  const hmac = meta.hmac;
  if (typeof hmac !== "string") {
    throw new CheckpointError(file, "it is not signed, and a secret was given to check it with");
  }
  const mac = /^[0-9a-f]{64}$/.test(hmac)
    ? new Uint8Array(hmac.match(/../g)!.map((h) => parseInt(h, 16)))
    : new Uint8Array(0);
  const ok = mac.length === 32 &&
    await crypto.subtle.verify("HMAC", key, mac as BufferSource, signedBytes(meta) as BufferSource);
  if (!ok) {
    throw new CheckpointError(
      file,
      "its signature does not match (the checkpoint was modified, or signed with another secret)",
    );
  }
}
