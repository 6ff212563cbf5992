/**
 * The statistical filter's counts held in memory for scoring: one Map from feature hash to its
 * spam and ham counts packed into a single number, loaded from the tokens table in one pass.
 * Scoring thousands of messages a second with hundreds of features each cannot afford a SQLite
 * lookup per feature; a Map lookup is a few tens of nanoseconds.
 *
 * Catching up with other processes: each learn and forget also appends its deltas to the
 * changes table (the last CHANGES_KEPT are kept), so a snapshot at change N applies the changes
 * after N instead of reading a million tokens again; only a snapshot older than the oldest kept
 * change is reloaded whole.
 */
import type { TokenCounts } from "./types.js";
import type { SqliteDatabase } from "./bayes-sqlite.js";
import { BayesBlobError, unpackFeatures } from "./bayes-blob.js";

/** Counts are packed as spam * COUNT_BASE + ham. 2^26 each keeps the packed value below 2^52,
 *  exact in a double; a feature seen in more than 67 million learned messages is saturated
 *  (its ratio, all that scoring reads, is then only approximately kept). */
export const COUNT_BASE = 2 ** 26;
const COUNT_MAX = COUNT_BASE - 1;

/** Tokens the snapshot will hold. A JS Map holds at most 2^24 entries, and each costs about 40
 *  bytes: 4 million is ~160 MB, far beyond a useful database (SpamAssassin expires its own at
 *  150,000). A larger database is refused with a clear error rather than crashing the daemon. */
export const MAX_SNAPSHOT_TOKENS = 4_000_000;

/** Tokens read per query while loading: bounds the text of one chunk to about 2 MB. */
const LOAD_CHUNK_ROWS = 100_000;

export class BayesSnapshotTooLargeError extends Error {}

function pack(spam: number, ham: number): number {
  return Math.min(spam, COUNT_MAX) * COUNT_BASE + Math.min(ham, COUNT_MAX);
}

export class CountsSnapshot implements TokenCounts {
  constructor(
    public nspam: number,
    public nham: number,
    private readonly map: Map<number, number>,
  ) {}

  get(feature: number): readonly [number, number] | undefined {
    const p = this.map.get(feature);
    if (p === undefined) return undefined;
    const ham = p % COUNT_BASE;
    return [(p - ham) / COUNT_BASE, ham];
  }

  /** Number of distinct features held. */
  get size(): number {
    return this.map.size;
  }

  /**
   * Apply one committed change, in commit order: `sign` +1 adds the features to `cls`, -1 takes
   * them away, with the database's rules (never below 0, 0/0 entries removed). The totals are
   * set by the caller from the totals table.
   */
  apply(features: Float64Array, cls: "spam" | "ham", sign: 1 | -1): void {
    const spamDelta = cls === "spam" ? sign : 0;
    const hamDelta = cls === "ham" ? sign : 0;
    for (let i = 0; i < features.length; i++) {
      const f = features[i];
      const p = this.map.get(f);
      let spam = 0;
      let ham = 0;
      if (p !== undefined) {
        ham = p % COUNT_BASE;
        spam = (p - ham) / COUNT_BASE;
      }
      spam = Math.max(spam + spamDelta, 0);
      ham = Math.max(ham + hamDelta, 0);
      if (spam === 0 && ham === 0) this.map.delete(f);
      else this.map.set(f, pack(spam, ham));
    }
  }
}

export interface SnapshotState {
  snapshot: CountsSnapshot;
  /** PRAGMA data_version when it was read or last caught up */
  dataVersion: number;
  /** the last change (changes.seq) it includes */
  lastSeq: number;
}

/** Changes kept for other processes to catch up with. Each holds a message's features (the
 *  tokenizer gives ~250 on the corpus: 2 KB), so 1,000 keep the table near 2 MB; they cover
 *  the learns one `bulwark spam learn` makes between two checks (DATA_VERSION_CHECK_MS; about
 *  600 a second measured). A process further behind reloads whole, which is only slower. */
export const CHANGES_KEPT = 1_000;

/**
 * Read the whole database into a new snapshot, inside one read transaction so the totals, the
 * tokens and the returned data_version describe the same commit (a later commit by another
 * process then changes data_version and triggers the next catch-up).
 */
