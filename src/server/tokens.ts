/**
 * Bearer tokens of the operations server: each has a name (recorded as who answered a feedback
 * request), a role (`viewer` reads, `operator` also changes state) and a secret value. Tokens come
 * from `serve({ tokens })`, `GRAFLOW_TOKENS="name:role:token,..."` or a file with one
 * `name:role:token` per line. Presented tokens are compared in constant time (SHA-256 digests
 * compared with `timingSafeEqual`, every configured token checked), and never logged.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** What a token may do: `viewer` reads; `operator` also starts, cancels, retries and answers. */
export type Role = "viewer" | "operator";

/** A token as configured. */
export interface TokenSpec {
  /** Who holds it (`[A-Za-z0-9_.@-]`, 1-64 characters); shown as `respondedBy`. */
  name: string;
  /** What it may do. */
  role: Role;
  /** The secret value (at least 16 characters, no whitespace or commas). */
  token: string;
}

/** Who made a request. */
export interface Principal {
  /** The token's name. */
  name: string;
  /** Its role. */
  role: Role;
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const TOKEN = /^[^\s,]{16,512}$/;

/**
 * Parses tokens from text: `name:role:token` entries separated by commas or new lines; blank
 * lines and lines starting with `#` are ignored.
 *
 * @param text The text (an environment variable or a file's content).
 * @param where Where it came from, for messages.
 * @returns The tokens.
 * @throws {TypeError} When an entry is malformed (the message names the entry by position and
 * name, never the secret).
 *
 * @example Two tokens
 * ```ts
 * import { parseTokens } from "@graflow/graflow/server";
 * const tokens = parseTokens("ana:operator:0123456789abcdef0123, bo:viewer:fedcba9876543210fedc");
 * console.log(tokens.map((t) => `${t.name}/${t.role}`)); // [ "ana/operator", "bo/viewer" ]
 * ```
 */
export function parseTokens(text: string, where = "tokens"): TokenSpec[] {
  const out: TokenSpec[] = [];
  const entries = text.split(/[\n,]/).map((s) => s.trim()).filter((s) => s && !s.startsWith("#"));
  entries.forEach((entry, i) => {
    const first = entry.indexOf(":");
    const second = entry.indexOf(":", first + 1);
    if (first < 0 || second < 0) {
      throw new TypeError(
        `Cannot read ${where}: entry ${i + 1} must be name:role:token (got ${
          first < 0 ? "no colon" : "one colon"
        })`,
      );
    }
    out.push({
      name: entry.slice(0, first),
      role: entry.slice(first + 1, second) as Role,
      token: entry.slice(second + 1),
    });
  });
  return out;
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** The configured tokens, checked once; looks presented tokens up in constant time. */
export class TokenSet {
  readonly #entries: { principal: Principal; digest: Uint8Array }[];

  /**
   * @param tokens The tokens.
   * @throws {TypeError} When a token is malformed, or a name or value is used twice.
   */
  constructor(tokens: readonly TokenSpec[]) {
    if (!Array.isArray(tokens) || tokens.length === 0) {
      throw new TypeError(
        "Cannot serve: no tokens; give at least one (name:role:token) so that the API is not open",
      );
    }
    const names = new Set<string>();
    const values = new Set<string>();
    this.#entries = tokens.map((t, i) => {
      const at = `token ${i + 1}${
        typeof t?.name === "string" ? ` ("${t.name.slice(0, 64)}")` : ""
      }`;
      if (typeof t?.name !== "string" || !NAME.test(t.name)) {
        throw new TypeError(`Cannot use ${at}: its name must match [A-Za-z0-9_.@-]{1,64}`);
      }
      if (t.role !== "viewer" && t.role !== "operator") {
        throw new TypeError(
          `Cannot use ${at}: its role must be "viewer" or "operator", got ${
            JSON.stringify(String(t.role).slice(0, 32))
          }`,
        );
      }
      if (typeof t.token !== "string" || !TOKEN.test(t.token)) {
        throw new TypeError(
          `Cannot use ${at}: its value must be 16-512 characters without whitespace or commas`,
        );
      }
      if (names.has(t.name)) throw new TypeError(`Cannot use ${at}: the name is used twice`);
      if (values.has(t.token)) throw new TypeError(`Cannot use ${at}: the value is used twice`);
      names.add(t.name);
      values.add(t.token);
      return { principal: { name: t.name, role: t.role }, digest: digest(t.token) };
    });
  }

  /**
   * Finds the holder of a presented token. Every configured token is compared, in constant
   * time, whatever matches.
   *
   * @param presented The token from a request.
   * @returns Who holds it, or `undefined`.
   */
  lookup(presented: string): Principal | undefined {
    const d = digest(presented);
    let found: Principal | undefined;
    for (const e of this.#entries) {
      if (timingSafeEqual(d, e.digest) && !found) found = e.principal;
    }
    return found;
  }

  /**
   * The holder of a name (sessions name their token).
   *
   * @param name The token's name.
   * @returns Its principal and a digest of its value (a new value ends old sessions).
   */
  byName(name: string): { principal: Principal; digest: Uint8Array } | undefined {
    return this.#entries.find((e) => e.principal.name === name);
  }
}
