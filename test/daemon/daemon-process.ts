/**
 * Test helper: a real `bulwark daemon --foreground` process (the built bin/bulwark) on a
 * private config in a temp dir, and runs of the built agent programs against it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

export async function startDaemonProcess(config: string, cacheDir: string): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [join(ROOT, "bin", "bulwark"), "daemon", "--config", config, "--foreground"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const pidFile = join(cacheDir, "bulwark.pid");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!existsSync(pidFile)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`daemon did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, socket: join(cacheDir, "bulwark.sock"), pidFile, log: () => log, exited };
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
