/**
 * The quarantine store (SPEC §8, style-reliability B7). Layout under `dir`:
 *   objects/ab/cdef…   message bytes, named by their SHA-256 (id = "abcdef…"), immutable, 0600
 *   journal.jsonl      append-only metadata events (stored, restored, deleted), one JSON line each
 *   tmp/               temp files of writes in progress (same file system as objects/)
 * The in-memory index that `list` filters is rebuilt from the journal at every open; it is a
 * cache, never a second source of truth.
 *
 * Write order of `put`: object (temp O_EXCL, fsync, link, fsync dir), then the journal line
 * (fsync) — so every listed id has a complete object. A crash between the two leaves an
 * object no event names: unlisted, harmless, counted in `recovery.unlistedObjects`, and
 * stored again (deduplicated) if the sender retries. `delete` journals first, then unlinks.
 *
 * One process may write at a time per directory for the index to stay current (the daemon);
 * another process (the `bulwark quar` command) sees the journal as of its own open.
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { ensureDir, fsyncDir, linkNoReplace, removeLeftoverTemps, renameReplace, writeTemp } from "./durable.js";
import { type JournalEvent, JournalWriter, checkLineSize, readJournal } from "./journal.js";
import {
  ID_PATTERN, MAX_LIST_ENTRIES, MAX_MESSAGE_BYTES, QuarantineCorruptError, QuarantineError,
  QuarantineNotFoundError, type QuarEntry, type QuarFilter, type QuarMeta,
} from "./types.js";

export interface OpenOptions {
  /** Recovery notices (temp files removed, journal lines skipped); default: stderr. */
  warn?: (message: string) => void;
}

/** What opening found and repaired. */
export interface RecoveryReport {
  /** Temp files of crashed writes, removed. */
  tempFilesRemoved: string[];
  /** Journal lines ignored (torn by a crash, invalid, over-long). */
  journalLinesSkipped: number;
  /** Ids the journal lists whose object file is gone (removed behind our back); unlisted. */
  missingObjects: string[];
  /** Object files no journal event names (crash after the object, before its journal line). */
  unlistedObjects: number;
}

export interface QuarantineStore {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  /** Store a message durably; resolves with its id once object and journal line are fsynced.
   *  Idempotent: the same bytes again keep the existing object and update the metadata. */
  put(message: Uint8Array, meta: QuarMeta): Promise<{ id: string }>;
  /** The message bytes, re-hashed: throws QuarantineNotFoundError or QuarantineCorruptError. */
  get(id: string): Promise<Uint8Array>;
  /** The entry of a listed id, or undefined. */
  info(id: string): QuarEntry | undefined;
  /** Entries matching every given filter, newest stored first, at most `limit`. */
  list(filter?: QuarFilter): QuarEntry[];
  /** A full id from a unique hex prefix of at least 6 digits; undefined when nothing matches. */
  resolveId(prefix: string): string | undefined;
  /** Journal the deletion, then remove the object. */
  delete(id: string): Promise<void>;
  /** Write the message (re-hashed) to `toDir/<id>.eml` (default `dir/restored`) and journal it.
   *  An existing file with the same content is accepted; a different one is an error. */
  restore(id: string, toDir?: string): Promise<{ file: string }>;
  close(): Promise<void>;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function checkId(id: string): void {
  if (!ID_PATTERN.test(id)) throw new QuarantineError(`quarantine: bad id ${JSON.stringify(id)} (expected 64 lowercase hex digits)`);
}

function optString(meta: QuarMeta, key: "sender" | "agent" | "reason"): string | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new QuarantineError(`quarantine: meta.${key} must be a string`);
  return v;
}

/** Validate and normalise caller metadata (it ends up in the journal, so its shape is checked
 *  here rather than trusted at replay). */
function normaliseMeta(meta: QuarMeta, now: Date): QuarMeta {
  if (!Array.isArray(meta.names) || !meta.names.every((n) => typeof n === "string")) {
    throw new QuarantineError("quarantine: meta.names must be an array of strings");
  }
  if (typeof meta.status !== "string" || meta.status === "") throw new QuarantineError("quarantine: meta.status must be a non-empty string");
  if (meta.recipients !== undefined && !(Array.isArray(meta.recipients) && meta.recipients.every((r) => typeof r === "string"))) {
    throw new QuarantineError("quarantine: meta.recipients must be an array of strings");
  }
  let receivedAt = now.toISOString();
  if (meta.receivedAt !== undefined) {
    const t = Date.parse(meta.receivedAt);
    if (Number.isNaN(t)) throw new QuarantineError(`quarantine: meta.receivedAt ${JSON.stringify(meta.receivedAt)} is not a date`);
    receivedAt = new Date(t).toISOString();
  }
  const out: QuarMeta = { names: [...meta.names], status: meta.status, receivedAt };
  const sender = optString(meta, "sender");
  const agent = optString(meta, "agent");
  const reason = optString(meta, "reason");
  if (sender !== undefined) out.sender = sender;
  if (meta.recipients !== undefined) out.recipients = [...meta.recipients];
  if (agent !== undefined) out.agent = agent;
  if (reason !== undefined) out.reason = reason;
  return out;
}

