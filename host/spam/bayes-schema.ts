/**
 * The Bayes database's schema, its version and the checks made when it is opened: a file that is
 * not ours, or that a newer Bulwark wrote, is refused with a clear error instead of being
 * misread or damaged; an older version is migrated inside one transaction (none exist yet).
 *
 * Tables:
 *   totals  (one row)  messages learned as spam / ham
 *   tokens  hash -> spam and ham counts (rows reaching 0/0 are deleted)
 *   learned SHA-256 digest of each learned message -> its class and the exact features it added,
 *           so forget and relearn take away exactly what was added even after the tokenizer changed
 *   changes the last CHANGES_KEPT learns and forgets (class, +1/-1, features), so another process
 *           holding the counts in memory catches up by reading what changed instead of everything
 */
import type { SqliteDatabase } from "./bayes-sqlite.js";

/** PRAGMA user_version of the schema this code reads and writes. */
export const SCHEMA_VERSION = 1;
/** PRAGMA application_id marking a Bulwark Bayes database ("BwkB"), so another program's SQLite
 *  file given by mistake is refused instead of getting our tables added to it. */
export const APPLICATION_ID = 0x42776b42;

export class BayesSchemaError extends Error {}

const CREATE_V1 = `
  CREATE TABLE totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    nspam INTEGER NOT NULL CHECK (nspam >= 0),
    nham INTEGER NOT NULL CHECK (nham >= 0)
  );
  INSERT INTO totals (id, nspam, nham) VALUES (1, 0, 0);
  CREATE TABLE tokens (
    hash INTEGER PRIMARY KEY,
    spam INTEGER NOT NULL CHECK (spam >= 0),
    ham INTEGER NOT NULL CHECK (ham >= 0)
  );
  CREATE TABLE learned (
    digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
    class TEXT NOT NULL CHECK (class IN ('spam', 'ham')),
    features BLOB NOT NULL,
    learned_at INTEGER NOT NULL
  );
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    class TEXT NOT NULL CHECK (class IN ('spam', 'ham')),
    sign INTEGER NOT NULL CHECK (sign IN (1, -1)),
    features BLOB NOT NULL
  );
`;

/** Steps from version N to N+1, keyed by N. Each runs inside the opening transaction. Empty: 1 is
 *  the first version. A version below SCHEMA_VERSION without its step here is refused. */
const MIGRATIONS: ReadonlyMap<number, (db: SqliteDatabase) => void> = new Map();

function ident(db: SqliteDatabase): { version: number; appId: number } {
  return {
    version: Number(db.pragma("user_version", { simple: true })),
    appId: Number(db.pragma("application_id", { simple: true })),
  };
}

function userTables(db: SqliteDatabase): string[] {
  return db.prepare<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all().map((r) => r.name);
}

/** Refuse a file that is not a Bulwark Bayes database or is newer than this code. */
function refuseForeign(file: string, version: number, appId: number, db: SqliteDatabase): void {
  if (version === 0 && appId === 0) {
    const tables = userTables(db);
    if (tables.length > 0) {
      throw new BayesSchemaError(`${file} is not a Bulwark Bayes database (it holds other tables: ${tables.slice(0, 5).join(", ")}); name another file`);
    }
    return;
  }
  if (appId !== APPLICATION_ID) {
    throw new BayesSchemaError(`${file} is not a Bulwark Bayes database (SQLite application_id ${appId}); name another file`);
  }
  if (version > SCHEMA_VERSION) {
    throw new BayesSchemaError(`${file} has Bayes schema version ${version}, newer than this Bulwark understands (${SCHEMA_VERSION}): `
      + "upgrade Bulwark, or point as_bayes_db at another file");
  }
}

/**
 * Create the schema in an empty file or migrate an older one, or refuse (BayesSchemaError).
 * Runs in BEGIN IMMEDIATE and looks again inside it, so several processes opening a new file at
 * once create it once. A read-only connection only checks.
 */
export function prepareSchema(db: SqliteDatabase, file: string, readonly: boolean): void {
  const first = ident(db);
  if (first.version === SCHEMA_VERSION && first.appId === APPLICATION_ID) return;
  if (readonly) {
    refuseForeign(file, first.version, first.appId, db);
    if (first.version === 0) throw new BayesSchemaError(`${file} is empty: nothing has been learned into it yet`);
    throw new BayesSchemaError(`${file} has Bayes schema version ${first.version}; open it once for writing (\`bulwark spam stats\`) to migrate it`);
  }
  // decided under the write lock: another process may be creating the schema right now, and
  // what it has committed must be read in one consistent view (version, id and tables)
  db.transaction(() => {
    const { version, appId } = ident(db);
    refuseForeign(file, version, appId, db);
    if (version === SCHEMA_VERSION) return;
    if (version === 0) {
      db.exec(CREATE_V1);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return;
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS.get(v);
      if (!step) throw new BayesSchemaError(`${file} has Bayes schema version ${v}, which this Bulwark cannot migrate; learn into a new file`);
      step(db);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
