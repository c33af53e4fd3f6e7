/**
 * `node:sqlite`, as this repository sees it: Deno's built-in SQLite, typed by `sqlite.d.ts` (the
 * part of its API the local run store uses). Loaded through `createRequire` because a type graph
 * that holds an older `@types/node` (e.g. through `@types/dockerode`) has no types for
 * `node:sqlite`, and type-checking would fail.
 *
 * @module
 */
import { createRequire } from "node:module";
import type { DatabaseSync as Database, SQLValue, StatementSync } from "./sqlite.d.ts";

export type { SQLValue, StatementSync };

/** The `DatabaseSync` class of `node:sqlite`. */
export const DatabaseSync: typeof Database = createRequire(import.meta.url)("node:sqlite")
  .DatabaseSync;
/** A connection (an instance of {@linkcode DatabaseSync}). */
export type DatabaseSync = Database;
