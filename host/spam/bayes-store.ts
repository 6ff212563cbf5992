/**
 * The statistical filter's database (as_bayes_db): an SQLite file (better-sqlite3) shared by every
 * process that learns or scores (the daemon, `bulwark spam learn`, the spamd TELL path).
 *
 *  - Each learn or forget is one BEGIN IMMEDIATE transaction: a process killed in the middle
 *    leaves the database as it was before that message. Concurrent learners queue on SQLite's
 *    write lock for up to BUSY_TIMEOUT_MS instead of failing.
 *  - WAL journal with synchronous=NORMAL: readers never block the writer and the writer never
 *    blocks readers; a commit does not wait for fsync. That is still crash-safe against a
 *    process crash and keeps the file consistent on power loss, which may only lose the last
 *    learns before it (FULL would fsync every learned message, limiting learning to the disk's
 *    sync rate, for training data that can be learned again).
 *  - Scoring reads an in-memory snapshot (bayes-snapshot.ts), loaded on the first counts(),
 *    updated in place by this process's own learns, and caught up from the changes table when
 *    PRAGMA data_version shows a commit by another process (looked at no more often than
 *    DATA_VERSION_CHECK_MS).
 *
 * Opening (pragmas, retries while another process creates the file): bayes-open.ts; schema and
 * version checks: bayes-schema.ts.
 */
import { createHash } from "node:crypto";
import type { LearnOutcome, TokenCounts } from "./types.js";
import type { SqliteDatabase } from "./bayes-sqlite.js";
import { SCHEMA_VERSION } from "./bayes-schema.js";
import { BayesStoreError, openBayesDatabase } from "./bayes-open.js";
import { CHANGES_KEPT, type SnapshotState, catchUp, loadSnapshot } from "./bayes-snapshot.js";
import { packFeatures, unpackFeatures } from "./bayes-blob.js";

export { BayesSchemaError, SCHEMA_VERSION } from "./bayes-schema.js";
export { BUSY_TIMEOUT_MS, BayesStoreError } from "./bayes-open.js";
export { BayesSnapshotTooLargeError, CHANGES_KEPT, MAX_SNAPSHOT_TOKENS } from "./bayes-snapshot.js";

/** How often counts() asks SQLite whether another process committed. PRAGMA data_version is
 *  cheap, but not free at thousands of messages a second; a learn by another process (spamd
 *  TELL, `bulwark spam learn`) showing up in scores within a second is soon enough. */
export const DATA_VERSION_CHECK_MS = 1_000;
/** Features one learned message may add. The tokenizer bounds its own output below this
 *  (feature-hash.ts MAX_RAW_FEATURES, 12,000); a caller handing more is a bug or an attack,
 *  and would make one transaction (and the stored feature list, 8 bytes each) unbounded. */
export const MAX_FEATURES_PER_MESSAGE = 20_000;

export type BayesClass = "spam" | "ham";

export interface BayesStats {
  file: string;
  schemaVersion: number;
  nspam: number;
  nham: number;
  /** distinct features in the database */
  tokens: number;
  /** messages in the learned table (nspam + nham unless the file was edited by hand) */
  learned: number;
}

export interface BayesStore {
  readonly file: string;
  learn(digest: string, cls: BayesClass, features: ArrayLike<number>): LearnOutcome;
  forget(digest: string): LearnOutcome;
  /** the scoring snapshot, fresh as described above; do not keep it across messages */
  counts(): TokenCounts;
  stats(): BayesStats;
  close(): void;
}

export interface BayesStoreOptions {
  /** fail when the file does not exist instead of creating it */
  mustExist?: boolean;
  /** clock for the data_version check (tests) */
  now?: () => number;
  /** how long a write waits for another process's write lock (default BUSY_TIMEOUT_MS); the
   *  daemon uses a short one, since the wait blocks its event loop */
  busyTimeoutMs?: number;
}

/** The message without a leading mbox "From " separator line (mbox files and the corpus have one;
 *  the mail itself starts after it). The same message with or without it is the same message. */
export function stripMboxFromLine(raw: Buffer): Buffer {
  if (raw.length < 5 || raw.toString("latin1", 0, 5) !== "From ") return raw;
  const nl = raw.indexOf(10);
  return nl < 0 ? raw.subarray(raw.length) : raw.subarray(nl + 1);
}

/** The key a learned message is stored under: SHA-256 (hex) of its bytes after stripMboxFromLine. */
export function messageDigest(raw: Buffer): string {
  return createHash("sha256").update(stripMboxFromLine(raw)).digest("hex");
}

