/**
 * The daemon's start lock, cache_dir/bulwark.lock: held from the first step of a start until the
 * daemon has stopped, so that of several daemons started at the same moment on one cache_dir
 * exactly one goes on to touch the socket, the pid file and the stores (host/clamd/server.ts
 * takes over a socket file nobody answers on; two starters doing that at once would unlink each
 * other's live socket and both run).
 *
 * Layout: bulwark.lock is a directory holding one file, `<pid>.<nonce>`, whose content is the
 * pid. An empty directory (or none) means free. Why a directory and not an O_EXCL file: a stale
 * file lock can only be broken by "read it, judge it stale, unlink it", and between the judging
 * and the unlink a second breaker may already have replaced it with its own live lock, which the
 * first then unlinks (both run). The directory gives two operations that act only on what was
 * judged, so nothing can race:
 * - take: build `bulwark.lock.new.<pid>.<nonce>/<pid>.<nonce>` privately, then rename(2) it onto
 *   bulwark.lock. rename replaces a missing or EMPTY directory atomically and fails (ENOTEMPTY)
 *   on a held one, so exactly one of several starters wins, and the lock appears with its owner
 *   already named (no half-written lock for anyone to misjudge).
 * - break a stale lock: unlink `bulwark.lock/<pid>.<nonce>` BY NAME. The nonce is unique to one
 *   start, so this removes exactly the lock that was judged stale; if a faster breaker removed it
 *   and someone took the lock meanwhile, the name is not there (ENOENT) and the new holder's
 *   lock is untouched. The directory is then empty and the next rename takes it.
 * A lock is stale when its pid is gone or names a process that is not a Bulwark daemon
 * (isLiveBulwark: the pid of a daemon killed with -9 may be reused by anything after a reboot).
 * Released (unlink of our entry, then rmdir, which only removes an empty directory) when the
 * daemon has closed or its start failed.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isLiveBulwark } from "./pid-file.js";

export const LOCK_DIR_NAME = "bulwark.lock";
const NEW_PREFIX = `${LOCK_DIR_NAME}.new.`;
/** `<pid>.<nonce>`: the pid for the liveness check, the nonce (NONCE_BYTES random bytes, hex)
 *  so that an owner's entry is never confused with a dead process's that had the same pid. */
const ENTRY = /^(\d{1,10})\.([0-9a-f]{16,64})$/;
const NONCE_BYTES = 12;
/** Each failed take means another starter changed the lock in between (took it, released it,
 *  broke a stale one); a live holder ends the loop at once with a refusal. 50 rounds are far
 *  more than any number of simultaneous starts needs, and still end a loop that would not. */
export const MAX_LOCK_ROUNDS = 50;

/** Entries this process holds: a lock naming our own pid is ours only if its nonce is here
 *  (otherwise it was left by a dead process that had our pid). */
const heldHere = new Set<string>();

export class LockHeld extends Error {
  constructor(readonly pid: number, readonly cacheDir: string, lockDir: string) {
    super(`another Bulwark daemon (pid ${pid}) is running on ${cacheDir} (lock ${lockDir})`);
  }
}

export interface StartLock {
  readonly dir: string;
  /** our entry's name inside dir */
  readonly entry: string;
  /** Give the lock up. Idempotent; never throws. */
  release(): void;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** The pid of the live daemon holding an entry, or null when the entry is stale. */
function holderOf(entry: string): number | null {
  const m = ENTRY.exec(entry);
  if (!m) return null;
  const pid = Number(m[1]);
  if (pid === process.pid) return heldHere.has(entry) ? pid : null;
  return pid > 1 && isLiveBulwark(pid) ? pid : null;
}

/** Remove the stale entries of a held-looking lock; throw LockHeld for a live one. */
function judgeLock(lockDir: string, cacheDir: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(lockDir);
  } catch (e) {
    if (code(e) === "ENOENT") return; // released meanwhile: take it in the next round
    if (code(e) !== "ENOTDIR") throw e;
    // a plain file there (not made by this code): it can only go away, never turn into a lock
    // directory while it exists, so removing it cannot hit a live lock
    const pid = Number(/^\s*(\d{1,10})\s*$/.exec(readSmall(lockDir))?.[1] ?? NaN);
    if (Number.isSafeInteger(pid) && pid > 1 && pid !== process.pid && isLiveBulwark(pid)) throw new LockHeld(pid, cacheDir, lockDir);
    unlinkIfThere(lockDir);
    return;
  }
  const live = entries.map(holderOf).find((p) => p !== null);
  if (live != null) throw new LockHeld(live, cacheDir, lockDir);
  // all stale: remove exactly those names (see the header on why by name)
  for (const e of entries) fs.rmSync(path.join(lockDir, e), { recursive: true, force: true });
}

function readSmall(file: string): string {
  try {
    return fs.readFileSync(file, "latin1").slice(0, 64);
  } catch {
    return "";
  }
}

function unlinkIfThere(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    // ENOENT: someone else removed it; EISDIR/EPERM: it is a lock directory by now, not ours
    if (!["ENOENT", "EISDIR", "EPERM"].includes(code(e) ?? "")) throw e;
  }
}

/** Staging directories left by starters killed between building and renaming theirs. */
function removeDeadStaging(cacheDir: string): void {
  try {
    for (const name of fs.readdirSync(cacheDir)) {
      if (!name.startsWith(NEW_PREFIX)) continue;
      const pid = Number(/^(\d{1,10})\./.exec(name.slice(NEW_PREFIX.length))?.[1] ?? NaN);
      if (pid === process.pid || (Number.isSafeInteger(pid) && pid > 1 && isLiveBulwark(pid))) continue;
      fs.rmSync(path.join(cacheDir, name), { recursive: true, force: true });
    }
  } catch {
    /* housekeeping only: leftovers are retried at the next start */
  }
}

/** Take cache_dir's start lock, or throw LockHeld naming the daemon that has it. cacheDir must exist. */
export function takeStartLock(cacheDir: string): StartLock {
  const lockDir = path.join(cacheDir, LOCK_DIR_NAME);
  const entry = `${process.pid}.${crypto.randomBytes(NONCE_BYTES).toString("hex")}`;
  const staging = path.join(cacheDir, `${NEW_PREFIX}${entry}`);
  fs.mkdirSync(staging, { mode: 0o755 });
  try {
    fs.writeFileSync(path.join(staging, entry), `${process.pid}\n`, { mode: 0o644 });
    for (let round = 0; round < MAX_LOCK_ROUNDS; round++) {
      try {
        fs.renameSync(staging, lockDir);
      } catch (e) {
        if (!["ENOTEMPTY", "EEXIST", "ENOTDIR"].includes(code(e) ?? "")) throw e;
        judgeLock(lockDir, cacheDir);
        continue;
      }
      heldHere.add(entry);
      removeDeadStaging(cacheDir);
      let released = false;
      return {
        dir: lockDir,
        entry,
        release() {
          if (released) return;
          released = true;
          heldHere.delete(entry);
          try {
            fs.unlinkSync(path.join(lockDir, entry));
            fs.rmdirSync(lockDir); // only if empty: a starter may have taken it already
          } catch {
            /* gone or taken over already: nothing of ours is left to remove */
          }
        },
      };
    }
    throw new Error(`cannot take the start lock ${lockDir}: it changed hands ${MAX_LOCK_ROUNDS} times while starting`);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}