export function loadSnapshot(db: SqliteDatabase, file: string): SnapshotState {
  return db.transaction(() => {
    // the first SELECT starts the read transaction; data_version read after it is that snapshot's
    const totals = db.prepare<{ nspam: number; nham: number }>("SELECT nspam, nham FROM totals WHERE id = 1").get();
    const dataVersion = Number(db.pragma("data_version", { simple: true }));
    const lastSeq = Number(db.prepare("SELECT coalesce(max(seq), 0) FROM changes").pluck().get());
    const n = Number(db.prepare("SELECT count(*) FROM tokens").pluck().get());
    if (n > MAX_SNAPSHOT_TOKENS) {
      throw new BayesSnapshotTooLargeError(`${file} holds ${n} tokens, more than the ${MAX_SNAPSHOT_TOKENS} the filter loads: learn into a new file`);
    }
    const map = new Map<number, number>();
    // Rows come out as one decimal text per chunk ("hash packed hash packed ..."), parsed here:
    // three times faster than a JS array per row across the native boundary (measured).
    const chunk = db.prepare<unknown[]>(`SELECT group_concat(hash || ' ' || (min(spam, ${COUNT_MAX}) * ${COUNT_BASE} + min(ham, ${COUNT_MAX})), ' '), max(hash)
      FROM (SELECT hash, spam, ham FROM tokens WHERE hash > ? ORDER BY hash LIMIT ${LOAD_CHUNK_ROWS})`).raw();
    let after = -1;
    for (;;) {
      const [text, last] = chunk.get(after)!;
      if (text === null) break;
      parseChunk(String(text), map, file);
      after = Number(last);
    }
    return { snapshot: new CountsSnapshot(totals?.nspam ?? 0, totals?.nham ?? 0, map), dataVersion, lastSeq };
  }).deferred();
}

/**
 * Bring `state` up to date from the changes table, in commit order. Returns false when the
 * changes it needs were pruned: the caller then reloads whole.
 */
export function catchUp(db: SqliteDatabase, file: string, state: SnapshotState): boolean {
  return db.transaction(() => {
    const totals = db.prepare<{ nspam: number; nham: number }>("SELECT nspam, nham FROM totals WHERE id = 1").get();
    const dataVersion = Number(db.pragma("data_version", { simple: true }));
    const oldest = db.prepare("SELECT min(seq) FROM changes").pluck().get() as number | null;
    // seq lastSeq + 1 must still be there (or nothing happened since): else changes were lost to pruning
    if (oldest !== null && oldest > state.lastSeq + 1) return false;
    const rows = db.prepare<{ seq: number; class: "spam" | "ham"; sign: 1 | -1; features: Buffer }>(
      "SELECT seq, class, sign, features FROM changes WHERE seq > ? ORDER BY seq").iterate(state.lastSeq);
    for (const row of rows) {
      state.snapshot.apply(unpackFeatures(row.features, file), row.class, row.sign);
      state.lastSeq = row.seq;
    }
    // totals straight from the table: exact whatever order the deltas came in
    state.snapshot.nspam = totals?.nspam ?? 0;
    state.snapshot.nham = totals?.nham ?? 0;
    state.dataVersion = dataVersion;
    return true;
  }).deferred();
}

/** Parse "hash packed hash packed ..." (unsigned decimal integers separated by single spaces). */
function parseChunk(text: string, map: Map<number, number>, file: string): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    let hash = 0;
    let packed = 0;
    let c = 0;
    let digits = 0;
    while (i < n && (c = text.charCodeAt(i++)) !== 32) {
      if (c < 48 || c > 57) throw new BayesBlobError(`${file}: the tokens table holds a value that is not an unsigned integer`);
      hash = hash * 10 + (c - 48);
      digits++;
    }
    if (digits === 0 || i >= n) throw new BayesBlobError(`${file}: cannot read the tokens table`);
    digits = 0;
    while (i < n && (c = text.charCodeAt(i++)) !== 32) {
      if (c < 48 || c > 57) throw new BayesBlobError(`${file}: the tokens table holds a count that is not an unsigned integer`);
      packed = packed * 10 + (c - 48);
      digits++;
    }
    if (digits === 0) throw new BayesBlobError(`${file}: cannot read the tokens table`);
    map.set(hash, packed);
  }
}
