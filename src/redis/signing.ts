/**
 * Optional HMAC-SHA256 signing of everything that crosses Redis between producers and workers
 * (`secret` option / `GRAFLOW_SECRET`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signs text.
 *
 * @param text The text.
 * @param secret The shared secret.
 * @returns The HMAC-SHA256 as hex.
 */
export function sign(text: string, secret: string): string {
  return createHmac("sha256", secret).update(text).digest("hex");
}

/**
 * Checks a signature in constant time.
 *
 * @param text The text.
 * @param signature The hex signature (may be missing).
 * @param secret The shared secret.
 * @returns Whether the signature is the text's.
 */
export function verify(text: string, signature: string | undefined, secret: string): boolean {
  if (!signature || signature.length !== 64) return false;
  const expected = Buffer.from(sign(text, secret), "hex");
  const given = Buffer.from(signature, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Packs text with its signature (`<hex>|<text>`, or `|<text>` without a secret).
 *
 * @param text The text.
 * @param secret The shared secret, if any.
 * @returns The sealed string.
 */
export function seal(text: string, secret: string | undefined): string {
  return `${secret ? sign(text, secret) : ""}|${text}`;
}

/** What {@linkcode unseal} found. */
export interface Unsealed {
  /** The text. */
  text: string;
  /** Whether the signature checks out (always true without a secret). */
  valid: boolean;
}

/**
 * Unpacks a sealed string and checks its signature when a secret is set.
 *
 * @param sealed What {@linkcode seal} made.
 * @param secret The shared secret, if any.
 * @returns The text and whether it is authentic.
 */
export function unseal(sealed: string, secret: string | undefined): Unsealed {
  const bar = sealed.indexOf("|");
  if (bar < 0) return { text: sealed, valid: false };
  const text = sealed.slice(bar + 1);
  if (!secret) return { text, valid: true };
  return { text, valid: verify(text, sealed.slice(0, bar), secret) };
}
