/**
 * Lua scripts run by SHA with a fallback to the source (after a Redis restart the script cache
 * is empty).
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Redis Lua script: every multi-key transition is one of these. */
export class LuaScript {
  /** Name (for messages). */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** Its SHA-1, for EVALSHA. */
  readonly sha: string;

  /**
   * Creates the script.
   *
   * @param name Name (for messages).
   * @param source The Lua source.
   */
  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  /**
   * Runs the script.
   *
   * @param client The connection.
   * @param keys Key names (KEYS).
   * @param args Arguments (ARGV).
   * @returns The script's reply.
   */
  async run(client: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return await client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
