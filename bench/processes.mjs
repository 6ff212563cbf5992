// Process and port helpers the benchmarks share (bench/instream.mjs, bench/mta.mjs): peers
// started as children with their output in a log file, stopped with SIGTERM then SIGKILL, and
// killed on exit so an interrupted run leaves nothing behind.
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";

/** SIGKILL after this long: a peer that does not stop on SIGTERM must not hang the run. */
export const STOP_TIMEOUT_MS = 20_000;

const children = new Set();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

/** `cmd args` with stdout and stderr in `logFile` (`flags` "w" or "a"); `child.exited` resolves
 *  with its exit code. */
export function startProcess(cmd, args, logFile, { env = {}, flags = "w" } = {}) {
  const fd = openSync(logFile, flags);
  const child = spawn(cmd, args, { stdio: ["ignore", fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  children.add(child);
  child.exited = new Promise((r) => child.on("exit", (code) => r(code)));
  return child;
}

export async function stopProcess(child) {
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await child.exited;
    clearTimeout(t);
  }
  children.delete(child);
}

/** The process and all its live descendants (from /proc: a daemon's agents, Postfix's services). */
export function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${out[i]}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) out.push(Number(c));
      } catch {
        /* the task ended */
      }
    }
  }
  return out;
}

/** The p-th percentile (nearest rank) of an ascending array; NaN when it is empty. */
export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
