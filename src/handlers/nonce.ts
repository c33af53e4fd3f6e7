/**
 * Per-attempt nonces: the host gives each task it sends to a Web Worker, a subprocess or a
 * container a random nonce, and accepts an outcome or a call only when it echoes the nonce of
 * the task that executor is running now.
 *
 * @module
 */

/**
 * A new random nonce: 128 bits from `crypto.getRandomValues`, as 32 hex digits.
 *
 * @returns The nonce.
 */
export function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}
