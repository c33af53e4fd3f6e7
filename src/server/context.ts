/**
 * What the routes of the server share: the store, the live event hub, run views, the flows it
 * may start, limits, and the request's principal (set by the auth middleware).
 *
 * @module
 */
import type { Context } from "hono";
import type { Flow } from "../dsl/flow.ts";
import type { RunStore } from "../store/run_store.ts";
import type { EventHub } from "./event_hub.ts";
import { HttpError } from "./http_error.ts";
import type { Notifier } from "./notifier.ts";
import type { RunViews } from "./run_view.ts";
import type { Sessions } from "./session.ts";
import type { Principal, Role, TokenSet } from "./tokens.ts";

/** How a request authenticated. */
export interface Auth {
  /** Who, if anyone. */
  principal?: Principal;
  /** Through the dashboard's session cookie (then state changes need the CSRF token). */
  cookie?: string;
}

/** The Hono environment of the server's routes. */
export type Env = { Variables: { auth: Auth } };

/** The server's shared pieces. */
export interface ServerContext {
  /** The run store. */
  store: RunStore;
  /** Live events. */
  hub: EventHub;
  /** Run pages. */
  views: RunViews;
  /** The configured tokens. */
  tokens: TokenSet;
  /** Sessions and CSRF tokens of the dashboard. */
  sessions: Sessions;
  /** Feedback notifications (deliveries). */
  notifier: Notifier;
  /** A registered flow by name, if the server may show it. */
  flow(name: string): Flow | undefined;
  /** The flows that may be started through the server. */
  startable(): Flow[];
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** `Secure` cookies (served over HTTPS). */
  secureCookies: boolean;
}

const ID = /^[A-Za-z0-9_.:-]{1,256}$/;

/**
 * Checks a path id (run or feedback request).
 *
 * @param value The id from the path.
 * @param what What it names, for the message.
 * @returns The id.
 * @throws {HttpError} 400 `BAD_ID`.
 */
export function checkId(value: string, what: string): string {
  if (!ID.test(value)) {
    throw new HttpError(
      400,
      "BAD_ID",
      `Cannot read ${what} id ${
        JSON.stringify(value.slice(0, 80))
      }: ids are 1-256 of A-Z a-z 0-9 _ . : -`,
    );
  }
  return value;
}

/**
 * Requires a role for an API request.
 *
 * @param c The request.
 * @param role The least role.
 * @returns The principal.
 * @throws {HttpError} 401 without a valid token, 403 with a viewer token.
 */
export function need(c: Context<Env>, role: Role): Principal {
  const auth = c.get("auth");
  if (!auth.principal) {
    throw new HttpError(
      401,
      "UNAUTHORIZED",
      "Cannot handle the request: send Authorization: Bearer <token>",
    );
  }
  if (role === "operator" && auth.principal.role !== "operator") {
    throw new HttpError(
      403,
      "FORBIDDEN",
      `Cannot handle the request: it changes state and needs an operator token; "${auth.principal.name}" is a viewer`,
    );
  }
  return auth.principal;
}