function toTime(v: string | Date, what: string): number {
  const t = v instanceof Date ? v.getTime() : Date.parse(v);
  if (Number.isNaN(t)) throw new QuarantineError(`quarantine: ${what} ${JSON.stringify(String(v))} is not a date`);
  return t;
}

const has = (hay: string | undefined, needle: string): boolean => hay !== undefined && hay.toLowerCase().includes(needle);

function matcher(f: QuarFilter): (e: QuarEntry) => boolean {
  const since = f.since === undefined ? undefined : toTime(f.since, "since");
  const until = f.until === undefined ? undefined : toTime(f.until, "until");
  const sender = f.sender?.toLowerCase();
  const recipient = f.recipient?.toLowerCase();
  const name = f.name?.toLowerCase();
  return (e) => {
    const t = Date.parse(e.receivedAt);
    if (since !== undefined && !(t >= since)) return false;
    if (until !== undefined && !(t < until)) return false;
    if (sender !== undefined && !has(e.sender, sender)) return false;
    if (recipient !== undefined && !(e.recipients ?? []).some((r) => has(r, recipient))) return false;
    if (name !== undefined && !e.names.some((n) => has(n, name))) return false;
    if (f.status !== undefined && e.status !== f.status) return false;
    if (f.agent !== undefined && e.agent !== f.agent) return false;
    return true;
  };
}

/** Apply one journal event to the index. Re-inserting on "stored" keeps the Map in order of
 *  latest store, which is the order `list` walks backwards. */
function applyEvent(index: Map<string, QuarEntry>, e: JournalEvent): void {
  if (e.ev === "stored") {
    index.delete(e.id);
    index.set(e.id, { ...e.meta, receivedAt: e.meta.receivedAt ?? e.at, id: e.id, size: e.size, storedAt: e.at });
  } else if (e.ev === "deleted") {
    index.delete(e.id);
  } else {
    const entry = index.get(e.id);
    if (entry) {
      entry.restoredAt = e.at;
      entry.restoredTo = e.to;
    }
  }
}

/** Names of all object files, as ids, found on disk. */
async function objectIdsOnDisk(objectsDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const shard of await fsp.readdir(objectsDir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const rest of await fsp.readdir(path.join(objectsDir, shard))) {
      const id = shard + rest;
      if (ID_PATTERN.test(id)) ids.add(id);
    }
  }
  return ids;
}

