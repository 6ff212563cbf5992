/**
 * The daemon's pid file (cache_dir/bulwark.pid): one decimal pid and a newline, written once
 * the daemon serves, removed when it stops. A file that names a live Bulwark process means a
 * daemon is running on this cache_dir; anything else (a dead pid, garbage, a pid reused by an
 * unrelated program after a crash or reboot) is stale and gets replaced.
 */
import fs from "node:fs";
import path from "node:path";

export const PID_FILE_NAME = "bulwark.pid";
/** A pid file is a few bytes; reading more than this means it is not ours. */
const MAX_PID_FILE_BYTES = 64;

/** The pid the file names, or null when it is absent or unreadable as a pid. */
export function readPidFile(file: string): number | null {
  let text: string;
  try {
    const fd = fs.openSync(file, "r");
    try {
      const buf = Buffer.alloc(MAX_PID_FILE_BYTES);
      text = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString("latin1");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
  const m = /^\s*(\d{1,10})\s*$/.exec(text);
  const pid = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
}

/** Whether a command line (argv) runs the daemon: the `bulwark` launcher (bin/bulwark, run by
 *  node or through a symlink) with the `daemon` command. A process that merely mentions
 *  "bulwark" is not one: bulwark-pipe (run per message by the MTA), `bulwark quar`, an editor on
 *  bulwark.cfg, `tail -f bulwark.log`; after a crash or a reboot the stale pid may name any of
 *  them, and the daemon must not refuse to start because of it. */
export function isDaemonCommandLine(argv: readonly string[]): boolean {
  const launcher = argv.findIndex((a) => path.basename(a) === "bulwark");
  return launcher >= 0 && argv.slice(launcher + 1).includes("daemon");
}

/** Whether `pid` is a running Bulwark daemon (isDaemonCommandLine; where /proc is not
 *  readable, any live process counts). */
export function isLiveBulwark(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false; // ESRCH: no such process
  }
  try {
    return isDaemonCommandLine(fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0"));
  } catch {
    return true;
  }
}

/** The pid of another live daemon the file names, or null when the file is absent or stale. */
export function runningDaemonPid(file: string): number | null {
  const pid = readPidFile(file);
  return pid !== null && pid !== process.pid && isLiveBulwark(pid) ? pid : null;
}

export function writePidFile(file: string): void {
  fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
}
