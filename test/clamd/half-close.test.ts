/**
 * Clients that half-close (shutdown(SHUT_WR)) once their request is sent: `nc -N`, socat, and
 * libraries that signal the end of an INSTREAM that way. Real clamd 1.4 still answers them; the
 * replies must be the same byte for byte. Both servers load the same generated .ndb file.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { startClamdServer, type ClamdServer } from "../../host/clamd/server.js";
import { createScanner } from "../../host/scanner.js";
import { instream, startRealClamd, type RealClamd } from "./clamd-peer.js";

const STREAM_MAX = 4096;
let dir: string;
let clamd: RealClamd;
let scanner: Scanner;
let bulwark: ClamdServer;
const marker = `bulwark-half-close-${randomBytes(8).toString("hex")}`;
const infected = Buffer.from(`before ${marker} after\n`);

/** Write `bytes` in one go, half-close, and collect everything until the server closes. */
function sendThenHalfClose(path: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close within 10 s; got ${JSON.stringify(Buffer.concat(got).toString("latin1"))}`));
    }, 10_000);
    sock.on("data", (d) => got.push(d));
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got).toString("latin1"));
    });
    sock.on("connect", () => sock.end(bytes));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-half-close-"));
  const db = join(dir, "db");
  mkdirSync(db);
  writeFileSync(join(db, "half.ndb"), `Test.HalfClose.Marker:0:*:${Buffer.from(marker).toString("hex")}\n`);
  writeFileSync(join(dir, "infected.txt"), infected);
  writeFileSync(join(dir, "clean.txt"), "nothing here\n");
  [clamd, scanner] = await Promise.all([
    startRealClamd(dir, db, STREAM_MAX),
    createScanner({ databases: [db], workers: 1, cacheDir: null }),
  ]);
  bulwark = await startClamdServer({ scanner, listen: { path: join(dir, "bulwark.sock") }, streamMaxLength: STREAM_MAX });
});

afterAll(async () => {
  await bulwark?.close();
  await scanner?.close();
  await clamd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a client that half-closes after its request gets clamd's reply", () => {
  const cases: Array<[string, () => Buffer]> = [
    ["INSTREAM clean", () => instream(Buffer.from("hello\n"))],
    ["INSTREAM infected, n framing", () => instream(infected, 7, "n")],
    ["SCAN infected file", () => Buffer.from(`zSCAN ${join(dir, "infected.txt")}\0`)],
    ["SCAN missing file", () => Buffer.from(`nSCAN ${join(dir, "missing.txt")}\n`)],
    ["bare SCAN (no prefix, no newline)", () => Buffer.from(`SCAN ${join(dir, "infected.txt")}`)],
    ["bare PING", () => Buffer.from("PING")],
  ];
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const [theirs, ours] = await Promise.all([
        sendThenHalfClose(clamd.address.path, bytes()),
        sendThenHalfClose(join(dir, "bulwark.sock"), bytes()),
      ]);
      expect(theirs).not.toBe(""); // clamd answers a half-closed request
      expect(ours).toBe(theirs);
    });
  }
});
