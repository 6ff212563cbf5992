/**
 * Test helper: a real `bulwark daemon --foreground` process (the built bin/bulwark) on a
 * private config in a temp dir, and runs of the built agent programs against it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Time for the daemon to load the built-in signatures and listen; it takes < 1 s normally. */
const START_TIMEOUT_MS = 15_000;

/** EICAR, each byte XOR 0x5a, so this file itself is not flagged by other scanners. */
export const EICAR = Buffer.from(
  "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270",
  "hex",
).map((b) => b ^ 0x5a);

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A config in `dir` with everything under `dir`; `extra` lines are appended ([section] headers included). */
export function writeConfig(dir: string, extra = "", name = "bulwark.cfg"): string {
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `[global]\ncache_dir = "${join(dir, "cache")}"\nbase_dir = "${join(dir, "lib")}"\nworkers = 1\n\n[clamd]\nagent_enabled = no\n\n[cli]\nagent_enabled = yes\n${extra}`);
  return file;
}

export interface DaemonProcess {
  child: ChildProcess;
  socket: string;
  pidFile: string;
  log(): string;
  exited: Promise<number | null>;
}

export interface SpawnedDaemon {
  child: ChildProcess;
  /** what it wrote so far, stdout and stderr together */
  rawLog(): string;
  /** its exit code */
  exited: Promise<number | null>;
  /** its exit code, once its output has been read to the end (waits for children holding it) */
  closed: Promise<number | null>;
}

/** Spawn `bulwark daemon --foreground` without waiting for anything. */
export function spawnDaemonProcess(config: string, env: NodeJS.ProcessEnv = {}): SpawnedDaemon {
  const child = spawn(process.execPath, [join(ROOT, "bin", "bulwark"), "daemon", "--config", config, "--foreground"], {
    stdio: ["ignore", "pipe", "pipe"],
    // no syslog: test machines may have no /dev/log (the syslog path has its own test, test/log/)
    env: { ...process.env, BULWARK_SYSLOG_SOCKET: "off", ...env },
  });
  // JSON log lines on stdout, start-up errors on stderr: both are the daemon's log here
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { child, rawLog: () => log, exited, closed };
}

/** Start `bulwark daemon --foreground` and wait for its pid file (written once it serves and its
 *  agents reported ready). `env` is added to this process's environment. */
export async function startDaemonProcess(config: string, cacheDir: string, env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
  const { child, rawLog, exited } = spawnDaemonProcess(config, env);
  const pidFile = join(cacheDir, "bulwark.pid");
  const deadline = Date.now() + START_TIMEOUT_MS;
  // a pid file left by a killed daemon may be there already: wait for one naming this child
  const ours = () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() === String(child.pid);
  while (!ours()) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`daemon did not start: ${rawLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, socket: join(cacheDir, "bulwark.sock"), pidFile, log: () => readableLog(rawLog()), exited };
}

/** The daemon's log as text lines: each JSON line (host/log) becomes `class: msg {fields}`, so
 *  tests can match "error: ..." whatever the target format; other lines stay as they are. */
export function readableLog(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      if (!line.startsWith("{")) return line;
      try {
        const { class: cls, msg, time: _t, pid: _p, name: _n, ...fields } = JSON.parse(line) as Record<string, unknown>;
        return `${String(cls)}: ${String(msg)}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ""}`;
      } catch {
        return line;
      }
    })
    .join("\n");
}

/** Wait until `cond` holds (polling); fails with `what` after `ms`. Not a timing assertion: the
 *  bound only turns a hang into a readable failure. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface AgentRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export function runAgent(name: "bulwark-pipe" | "bulwark-cli", args: string[], input?: Uint8Array): AgentRun {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", name), ...args], { input, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Run an agent without blocking this process (the test acts while it waits). */
export function startAgent(name: "bulwark-pipe" | "bulwark-cli", args: string[], input?: Uint8Array): { child: ChildProcess; done: Promise<AgentRun> } {
  const child = spawn(process.execPath, [join(ROOT, "bin", name), ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  let err = "";
  child.stdout!.on("data", (d: Buffer) => out.push(d));
  child.stderr!.on("data", (d) => (err += d));
  child.stdin!.on("error", () => {}); // the agent may exit before reading everything
  child.stdin!.end(input ?? Buffer.alloc(0));
  const done = new Promise<AgentRun>((resolve) => child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })));
  return { child, done };
}

/** SIGTERM a daemon started by startDaemonProcess, if it still runs, and wait for its exit. */
export async function stopDaemonProcess(d: DaemonProcess | undefined): Promise<void> {
  if (d && d.child.exitCode === null) {
    d.child.kill("SIGTERM");
    await d.exited;
  }
}