function digestBytes(digest: string): Buffer {
  if (typeof digest !== "string" || !/^[0-9a-fA-F]{64}$/.test(digest)) {
    throw new BayesStoreError(`not a SHA-256 hex digest: ${String(digest).slice(0, 80)}`);
  }
  return Buffer.from(digest, "hex");
}

/** The distinct features, sorted, checked (unsigned integers below 2^53) and bounded. */
function checkedFeatures(features: ArrayLike<number>): Float64Array {
  if (features.length > MAX_FEATURES_PER_MESSAGE) {
    throw new BayesStoreError(`${features.length} features for one message, more than the ${MAX_FEATURES_PER_MESSAGE} allowed`);
  }
  const sorted = Float64Array.from(features).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) {
    const f = sorted[i];
    if (!Number.isSafeInteger(f) || f < 0) throw new BayesStoreError(`feature ${f} is not an unsigned integer below 2^53`);
    if (n === 0 || sorted[n - 1] !== f) sorted[n++] = f;
  }
  return sorted.slice(0, n);
}

export function openBayesStore(file: string, opts: BayesStoreOptions = {}): BayesStore {
  return new SqliteBayesStore(openBayesDatabase(file, opts.mustExist ?? false, opts.busyTimeoutMs), file, opts.now ?? Date.now);
}

type Totals = { nspam: number; nham: number };

class SqliteBayesStore implements BayesStore {
  private state: SnapshotState | undefined;
  /** a commit of this process could not be applied in order: catch up at the next counts() */
  private stale = false;
  private checkedAt = 0;
  private readonly sql;
  private readonly learnTx;
  private readonly forgetTx;

  constructor(private readonly db: SqliteDatabase, readonly file: string, private readonly now: () => number) {
    this.sql = {
      learned: db.prepare<{ class: BayesClass; features: Buffer }>("SELECT class, features FROM learned WHERE digest = ?"),
      insertLearned: db.prepare("INSERT INTO learned (digest, class, features, learned_at) VALUES (?, ?, ?, ?)"),
      updateLearned: db.prepare("UPDATE learned SET class = ?, features = ?, learned_at = ? WHERE digest = ?"),
      deleteLearned: db.prepare("DELETE FROM learned WHERE digest = ?"),
      totals: db.prepare<Totals>("SELECT nspam, nham FROM totals WHERE id = 1"),
      addTotals: db.prepare<Totals>("UPDATE totals SET nspam = max(nspam + ?, 0), nham = max(nham + ?, 0) WHERE id = 1 RETURNING nspam, nham"),
      addToken: db.prepare("INSERT INTO tokens (hash, spam, ham) VALUES (?, ?, ?) ON CONFLICT (hash) DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham"),
      subToken: db.prepare<{ spam: number; ham: number }>("UPDATE tokens SET spam = max(spam - ?, 0), ham = max(ham - ?, 0) WHERE hash = ? RETURNING spam, ham"),
      deleteToken: db.prepare("DELETE FROM tokens WHERE hash = ?"),
      addChange: db.prepare<{ seq: number }>("INSERT INTO changes (class, sign, features) VALUES (?, ?, ?) RETURNING seq"),
      pruneChanges: db.prepare("DELETE FROM changes WHERE seq <= ?"),
      countTokens: db.prepare("SELECT count(*) FROM tokens").pluck(),
      countLearned: db.prepare("SELECT count(*) FROM learned").pluck(),
    };
    this.learnTx = db.transaction((key: Buffer, cls: BayesClass, features: Float64Array) => this.learnInTx(key, cls, features));
    this.forgetTx = db.transaction((key: Buffer) => this.forgetInTx(key));
  }

  learn(digest: string, cls: BayesClass, features: ArrayLike<number>): LearnOutcome {
    if (cls !== "spam" && cls !== "ham") throw new BayesStoreError(`class must be "spam" or "ham", not ${String(cls)}`);
    const key = digestBytes(digest);
    const checked = checkedFeatures(features);
    const r = this.write(() => this.learnTx.immediate(key, cls, checked));
    this.applyOwn(r);
    return { outcome: r.outcome, nspam: r.totals.nspam, nham: r.totals.nham };
  }

  forget(digest: string): LearnOutcome {
    const key = digestBytes(digest);
    const r = this.write(() => this.forgetTx.immediate(key));
    this.applyOwn(r);
    return { outcome: r.outcome, nspam: r.totals.nspam, nham: r.totals.nham };
  }

  counts(): TokenCounts {
    const now = this.now();
    if (this.state === undefined) {
      this.reload(now);
    } else if (this.stale || now - this.checkedAt >= DATA_VERSION_CHECK_MS) {
      this.checkedAt = now;
      if (this.stale || Number(this.db.pragma("data_version", { simple: true })) !== this.state.dataVersion) {
        this.stale = false;
        if (!catchUp(this.db, this.file, this.state)) this.reload(now);
      }
    }
    return this.state!.snapshot;
  }

