/**
 * Opening the Bayes database file: WAL journal, synchronous=NORMAL, the busy timeout, and the
 * schema checks (bayes-schema.ts), retried while another process is creating the same new file.
 * Errors come out as BayesStoreError (or BayesSchemaError for a file that must not be used).
 */
import { type SqliteDatabase, openSqlite, sqliteCode } from "./bayes-sqlite.js";
import { prepareSchema } from "./bayes-schema.js";

export class BayesStoreError extends Error {}

/** How long a learner waits for another process's write transaction. A learn transaction takes
 *  milliseconds; 10 s covers a queue of many learners and a checkpoint on a slow disk, while a
 *  process that holds the lock for good (a stopped debugger) still ends in a clear error. */
export const BUSY_TIMEOUT_MS = 10_000;
/** Longest pause between two attempts at opening a database another process is creating. */
const OPEN_RETRY_MAX_MS = 50;
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

class BusyOpening extends Error {
  constructor(readonly error: BayesStoreError) {
    super(error.message);
  }
}

export function openBayesDatabase(file: string, mustExist: boolean, busyTimeoutMs: number = BUSY_TIMEOUT_MS): SqliteDatabase {
  const deadline = Date.now() + busyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return openPrepared(file, mustExist, busyTimeoutMs);
    } catch (e) {
      // A new file is still in rollback-journal mode while the first opener switches it to WAL;
      // SQLite then answers "locked" at once (deadlock avoidance, no busy handler): wait, retry.
      if (!(e instanceof BusyOpening)) throw e;
      if (Date.now() >= deadline) throw e.error;
      Atomics.wait(SLEEPER, 0, 0, Math.min(OPEN_RETRY_MAX_MS, 5 * (attempt + 1)));
    }
  }
}

function openPrepared(file: string, mustExist: boolean, busyTimeoutMs: number): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    db = openSqlite(file, { fileMustExist: mustExist, timeout: busyTimeoutMs });
  } catch (e) {
    throw new BayesStoreError(`${file}: cannot open the Bayes database: ${(e as Error).message}`);
  }
  try {
    // journal_mode is persistent in the file; setting it again is a no-op
    const mode = String(db.pragma("journal_mode = WAL", { simple: true }));
    if (mode !== "wal") throw new BayesStoreError(`${file}: cannot switch the database to WAL mode (it is in ${mode} mode)`);
    // see bayes-store.ts for why NORMAL
    db.pragma("synchronous = NORMAL");
    prepareSchema(db, file, false);
    return db;
  } catch (e) {
    db.close();
    const code = sqliteCode(e);
    if (code === undefined) throw e;
    const err = new BayesStoreError(`${file}: ${(e as Error).message}`);
    throw /^SQLITE_(BUSY|LOCKED)/.test(code) ? new BusyOpening(err) : err;
  }
}
