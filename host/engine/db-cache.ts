/**
 * The compiled-database cache: the blob compile.ts produced, stored as it is, keyed by the
 * signature files (path, size, mtime), the built-in switch and the compiler itself. A hit
 * reads the file straight into the shared memory: one copy, no parsing, no compiling.
 * Writes are atomic (temp file, fsync, rename) so a crash never leaves a torn cache; a cache
 * that fails its header check is ignored and rebuilt.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../atomic-write.js";
import { packageFile } from "../paths.js";
import { DB_VERSION } from "./layout.js";

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

export function cacheKey(paths: string[], builtin: boolean): string {
  const h = crypto.createHash("sha256");
  h.update(`v${DB_VERSION}\0builtin=${builtin}\0`);
  // the compiler, the anchor model and the core are part of what the blob means
  const self = fileURLToPath(import.meta.url);
  for (const f of [path.join(path.dirname(self), "compile.js"), path.join(path.dirname(self), "compile.ts"), path.join(path.dirname(self), "anchor.js"), path.join(path.dirname(self), "anchor.ts"), packageFile("engine-wasm/model/bigram.bin")]) {
    h.update(statKey(f) + "\0");
  }
  for (const f of sourceFiles(paths)) h.update(statKey(f) + "\0");
  return h.digest("hex").slice(0, 32);
}

export function cachePath(dir: string, key: string): string {
  return path.join(dir, `db-${key}.bin`);
}

export function writeCache(file: string, blob: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, blob);
}

/** Size of a cache file, or -1 if absent. */
export function cacheSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** Read a cache file into `view` (exactly view.length bytes). */
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
}
