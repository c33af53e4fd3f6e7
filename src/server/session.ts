/**
 * Dashboard sessions: after a person logs in with a token, the browser keeps an HttpOnly,
 * `SameSite=Strict` cookie `graflow_session=<name>.<expiry>.<signature>`. The signature is an
 * HMAC-SHA256 over the token's name, the expiry and a digest of the token's value, with a key
 * only the server knows (random per process unless `sessionKey` is given): a forged or edited
 * cookie is refused, and a token whose value changed ends its sessions. The token itself never
 * goes into the cookie. Forms carry a CSRF token derived from the cookie (HMAC with the same key,
 * synchroniser pattern), and state-changing requests must come from the same origin.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Principal, TokenSet } from "./tokens.ts";

/** Name of the session cookie. */
export const SESSION_COOKIE = "graflow_session";

const b64url = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Signs and checks session cookies and CSRF tokens. */
export class Sessions {
  readonly #key: Uint8Array;
  readonly #tokens: TokenSet;
  readonly #ttlMs: number;
  readonly #now: () => number;

  /**
   * @param tokens The configured tokens.
   * @param key The signing key (at least 32 bytes).
   * @param ttlMs How long a session lasts.
   * @param now The clock.
   */
  constructor(tokens: TokenSet, key: Uint8Array, ttlMs: number, now: () => number = Date.now) {
    this.#tokens = tokens;
    this.#key = key;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Seconds a session lasts (the cookie's Max-Age). */
  get maxAgeSeconds(): number {
    return Math.floor(this.#ttlMs / 1000);
  }

  #sign(text: string): string {
    return b64url(createHmac("sha256", this.#key).update(text).digest());
  }

  /**
   * A cookie value for a token holder.
   *
   * @param name The token's name.
   * @returns The cookie value.
   */
  issue(name: string): string {
    const entry = this.#tokens.byName(name)!;
    const exp = Math.floor((this.#now() + this.#ttlMs) / 1000);
    return `${name}.${exp}.${this.#sign(`s1.${name}.${exp}.${b64url(entry.digest)}`)}`;
  }

  /**
   * Checks a cookie value.
   *
   * @param value The cookie value.
   * @returns Its holder, or `undefined` when it is forged, edited, expired or its token is gone.
   */
  check(value: string | undefined): Principal | undefined {
    if (!value || value.length > 300) return undefined;
    const parts = value.split(".");
    if (parts.length < 3) return undefined;
    const sig = parts.pop()!;
    const exp = Number(parts.pop());
    const name = parts.join(".");
    const entry = this.#tokens.byName(name);
    if (!entry || !Number.isSafeInteger(exp) || exp * 1000 < this.#now()) return undefined;
    const want = this.#sign(`s1.${name}.${exp}.${b64url(entry.digest)}`);
    if (!safeEqual(want, sig)) return undefined;
    return entry.principal;
  }

  /**
   * The CSRF token of a session (what its forms carry).
   *
   * @param cookie The session's cookie value.
   * @returns The token.
   */
  csrf(cookie: string): string {
    return this.#sign(`csrf.${cookie}`);
  }

  /**
   * Checks a form's CSRF token against its session.
   *
   * @param cookie The session's cookie value.
   * @param presented The token the form carried.
   * @returns Whether it matches.
   */
  checkCsrf(cookie: string, presented: string | undefined): boolean {
    return typeof presented === "string" && safeEqual(this.csrf(cookie), presented);
  }
}

/**
 * Compares two strings in constant time (for equal lengths).
 *
 * @param a One.
 * @param b The other.
 * @returns Whether they are equal.
 */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A cookie's value from a `Cookie` header.
 *
 * @param header The header.
 * @param name The cookie.
 * @returns Its value (the first one), or `undefined`.
 */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
