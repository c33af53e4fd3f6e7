/**
 * The part of `node:sqlite` that the local run store uses, as Node declares it.
 *
 * @module
 */

/** A value bound to or read from a statement. */
export type SQLValue = null | number | bigint | string | Uint8Array;

/** A prepared statement. */
export interface StatementSync {
  /** Runs it; how many rows changed and the last row id. */
  run(...params: SQLValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  /** The first row, or `undefined`. */
  get(...params: SQLValue[]): Record<string, SQLValue> | undefined;
  /** Every row. */
  all(...params: SQLValue[]): Record<string, SQLValue>[];
}

/** A synchronous connection to an SQLite database. */
export declare class DatabaseSync {
  /**
   * Opens (and creates) a database.
   *
   * @param path The file.
   */
  constructor(path: string);
  /** Runs SQL without results (several statements allowed). */
  exec(sql: string): void;
  /** Prepares a statement. */
  prepare(sql: string): StatementSync;
  /** Closes the connection. */
  close(): void;
}