  stats(): BayesStats {
    const t = this.sql.totals.get() ?? { nspam: 0, nham: 0 };
    return {
      file: this.file, schemaVersion: SCHEMA_VERSION, nspam: t.nspam, nham: t.nham,
      tokens: Number(this.sql.countTokens.get()), learned: Number(this.sql.countLearned.get()),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.state = undefined;
  }

  private reload(now: number): void {
    this.state = loadSnapshot(this.db, this.file);
    this.stale = false;
    this.checkedAt = now;
  }

  /** Apply a committed change of this process to the snapshot directly when nothing another
   *  process committed lies between (its changes start right after the snapshot's last one);
   *  else leave it to the catch-up, which applies everything in commit order. */
  private applyOwn(r: TxResult): void {
    const state = this.state;
    if (!state || r.changes.length === 0) return;
    if (r.changes[0].seq !== state.lastSeq + 1) {
      this.stale = true;
      return;
    }
    for (const c of r.changes) state.snapshot.apply(c.features, c.cls, c.sign);
    state.lastSeq = r.changes[r.changes.length - 1].seq;
    state.snapshot.nspam = r.totals.nspam;
    state.snapshot.nham = r.totals.nham;
  }

  /** SQLite errors (busy after the timeout, disk full, read-only file) as BayesStoreError. */
  private write<R>(fn: () => R): R {
    try {
      return fn();
    } catch (e) {
      if (e instanceof BayesStoreError || !(e instanceof Error)) throw e;
      throw new BayesStoreError(`${this.file}: ${e.message}`);
    }
  }

  /** Record a change for other processes' snapshots and drop the ones older than CHANGES_KEPT. */
  private change(cls: BayesClass, sign: 1 | -1, features: Float64Array, blob: Buffer): Change {
    const seq = this.sql.addChange.get(cls, sign, blob)!.seq;
    this.sql.pruneChanges.run(seq - CHANGES_KEPT);
    return { seq, cls, sign, features };
  }

  private learnInTx(key: Buffer, cls: BayesClass, features: Float64Array): TxResult {
    const row = this.sql.learned.get(key);
    if (row && row.class === cls) return { outcome: "already", totals: this.sql.totals.get()!, changes: [] };
    const changes: Change[] = [];
    const now = Math.floor(Date.now() / 1000);
    const blob = packFeatures(features);
    if (row) {
      const old = unpackFeatures(row.features, this.file);
      this.subtract(old, row.class);
      this.sql.addTotals.get(row.class === "spam" ? -1 : 0, row.class === "ham" ? -1 : 0);
      this.sql.updateLearned.run(cls, blob, now, key);
      changes.push(this.change(row.class, -1, old, row.features));
    } else {
      this.sql.insertLearned.run(key, cls, blob, now);
    }
    const s = cls === "spam" ? 1 : 0;
    const h = 1 - s;
    for (let i = 0; i < features.length; i++) this.sql.addToken.run(features[i], s, h);
    const totals = this.sql.addTotals.get(s, h)!;
    changes.push(this.change(cls, 1, features, blob));
    return { outcome: row ? "relearned" : "learned", totals, changes };
  }

  private forgetInTx(key: Buffer): TxResult {
    const row = this.sql.learned.get(key);
    if (!row) return { outcome: "unknown", totals: this.sql.totals.get()!, changes: [] };
    const old = unpackFeatures(row.features, this.file);
    this.subtract(old, row.class);
    this.sql.deleteLearned.run(key);
    const totals = this.sql.addTotals.get(row.class === "spam" ? -1 : 0, row.class === "ham" ? -1 : 0)!;
    return { outcome: "forgotten", totals, changes: [this.change(row.class, -1, old, row.features)] };
  }

  private subtract(features: Float64Array, cls: BayesClass): void {
    const s = cls === "spam" ? 1 : 0;
    const h = 1 - s;
    for (let i = 0; i < features.length; i++) {
      const left = this.sql.subToken.get(s, h, features[i]);
      if (left && left.spam === 0 && left.ham === 0) this.sql.deleteToken.run(features[i]);
    }
  }
}

interface Change {
  seq: number;
  cls: BayesClass;
  sign: 1 | -1;
  features: Float64Array;
}

interface TxResult {
  outcome: LearnOutcome["outcome"];
  totals: Totals;
  /** the deltas committed, in order, for this process's snapshot */
  changes: Change[];
}
