/**
 * Durable file steps of the quarantine (style-reliability B7): a new file is written under a
 * temp name created with O_EXCL (mode 0600) in the quarantine's own tmp/ directory (same file
 * system, so the final step is atomic), fsynced, then linked to its final name and the
 * directory fsynced, so a name that exists after a crash always has its whole content.
 * Also the recovery of temp files a crashed writer left behind.
 */
import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { TEMP_FILE_MAX_AGE_MS } from "./types.js";

/** Quarantined mail is private: only the daemon's user may read it. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;
const TEMP_SUFFIX = ".tmp";

/** fsync a directory so that entries created, renamed or removed in it survive a power loss
 *  (man 2 fsync: the file's own fsync does not cover its directory entry). */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** mkdir that also makes the new entry durable (fsync of the parent) when it created it. */
export async function ensureDir(dir: string): Promise<void> {
  const first = await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (first !== undefined) {
    // Every directory from `first` down is new: fsync each one's parent.
    for (let d = dir; ; d = path.dirname(d)) {
      await fsyncDir(path.dirname(d));
      if (d === first || path.dirname(d) === d) break;
    }
  }
}

/** Write `data` to a new temp file in tmpDir: O_CREAT|O_EXCL, mode 0600, write, fsync. The
 *  pid in the name lets recovery tell a live writer's file from a crashed one's. */
export async function writeTemp(tmpDir: string, data: Uint8Array, prefix = ""): Promise<string> {
  const tmp = path.join(tmpDir, `${prefix}${process.pid}.${randomBytes(8).toString("hex")}${TEMP_SUFFIX}`);
  const h = await fsp.open(tmp, "wx", FILE_MODE);
  try {
    await h.chmod(FILE_MODE); // open()'s mode is filtered by the umask
    await h.writeFile(data);
    await h.sync();
  } catch (e) {
    await h.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await h.close();
  return tmp;
}

/**
 * Give the durable temp file `tmp` the name `final` without ever replacing an existing file:
 * link(2) fails with EEXIST where rename(2) would overwrite. Returns false when `final`
 * already existed (the caller decides whether the existing file is acceptable); the temp
 * file is removed either way, and the directory fsynced when a name was added.
 */
export async function linkNoReplace(tmp: string, final: string): Promise<boolean> {
  try {
    await fsp.link(tmp, final);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      await fsp.rm(tmp, { force: true });
      return false;
    }
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsp.rm(tmp, { force: true });
  await fsyncDir(path.dirname(final));
  return true;
}

/** Replace `final` by the durable temp file `tmp` (rename is atomic), then fsync the directory. */
export async function renameReplace(tmp: string, final: string): Promise<void> {
  try {
    await fsp.rename(tmp, final);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(final));
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * Remove temp files left by a writer that crashed mid-write: those whose pid is no longer
 * running, those older than TEMP_FILE_MAX_AGE_MS, and any file not named like ours. A live
 * writer's file (another process putting right now) is left alone. Returns the names removed.
 */
export async function removeLeftoverTemps(tmpDir: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fsp.readdir(tmpDir)) {
    const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
    const file = path.join(tmpDir, name);
    let st: Stats;
    try {
      st = await fsp.stat(file);
    } catch {
      continue; // its writer finished meanwhile
    }
    const stale = !m || !processAlive(Number(m[1])) || now - st.mtimeMs > TEMP_FILE_MAX_AGE_MS;
    if (!stale) continue;
    await fsp.rm(file, { force: true, recursive: st.isDirectory() });
    removed.push(name);
  }
  if (removed.length) await fsyncDir(tmpDir);
  return removed;
}
