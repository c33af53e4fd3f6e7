/**
 * When Graflow talks to Redis without a secret. Without one, nothing that crosses Redis is
 * authenticated: whoever can write to Redis can forge outcomes, replies and feedback answers.
 * So a producer, worker or feedback store without a secret starts only when Redis is on this
 * machine (127.0.0.0/8, `::1`, `localhost`), or when the caller says `insecure: true`
 * (`--insecure`) and accepts the risk; either way it reports a warning at start.
 *
 * @module
 */

/**
 * Whether a Redis URL points at this machine.
 *
 * @param url A `redis://` or `rediss://` URL.
 * @returns True for 127.0.0.0/8, `::1` and `localhost`.
 */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host === "localhost" || host === "[::1]") return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return v4 !== null && v4.slice(1).every((n) => Number(n) <= 255);
}

/** What decides whether unsigned messages are allowed. */
export interface TransportPolicyInput {
  /** Who asks, for the message, e.g. `"start worker"`. */
  action: string;
  /** The Redis URL (its password is never shown). */
  url: string;
  /** A description of the URL without its password. */
  safeUrl: string;
  /** The secret, if any. */
  secret: string | undefined;
  /** Whether the caller accepts unauthenticated messages on a non-loopback Redis. */
  insecure: boolean | undefined;
}

/**
 * Applies the policy.
 *
 * @param o URL, secret and the `insecure` choice.
 * @returns A warning to report when messages will not be authenticated, else undefined.
 * @throws {TypeError} When there is no secret, Redis is not on loopback and `insecure` is not set.
 */
export function checkTransport(o: TransportPolicyInput): string | undefined {
  if (o.secret) return undefined;
  if (isLoopback(o.url)) {
    return `Redis messages are not authenticated (no secret): allowed because Redis at ${o.safeUrl} is on this machine`;
  }
  if (o.insecure) {
    return `Redis messages are not authenticated (no secret, insecure: true): anyone who can write to Redis at ${o.safeUrl} can forge outcomes, replies and feedback answers`;
  }
  throw new TypeError(
    `Cannot ${o.action}: Redis at ${o.safeUrl} is not on this machine and no secret is set, ` +
      `so anyone who can write to it could forge outcomes and replies; set a secret ` +
      `(secret option, --secret or GRAFLOW_SECRET), or insecure: true (--insecure) to accept that`,
  );
}
