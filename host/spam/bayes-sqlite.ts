/**
 * The part of better-sqlite3 (12.x) the Bayes store uses, typed here because the package ships
 * no TypeScript declarations (and @types/better-sqlite3 is not a dependency). Loaded with
 * createRequire since it is a CommonJS native addon.
 */
import { createRequire } from "node:module";

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement<Row = unknown> {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
  iterate(...params: unknown[]): IterableIterator<Row>;
  /** rows as arrays instead of objects (cheaper for bulk reads) */
  raw(toggle?: boolean): Statement<unknown[]>;
  pluck(toggle?: boolean): Statement<unknown>;
}

export interface Transaction<Args extends unknown[], R> {
  (...args: Args): R;
  /** BEGIN IMMEDIATE: takes the write lock first, so the busy timeout applies to it */
  immediate(...args: Args): R;
  deferred(...args: Args): R;
}

export interface SqliteDatabase {
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare<Row = unknown>(sql: string): Statement<Row>;
  exec(sql: string): SqliteDatabase;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<Args extends unknown[], R>(fn: (...args: Args) => R): Transaction<Args, R>;
  close(): SqliteDatabase;
}

export interface SqliteOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** busy timeout in ms (SQLite's sqlite3_busy_timeout) */
  timeout?: number;
}

type DatabaseConstructor = new (file: string, options?: SqliteOptions) => SqliteDatabase;

const require = createRequire(import.meta.url);
const Database = require("better-sqlite3") as DatabaseConstructor;

export function openSqlite(file: string, options: SqliteOptions): SqliteDatabase {
  return new Database(file, options);
}

/** SQLite's own error (better-sqlite3's SqliteError carries the extended result code). */
export function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}
