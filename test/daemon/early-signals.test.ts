/**
 * Signals that reach `bulwark daemon --foreground` while it is still loading its signatures:
 * SIGHUP must not kill it (the default action of SIGHUP) and is acted on once it serves;
 * SIGTERM stops it cleanly once started. The load is made long with a generated set of
 * random literals compiled without a cache; the signal is sent when the process has installed
 * its handler (SigCgt in /proc) and before the pid file exists, which the test checks.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readableLog, ROOT, tempDir, until, writeConfig } from "./daemon-process.js";

/** Literal signatures in the generated set: enough that compiling them takes well over the
 *  few milliseconds between the handler's installation and the end of the load. */
const GENERATED_SIGNATURES = 150_000;
const SIGHUP_BIT = 1n << 0n; // signal 1, bit 0 of the SigCgt mask
const SIGTERM_BIT = 1n << 14n; // signal 15

function caught(pid: number): bigint {
  const m = /^SigCgt:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function setup(): { cfg: string; cache: string } {
  const dir = tempDir("bulwark-early-");
  const lib = join(dir, "lib");
  mkdirSync(lib, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < GENERATED_SIGNATURES; i++) lines.push(`Gen.Early.${i}:0:*:${randomBytes(12).toString("hex")}`);
  writeFileSync(join(lib, "early.ndb"), `${lines.join("\n")}\n`);
  return { cfg: writeConfig(dir), cache: join(dir, "cache") };
}

function startLoading(cfg: string) {
  const child = spawn(process.execPath, [join(ROOT, "bin", "bulwark"), "daemon", "--config", cfg, "--foreground"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BULWARK_SYSLOG_SOCKET: "off" },
  });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code, sig) => r(code ?? (sig ? -1 : null))));
  return { child, log: () => readableLog(log), exited };
}

describe("signals during start-up", () => {
  it("a SIGHUP while the signatures load neither kills the daemon nor is lost", async () => {
    const { cfg, cache } = setup();
    const d = startLoading(cfg);
    try {
      await until(() => d.child.exitCode === null && (caught(d.child.pid!) & SIGHUP_BIT) !== 0n, "the SIGHUP handler", 30_000);
      expect(existsSync(join(cache, "bulwark.pid")), "the signal must arrive before the daemon is ready").toBe(false);
      d.child.kill("SIGHUP");
      await until(() => existsSync(join(cache, "bulwark.pid")) || d.child.exitCode !== null, "the daemon to start", 60_000);
      expect(d.child.exitCode).toBeNull();
      await until(() => d.log().includes("SIGHUP received: reloading"), "the early SIGHUP to be acted on", 60_000);
      d.child.kill("SIGTERM");
      expect(await d.exited).toBe(0);
    } finally {
      d.child.kill("SIGKILL");
    }
  }, 120_000);

  it("a SIGTERM while the signatures load stops the daemon cleanly once it is up", async () => {
    const { cfg, cache } = setup();
    const d = startLoading(cfg);
    try {
      await until(() => d.child.exitCode === null && (caught(d.child.pid!) & (SIGTERM_BIT | SIGHUP_BIT)) === (SIGTERM_BIT | SIGHUP_BIT), "the start-up signal handlers", 30_000);
      expect(existsSync(join(cache, "bulwark.pid"))).toBe(false);
      d.child.kill("SIGTERM");
      expect(await d.exited).toBe(0);
      expect(d.log()).toMatch(/info: stopped/);
      expect(existsSync(join(cache, "bulwark.pid"))).toBe(false);
    } finally {
      d.child.kill("SIGKILL");
    }
  }, 120_000);
});
