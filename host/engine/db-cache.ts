/**
 * The compiled-database cache: the blob compile.ts produced, stored as it is, keyed by the
 * signature files (path, size, mtime), the built-in switch and the CONTENT of the code and
 * models that turn signature files into a blob (so a rebuild that changes nothing keeps the
 * cache; a changed compiler invalidates it). A hit reads the file straight into the shared
 * memory: one copy, no parsing, no compiling.
 * Writes are atomic (temp file, fsync, rename) so a crash never leaves a torn cache; a cache
 * that fails its header check is ignored and rebuilt. Only the MAX_CACHE_ENTRIES most recently
 * used blobs are kept. Several processes may share the directory: every step tolerates a file
 * appearing or vanishing under it.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../atomic-write.js";
import { packageFile } from "../paths.js";
import { DB_VERSION } from "./layout.js";

/**
 * Blobs kept in a cache directory; older ones are removed after each write. A full database
 * compiles to hundreds of megabytes, so the directory must not grow with every signature
 * update. Four covers what one machine uses at once (the daemon's database, a `bulwark scan
 * --database` or test database, the built-in-only one) plus the previous version of the
 * daemon's during an update, without ever keeping more than about a gigabyte.
 */
export const MAX_CACHE_ENTRIES = 4;

/** A temp file of an interrupted write older than this is debris (a write takes seconds). */
const STALE_TEMP_MS = 60 * 60 * 1000;

const CACHE_FILE = /^db-[0-9a-f]{32}\.bin$/;
const TEMP_FILE = /^\.db-[0-9a-f]{32}\.bin\..*\.tmp$/;

/**
 * Directories (relative to this module's parent) whose code decides what a blob contains: the
 * compiler and its helpers (engine/) and the signature parsers, including the built-in
 * signature (sigs/). Whole directories, not a hand-kept import list, so a new helper module
 * cannot be forgotten; a change elsewhere in them only costs one recompile.
 */
const COMPILER_DIRS = ["engine", "sigs"];
/** Frequency models the anchor chooser reads (anchor.ts); a different model, a different blob. */
const MODEL_FILES = ["bigram.bin", "gram4.bin", "gram8.bin"];

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "bulwark");
}

function statKey(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}`;
  } catch {
    return `${p}:missing`;
  }
}

/** Files that make up the database: each path, or the entries of each directory. */
function sourceFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const abs = path.resolve(p);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      out.push(abs);
      continue;
    }
    if (st.isDirectory()) for (const e of fs.readdirSync(abs).sort()) out.push(path.join(abs, e));
    else out.push(abs);
  }
  return out;
}

/** Module files of a directory: .js when running compiled, .ts when running from source. */
function moduleFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith(".d.ts")).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

let compilerDigest: string | undefined;

/**
 * SHA-256 over the bytes of the compiler's modules and the models: computed once per process
 * (some hundred kilobytes). Content, not mtimes: every `tsc` run rewrites dist/ with new
 * mtimes, and keying by them made each rebuild recompile the whole database.
 */
export function compilerFingerprint(): string {
  if (compilerDigest === undefined) {
    const h = crypto.createHash("sha256");
    const hostDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
    const files = [...COMPILER_DIRS.flatMap((d) => moduleFiles(path.join(hostDir, d))), ...MODEL_FILES.map((f) => packageFile(`engine-wasm/model/${f}`))];
    for (const f of files) {
      let bytes: Buffer | null = null;
      try {
        bytes = fs.readFileSync(f);
      } catch {
        /* a missing model is a state of its own (anchor.ts falls back to a flat one) */
      }
      h.update(`${path.basename(f)}\0${bytes ? bytes.length : "missing"}\0`);
      if (bytes) h.update(bytes);
    }
    compilerDigest = h.digest("hex");
  }
  return compilerDigest;
}

export function cacheKey(paths: string[], builtin: boolean): string {
  const h = crypto.createHash("sha256");
  h.update(`v${DB_VERSION}\0builtin=${builtin}\0compiler=${compilerFingerprint()}\0`);
  for (const f of sourceFiles(paths)) h.update(statKey(f) + "\0");
  return h.digest("hex").slice(0, 32);
}

export function cachePath(dir: string, key: string): string {
  return path.join(dir, `db-${key}.bin`);
}

/** Write a blob atomically, then drop the blobs beyond the newest MAX_CACHE_ENTRIES. */
export function writeCache(file: string, blob: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, blob);
  try {
    pruneCache(path.dirname(file), file);
  } catch {
    /* cleaning is housekeeping: the blob is written, a failure here costs only disk space */
  }
}

/**
 * Remove all but the `keep` most recently used blobs of `dir` (by mtime, which a read
 * refreshes), never `current`, plus temp files of writes that died long ago. Another process
 * may be writing, reading or pruning the same directory: a file that vanishes is fine, and a
 * blob removed while another process reads it stays readable to that process (unlink semantics);
 * at worst someone recompiles.
 */
export function pruneCache(dir: string, current: string, keep = MAX_CACHE_ENTRIES): void {
  const now = Date.now();
  const blobs: Array<{ file: string; mtimeMs: number }> = [];
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (!CACHE_FILE.test(name) && !TEMP_FILE.test(name)) continue; // not ours: leave it alone
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      continue; // removed meanwhile
    }
    if (!st.isFile()) continue;
    if (TEMP_FILE.test(name)) {
      if (now - st.mtimeMs > STALE_TEMP_MS) fs.rmSync(file, { force: true });
    } else if (path.resolve(file) !== path.resolve(current)) {
      blobs.push({ file, mtimeMs: st.mtimeMs });
    }
  }
  blobs.sort((a, b) => b.mtimeMs - a.mtimeMs);
  // `current` takes one of the `keep` places
  for (const { file } of blobs.slice(Math.max(0, keep - 1))) fs.rmSync(file, { force: true });
}

/** Size of a cache file, or -1 if absent. */
export function cacheSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** Read a cache file into `view` (exactly view.length bytes), and mark it as just used. */
export function readCacheInto(file: string, view: Uint8Array): void {
  const fd = fs.openSync(file, "r");
  try {
    let at = 0;
    while (at < view.length) {
      const n = fs.readSync(fd, view, at, view.length - at, at);
      if (n <= 0) throw new Error(`database cache ${file} is truncated`);
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  // pruning keeps the newest blobs: a blob in daily use must count as new however old it is
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    /* read-only cache (or removed meanwhile): it only loses its place in the queue */
  }
}
