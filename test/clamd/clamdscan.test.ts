/**
 * Debian's real `clamdscan` (package clamdscan) as a client of Bulwark's clamd server:
 * `--stream -` over TCP with EICAR on stdin, and plain and `--multiscan` path scans over a
 * unix socket (clamdscan sends the paths; the server reads the files). EICAR is generated at
 * test time. clamdscan missing is a failure, not a skip.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { startClamdServer, type ClamdServer } from "../../host/clamd/server.js";
import { createScanner } from "../../host/scanner.js";
import { EICAR, requireBinary } from "./clamd-peer.js";

/** INSTREAM limit of the servers under test */
const STREAM_MAX = 1 << 20;

let dir: string;
let scanner: Scanner;
let tcp: ClamdServer;
let unix: ClamdServer;
let clamdscan: string;
let tcpConf: string;
let unixConf: string;

beforeAll(async () => {
  clamdscan = requireBinary("clamdscan", "clamdscan");
  dir = mkdtempSync(join(tmpdir(), "bulwark-clamdscan-"));
  scanner = await createScanner({ databases: [], workers: 1, cacheDir: null });
  tcp = await startClamdServer({ scanner, listen: { port: 0, host: "127.0.0.1" }, streamMaxLength: STREAM_MAX });
  unix = await startClamdServer({ scanner, listen: { path: join(dir, "bulwark.sock") }, streamMaxLength: STREAM_MAX });
  const port = (tcp.address as { port: number }).port;
  tcpConf = join(dir, "tcp.conf");
  writeFileSync(tcpConf, `TCPSocket ${port}\nTCPAddr 127.0.0.1\n`);
  unixConf = join(dir, "unix.conf");
  writeFileSync(unixConf, `LocalSocket ${join(dir, "bulwark.sock")}\n`);
  mkdirSync(join(dir, "tree", "sub"), { recursive: true });
  writeFileSync(join(dir, "tree", "a-clean.txt"), "nothing to see here\n");
  writeFileSync(join(dir, "tree", "b-eicar.com"), EICAR);
  writeFileSync(join(dir, "tree", "sub", "c-eicar.com"), EICAR);
  writeFileSync(join(dir, "tree", "sub", "d-clean.txt"), "still nothing\n");
});

afterAll(async () => {
  await tcp?.close();
  await unix?.close();
  await scanner?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run clamdscan asynchronously: the server under test lives in this process's event loop. */
function run(args: string[], input?: Uint8Array): Promise<{ code: number | null; out: string; err: string; found: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(clamdscan, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, found: out.split("\n").filter((l) => / FOUND$/.test(l)) });
    });
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

describe("clamdscan as a client", () => {
  it("--stream - over TCP reports EICAR from stdin", async () => {
    const r = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], EICAR);
    expect(r.err).toBe("");
    expect(r.out).toBe("stream: Eicar-Test-Signature FOUND\n");
    expect(r.code).toBe(1);
  });

  it("--stream - over TCP reports clean input OK with exit 0", async () => {
    const r = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], Buffer.from("hello\n"));
    expect(r.out).toBe("stream: OK\n");
    expect(r.code).toBe(0);
  });

  it("plain scan of a directory over the unix socket lists every infected file", async () => {
    const r = await run([`--config-file=${unixConf}`, join(dir, "tree")]);
    expect(r.found.sort()).toEqual([
      `${join(dir, "tree", "b-eicar.com")}: Eicar-Test-Signature FOUND`,
      `${join(dir, "tree", "sub", "c-eicar.com")}: Eicar-Test-Signature FOUND`,
    ]);
    expect(r.out).toMatch(/^Infected files: 2$/m);
    expect(r.code).toBe(1);
  });

  it("plain scan of single files: one infected, one clean", async () => {
    const r = await run([`--config-file=${unixConf}`, "--no-summary", join(dir, "tree", "a-clean.txt"), join(dir, "tree", "b-eicar.com")]);
    expect(r.found).toEqual([`${join(dir, "tree", "b-eicar.com")}: Eicar-Test-Signature FOUND`]);
    expect(r.code).toBe(1);
    const clean = await run([`--config-file=${unixConf}`, "--no-summary", join(dir, "tree", "a-clean.txt")]);
    expect(clean.out).toBe(`${join(dir, "tree", "a-clean.txt")}: OK\n`);
    expect(clean.code).toBe(0);
  });

  it("--multiscan of a directory finds both infected files", async () => {
    const r = await run([`--config-file=${unixConf}`, "--multiscan", join(dir, "tree")]);
    expect(r.found.sort()).toEqual([
      `${join(dir, "tree", "b-eicar.com")}: Eicar-Test-Signature FOUND`,
      `${join(dir, "tree", "sub", "c-eicar.com")}: Eicar-Test-Signature FOUND`,
    ]);
    expect(r.code).toBe(1);
  });

  it("--stream of input over StreamMaxLength: clamdscan reports the size-limit error (exit 2)", async () => {
    const r = await run([`--config-file=${tcpConf}`, "--no-summary", "--stream", "-"], Buffer.alloc(STREAM_MAX + 1, 0x41));
    expect(r.out + r.err).toMatch(/INSTREAM size limit exceeded/);
    expect(r.out).not.toMatch(/OK$/m);
    expect(r.code).toBe(2);
  });
});
