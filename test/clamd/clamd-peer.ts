/**
 * Test helpers for the clamd protocol tests: a raw client that sends bytes (optionally in
 * separate writes) and collects everything until the server closes; EICAR generated at
 * run time; INSTREAM framing; and a real clamd started from Debian's clamav-daemon package
 * on a unix socket in a temp dir (fails loudly when the binary is missing).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";

/** EICAR, each byte XOR 0x5a, so this file itself is not flagged by other scanners. */
export const EICAR = Buffer.from(
  "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270",
  "hex",
).map((b) => b ^ 0x5a);

export type Address = { path: string } | { host: string; port: number };

export function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** `<prefix>INSTREAM<term>`, the data in chunks of `chunkSize`, then the zero terminator. */
export function instream(data: Uint8Array, chunkSize = 4096, prefix: "z" | "n" = "z"): Buffer {
  const parts: Buffer[] = [Buffer.from(prefix === "z" ? "zINSTREAM\0" : "nINSTREAM\n")];
  for (let i = 0; i < data.length; i += chunkSize) {
    const c = data.subarray(i, Math.min(data.length, i + chunkSize));
    parts.push(be32(c.length), Buffer.from(c));
  }
  parts.push(be32(0));
  return Buffer.concat(parts);
}

/** Must-have binary from a Debian package: fail the test run loudly if it is missing. */
export function requireBinary(name: string, pkg: string): string {
  const r = spawnSync("sh", ["-c", `command -v ${name} || ls /usr/sbin/${name} 2>/dev/null`], { encoding: "utf8" });
  const bin = r.stdout.trim().split("\n")[0];
  if (!bin) throw new Error(`${name} not found: install the Debian package ${pkg} (see .ci/run)`);
  return bin;
}

/**
 * Send `pieces` as separate writes (each flushed and given a moment to arrive alone), then
 * read until the server closes. Resolves with everything received; rejects on timeout.
 */
export function talk(addr: Address, pieces: Buffer | Buffer[], timeoutMs = 10_000, gapMs = 0): Promise<Buffer> {
  const list = Array.isArray(pieces) ? pieces : [pieces];
  return new Promise((resolve, reject) => {
    const sock = "path" in addr ? net.connect(addr.path) : net.connect(addr.port, addr.host);
    sock.setNoDelay(true);
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(got).toString("latin1"))}`));
    }, timeoutMs);
    sock.on("data", (d) => got.push(d));
    sock.on("error", () => {}); // EPIPE/ECONNRESET after the server closed are expected
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    sock.on("connect", async () => {
      for (const p of list) {
        if (sock.destroyed) return;
        await new Promise<void>((r) => sock.write(p, () => r()));
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        else await new Promise((r) => setImmediate(r));
      }
    });
  });
}

/** Enough of clamd's log to show the reason of a failed start, not the whole database load. */
const LOG_TAIL_LINES = 20;

/** The last lines of clamd's log, for an error message (clamd often says why only there). */
function logTail(file: string): string {
  try {
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    return `\n${file} ends with:\n${lines.slice(-LOG_TAIL_LINES).join("\n")}`;
  } catch {
    return "";
  }
}

export interface RealClamd {
  address: { path: string };
  stop(): Promise<void>;
}

/** Start Debian's clamd in the foreground on `dir`/clamd.sock with the databases in dbDir.
 *  Its log is `dir`/clamd.log, a file of its own: clamd locks its LogFile (clamd.conf(5),
 *  LogFileUnlock), so two clamds sharing one file (say /dev/null, from test files running in
 *  parallel) make the second exit with "Can't initialize the internal logger". A private file
 *  keeps the lock (one clamd per dir, as intended) and gives start-up failures a log to show. */
export async function startRealClamd(dir: string, dbDir: string, streamMaxLength: number): Promise<RealClamd> {
  const bin = requireBinary("clamd", "clamav-daemon");
  const sockPath = join(dir, "clamd.sock");
  const conf = join(dir, "clamd.conf");
  const logFile = join(dir, "clamd.log");
  writeFileSync(
    conf,
    [
      "Foreground yes",
      `LocalSocket ${sockPath}`,
      `DatabaseDirectory ${dbDir}`,
      `StreamMaxLength ${streamMaxLength}`,
      `PidFile ${join(dir, "clamd.pid")}`,
      `TemporaryDirectory ${dir}`,
      `LogFile ${logFile}`,
      "CommandReadTimeout 1", // seconds: lets a test observe the idle-client reply quickly
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(bin, [`--config-file=${conf}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  let exited = false;
  child.on("exit", () => (exited = true));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`clamd exited during start-up: ${stderr}${logTail(logFile)}`);
    if (existsSync(sockPath)) {
      const reply = await talk({ path: sockPath }, Buffer.from("nPING\n"), 2_000).catch(() => Buffer.alloc(0));
      if (reply.toString() === "PONG\n") break;
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`clamd did not answer PING within 30 s: ${stderr}${logTail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: { path: sockPath },
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