/** Open (creating if needed) the quarantine in `dir`, recovering from any crash first. */
export async function openQuarantine(dir: string, opts: OpenOptions = {}): Promise<QuarantineStore> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`bulwark quarantine: WARNING: ${m}\n`));
  const root = path.resolve(dir);
  const objectsDir = path.join(root, "objects");
  const tmpDir = path.join(root, "tmp");
  const journalFile = path.join(root, "journal.jsonl");
  await ensureDir(objectsDir);
  await ensureDir(tmpDir);

  const tempFilesRemoved = await removeLeftoverTemps(tmpDir);
  for (const t of tempFilesRemoved) warn(`removed ${path.join(tmpDir, t)}, left by an interrupted write`);

  const index = new Map<string, QuarEntry>();
  const { tornTail, skipped } = await readJournal(journalFile, (e) => applyEvent(index, e), warn);
  const onDisk = await objectIdsOnDisk(objectsDir);
  const missingObjects: string[] = [];
  for (const id of index.keys()) {
    if (!onDisk.has(id)) {
      missingObjects.push(id);
      warn(`journal lists ${id} but its object file is missing; not listed`);
    }
  }
  for (const id of missingObjects) index.delete(id);
  let unlistedObjects = 0;
  for (const id of onDisk) if (!index.has(id)) unlistedObjects++;

  const existed = await fsp.stat(journalFile).then(() => true, () => false);
  const journal = await JournalWriter.open(journalFile, tornTail);
  if (!existed) await fsyncDir(root);

  const recovery: RecoveryReport = { tempFilesRemoved, journalLinesSkipped: skipped, missingObjects, unlistedObjects };
  const objectFile = (id: string): string => path.join(objectsDir, id.slice(0, 2), id.slice(2));

  /** Read and re-hash an object file; null when it does not exist. */
  async function readVerified(id: string): Promise<Uint8Array | null> {
    const file = objectFile(id);
    let data: Buffer;
    try {
      const st = await fsp.stat(file);
      if (st.size > MAX_MESSAGE_BYTES) throw new QuarantineCorruptError(id, file, `(a ${st.size}-byte file, over the size bound)`);
      data = await fsp.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    const actual = sha256Hex(data);
    if (actual !== id) throw new QuarantineCorruptError(id, file, actual);
    return data;
  }

  /** Make objects/ab/cdef… hold exactly `message`, keeping a correct existing copy. */
  async function writeObject(id: string, message: Uint8Array): Promise<void> {
    const file = objectFile(id);
    await ensureDir(path.dirname(file));
    const existingOk = async (): Promise<boolean> => {
      try {
        return (await readVerified(id)) !== null;
      } catch (e) {
        if (!(e instanceof QuarantineCorruptError)) throw e;
        warn(`${e.message}; replacing it with the new copy`);
        return false;
      }
    };
    if (await existingOk()) return;
    const tmp = await writeTemp(tmpDir, message);
    if (await linkNoReplace(tmp, file)) return;
    // Another writer created it between our check and link, or it was corrupt: check again.
    if (await existingOk()) return;
    await renameReplace(await writeTemp(tmpDir, message), file);
  }

  function listed(id: string): QuarEntry {
    checkId(id);
    const e = index.get(id);
    if (!e) throw new QuarantineNotFoundError(id);
    return e;
  }

  const store: QuarantineStore = {
    dir: root,
    recovery,

    async put(message, meta) {
      if (!(message instanceof Uint8Array)) throw new QuarantineError("quarantine: message must be a Uint8Array");
      if (message.byteLength > MAX_MESSAGE_BYTES) {
        throw new QuarantineError(`quarantine: message of ${message.byteLength} bytes is over the ${MAX_MESSAGE_BYTES}-byte bound`);
      }
      const now = new Date();
      const id = sha256Hex(message);
      const event: JournalEvent = { v: 1, ev: "stored", id, at: now.toISOString(), size: message.byteLength, meta: normaliseMeta(meta, now) };
      checkLineSize(event); // before the object, so an unjournalable put leaves nothing behind
      await writeObject(id, message);
      await journal.append(event);
      applyEvent(index, event);
      return { id };
    },

    async get(id) {
      listed(id);
      const data = await readVerified(id);
      if (data === null) throw new QuarantineError(`quarantine: object of ${id} is missing from ${objectsDir}`);
      return data;
    },

    info(id) {
      const e = ID_PATTERN.test(id) ? index.get(id) : undefined;
      return e && structuredClone(e);
    },

    list(filter = {}) {
      const limit = Math.min(filter.limit ?? MAX_LIST_ENTRIES, MAX_LIST_ENTRIES);
      if (!Number.isInteger(limit) || limit < 0) throw new QuarantineError(`quarantine: bad list limit ${filter.limit}`);
      const match = matcher(filter);
      const out: QuarEntry[] = [];
      const all = [...index.values()];
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
        if (match(all[i])) out.push(structuredClone(all[i]));
      }
      return out;
    },

    resolveId(prefix) {
      const p = prefix.toLowerCase();
      if (ID_PATTERN.test(p)) return index.has(p) ? p : undefined;
      if (!/^[0-9a-f]{6,63}$/.test(p)) throw new QuarantineError(`quarantine: bad id ${JSON.stringify(prefix)} (expected at least 6 hex digits)`);
      const found: string[] = [];
      for (const id of index.keys()) if (id.startsWith(p)) found.push(id);
      if (found.length > 1) throw new QuarantineError(`quarantine: id prefix ${p} is ambiguous (${found.length} messages); give more digits`);
      return found[0];
    },

    async delete(id) {
      listed(id);
      const event: JournalEvent = { v: 1, ev: "deleted", id, at: new Date().toISOString() };
      await journal.append(event);
      applyEvent(index, event);
      const file = objectFile(id);
      await fsp.rm(file, { force: true });
      await fsyncDir(path.dirname(file));
    },

    async restore(id, toDir = path.join(root, "restored")) {
      const data = await store.get(id);
      const dest = path.resolve(toDir);
      await ensureDir(dest);
      const file = path.join(dest, `${id}.eml`);
      // The temp file goes beside the target: rename/link only work within one file system.
      const tmp = await writeTemp(dest, data, ".bulwark-restore.");
      if (!(await linkNoReplace(tmp, file))) {
        const st = await fsp.stat(file);
        if (st.size !== data.byteLength || sha256Hex(await fsp.readFile(file)) !== id) throw new QuarantineError(`quarantine: ${file} exists with other content; not overwritten`);
      }
      const event: JournalEvent = { v: 1, ev: "restored", id, at: new Date().toISOString(), to: file };
      await journal.append(event);
      applyEvent(index, event);
      return { file };
    },

    async close() {
      await journal.close();
    },
  };
  return store;
}
