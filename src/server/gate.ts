/**
 * What every request to the operations server passes before any route, and what every response
 * gets. A query parameter named like a credential is refused (tokens never travel in URLs); the
 * bearer token or the session cookie is checked; a state-changing request must come from the
 * server's own origin (or the public URL's) and not be cross-site, and with a session cookie it
 * must carry the CSRF token (the dashboard's forms under `/ui/` carry theirs in the form). Every
 * response gets a strict Content-Security-Policy, `nosniff`, `same-origin` referrers, no framing,
 * and `no-store` unless the route chose a cache policy; every request is reported with any token
 * in its path replaced by `[token]`.
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import type { Auth, Env } from "./context.ts";
import { HttpError, json, toHttpError } from "./http_error.ts";
import { readCookie, safeEqual, SESSION_COOKIE, type Sessions } from "./session.ts";
import type { TokenSet } from "./tokens.ts";

const TOKEN_PARAMS =
  /^(token|access_token|api_key|apikey|key|auth|authorization|bearer|session|password)$/i;
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** A request as the server reports it. */
export interface RequestReport {
  /** The method. */
  method: string;
  /** The path, tokens replaced, at most about 300 characters. */
  path: string;
  /** The response status. */
  status: number;
  /** How long it took (ms, two decimals). */
  ms: number;
}

/**
 * The middleware every request passes first: no tokens in the URL, authentication (`auth` is
 * set), and, for state-changing methods, the origin and CSRF checks.
 *
 * @param tokens The configured tokens.
 * @param sessions The dashboard's sessions.
 * @param origins Other origins allowed to change state (the public URL's).
 * @returns The middleware.
 */
export function gate(
  tokens: TokenSet,
  sessions: Sessions,
  origins: ReadonlySet<string>,
): MiddlewareHandler<Env> {
  return async (c, next) => {
    const u = new URL(c.req.url);
    for (const name of u.searchParams.keys()) {
      if (TOKEN_PARAMS.test(name)) {
        throw new HttpError(
          400,
          "TOKEN_IN_URL",
          `Cannot accept query parameter "${name}": send tokens in the Authorization header, never in URLs`,
        );
      }
    }
    const auth = authenticate(c.req.raw, tokens, sessions);
    c.set("auth", auth);
    if (!SAFE.has(c.req.method)) {
      const origin = c.req.header("origin");
      if (
        (origin !== undefined && origin !== u.origin && !origins.has(origin)) ||
        c.req.header("sec-fetch-site") === "cross-site"
      ) {
        throw new HttpError(
          403,
          "BAD_ORIGIN",
          "Cannot accept the request: it comes from another origin",
        );
      }
      if (auth.cookie && !u.pathname.startsWith("/ui/")) {
        const presented = c.req.header("x-csrf-token");
        if (!presented || !safeEqual(sessions.csrf(auth.cookie), presented)) {
          throw new HttpError(
            403,
            "CSRF",
            "Cannot accept the request: a session needs the X-CSRF-Token header (or use a bearer token)",
          );
        }
      }
    }
    await next();
  };
}

/**
 * The server's request handler: the app, then the security headers on every response, then the
 * report of the request.
 *
 * @param app The routes (behind {@linkcode gate}).
 * @param tokens The configured tokens (to keep them out of reported paths).
 * @param report Receives every request.
 * @returns The handler for `Deno.serve`.
 */
export function secured(
  app: Hono<Env>,
  tokens: TokenSet,
  report: (request: RequestReport) => void,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const t0 = performance.now();
    let res: Response;
    try {
      res = await app.fetch(request);
    } catch (error) {
      res = json(toHttpError(error).body(), 500);
    }
    const h = res.headers;
    try {
      h.set("content-security-policy", CSP);
      h.set("x-content-type-options", "nosniff");
      // same-origin: with no-referrer, browsers send "Origin: null" on form posts.
      h.set("referrer-policy", "same-origin");
      h.set("x-frame-options", "DENY");
      if (!h.has("cache-control")) h.set("cache-control", "no-store");
    } catch { /* immutable headers: leave them */ }
    // A token pasted into a path is not logged either.
    const path = new URL(request.url).pathname.split("/")
      .map((seg) => seg.length >= 16 && tokens.lookup(decodeSegment(seg)) ? "[token]" : seg)
      .join("/");
    report({
      method: request.method,
      path: path.length > 300 ? `${path.slice(0, 300)}…` : path,
      status: res.status,
      ms: Math.round((performance.now() - t0) * 100) / 100,
    });
    return res;
  };
}

function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

function authenticate(request: Request, tokens: TokenSet, sessions: Sessions): Auth {
  const header = request.headers.get("authorization");
  if (header !== null) {
    const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
    if (!m) {
      throw new HttpError(
        401,
        "UNAUTHORIZED",
        'Cannot authenticate: the Authorization header must be "Bearer <token>"',
      );
    }
    const principal = tokens.lookup(m[1]);
    if (!principal) {
      throw new HttpError(401, "UNAUTHORIZED", "Cannot authenticate: the token is not valid");
    }
    return { principal };
  }
  const cookie = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  const principal = sessions.check(cookie);
  return principal ? { principal, cookie } : {};
}
