/**
 * The `--store` flag shared by `graflow orchestrate`, `graflow runs`, `graflow serve` and
 * `graflow worker --orchestrate`: a folder opens `localRunStore({ dir })`, a `redis://` or
 * `rediss://` URL opens `redisRunStore({ url, prefix })` from `@graflow/graflow/redis`.
 *
 * @module
 */
import { localRunStore, type RunStore } from "../mod.ts";
import { type Flag, setter, UsageError } from "./cli_command.ts";

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

/** Options that take `--store` and `--store-prefix`. */
export interface StoreFlagOptions {
  /** `--store`. */
  store?: string;
  /** `--store-prefix`. */
  storePrefix?: string;
}

/**
 * The `--store` and `--store-prefix` flags of `graflow orchestrate`, `runs` and `serve`.
 *
 * @returns Their rows.
 */
export function storeFlags<O extends StoreFlagOptions>(): Flag<O>[] {
  const to = setter<StoreFlagOptions>();
  // deno-fmt-ignore
  return [
    { name: "store", env: "GRAFLOW_STORE", kind: "string", arg: "S", apply: to("store"), help: "the run store: a folder (localRunStore) or a redis:// URL (redisRunStore)" },
    { name: "store-prefix", env: "GRAFLOW_STORE_PREFIX", kind: "string", arg: "P", apply: to("storePrefix"), help: "key prefix of a Redis run store (default graflow)" },
  ];
}
