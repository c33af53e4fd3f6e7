/**
 * The `--store` flag shared by `graflow orchestrate`, `graflow runs`, `graflow serve` and
 * `graflow worker --orchestrate`: a folder opens `localRunStore({ dir })`, a `redis://` or
 * `rediss://` URL opens `redisRunStore({ url, prefix })` from `@graflow/graflow/redis`.
 *
 * @module
 */
import { localRunStore, type RunStore } from "../mod.ts";
import { UsageError } from "./cli_command.ts";

/**
 * Opens the store a `--store` value names.
 *
 * @param spec A folder, or a Redis URL.
 * @param prefix The Redis key prefix (Redis stores only).
 * @returns The store.
 * @throws {UsageError} When the value is empty.
 */
export async function openStore(spec: string | undefined, prefix?: string): Promise<RunStore> {
  if (!spec) throw new UsageError("a store is required: --store DIR or --store redis://HOST:PORT");
  if (/^rediss?:\/\//.test(spec)) {
    const { redisRunStore } = await import("../src/redis/mod.ts");
    return redisRunStore({ url: spec, ...(prefix ? { prefix } : {}) });
  }
  return localRunStore({ dir: spec });
}
