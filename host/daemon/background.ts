/**
 * `bulwark daemon` without --foreground: start `bulwark daemon --foreground --config FILE` as a
 * detached process (its own session, so the caller's terminal and signals do not reach it) with
 * stdout and stderr appended to cache_dir/bulwark.log, then wait until it serves: its pid file
 * names it and its socket answers PING. Exit 0 then; exit 2 with what it logged when it exits
 * first or does not become ready in time (it is then stopped).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { clamdPing } from "./ping.js";
import { formatConfigError } from "../config/ini.js";
import { loadConfig } from "../config/load.js";
import { PID_FILE_NAME, readPidFile, runningDaemonPid } from "./pid-file.js";

export const LOG_FILE_NAME = "bulwark.log";
/** How long the starter waits for the daemon to serve. A cold start with a large database
 *  (parse and compile 1M signatures, no compiled cache yet) takes tens of seconds on a small
 *  machine; 5 minutes leaves room for that and still ends a start that hangs. */
export const BACKGROUND_READY_TIMEOUT_MS = 300_000;
/** Interval between readiness checks: fast enough to return promptly, cheap enough not to matter. */
const POLL_MS = 100;
/** Most of the daemon's log shown when it failed to start: its refusal is in the last lines. */
const MAX_FAILURE_OUTPUT = 64 * 1024;

const out = (m: string) => process.stderr.write(`${m}\n`);

function tail(file: string, from: number): string {
  try {
    const size = fs.statSync(file).size;
    const start = Math.max(from, size - MAX_FAILURE_OUTPUT);
    const fd = fs.openSync(file, "r");
    try {
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    return `(cannot read ${file}: ${(e as Error).message})\n`;
  }
}

export async function startInBackground(configFile: string): Promise<number> {
  const r = loadConfig(configFile);
  if (r.globalErrors.length) {
    for (const e of r.globalErrors) out(formatConfigError(e));
    out("bulwark: refusing to start");
    return 2;
  }
  const cacheDir = r.config.path("global", "cache_dir");
  const socketPath = r.config.path("global", "daemon_socket_path");
  const pidFile = path.join(cacheDir, PID_FILE_NAME);
  const logFile = path.join(cacheDir, LOG_FILE_NAME);
  let fd: number;
  try {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o750 });
    const running = runningDaemonPid(pidFile);
    if (running !== null) {
      out(`ERROR: another Bulwark daemon (pid ${running}) is running on ${cacheDir} (pid file ${pidFile})`);
      return 2;
    }
    fd = fs.openSync(logFile, "a", 0o640);
  } catch (e) {
    out(`ERROR: ${(e as Error).message}`);
    return 2;
  }
  const logStart = fs.fstatSync(fd).size;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...process.execArgv, process.argv[1], "daemon", "--config", configFile, "--foreground"], {
      detached: true,
      stdio: ["ignore", fd, fd],
    });
  } catch (e) {
    out(`ERROR: cannot start the daemon: ${(e as Error).message}`);
    return 2;
  } finally {
    fs.closeSync(fd);
  }
  let exit: string | null = null;
  child.on("exit", (code, signal) => (exit = signal ? `was killed by ${signal}` : `exited with code ${code}`));
  child.on("error", (e) => (exit = `could not be started: ${e.message}`));

  const deadline = Date.now() + BACKGROUND_READY_TIMEOUT_MS;
  for (;;) {
    if (exit !== null) {
      process.stderr.write(tail(logFile, logStart));
      out(`bulwark: the daemon ${exit} before it was ready (log: ${logFile})`);
      return 2;
    }
    if (child.pid !== undefined && readPidFile(pidFile) === child.pid && (await clamdPing(socketPath))) {
      child.unref();
      out(`bulwark: daemon started (pid ${child.pid}), logging to ${logFile}`);
      return 0;
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      process.stderr.write(tail(logFile, logStart));
      out(`bulwark: the daemon did not become ready within ${BACKGROUND_READY_TIMEOUT_MS / 1000} s; stopped it (log: ${logFile})`);
      return 2;
    }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}
