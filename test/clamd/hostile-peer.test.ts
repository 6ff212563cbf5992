/**
 * The clamd server against a hostile or clumsy peer: every transcript split at every byte
 * offset gives the same reply as the transcript sent whole; INSTREAM with 1-byte chunks and
 * one huge chunk; the StreamMaxLength boundary (exactly at, one over, a 0xffffffff length);
 * over-long command lines, idle peers, and the bounds on connections and IDSESSION requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { startClamdServer, type ClamdServer } from "../../host/clamd/server.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { createScanner } from "../../host/scanner.js";
import { be32, EICAR, instream, talk, type Address } from "./clamd-peer.js";

const STREAM_MAX = 64 * 1024;
const VERSION = "ClamAV 1.4.6/Bulwark-test";

let dir: string;
let scanner: Scanner;
let server: ClamdServer;
let addr: Address;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-clamd-hostile-"));
  scanner = await createScanner({ databases: [], workers: 1, cacheDir: null });
  server = await startClamdServer({ scanner, listen: { path: join(dir, "s.sock") }, streamMaxLength: STREAM_MAX, version: VERSION });
  addr = server.address;
});

afterAll(async () => {
  await server?.close();
  await scanner?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Send `bytes` whole, then split in two at every offset; every reply must equal the whole one. */
async function sameAtEverySplit(bytes: Buffer, expected: string): Promise<void> {
  expect((await talk(addr, bytes)).toString("latin1")).toBe(expected);
  for (let k = 1; k < bytes.length; k++) {
    const got = (await talk(addr, [bytes.subarray(0, k), bytes.subarray(k)])).toString("latin1");
    if (got !== expected) throw new Error(`split at ${k}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
  }
}

describe("clamd server: framing split at every byte offset", () => {
  it("PING, old-style and prefixed", async () => {
    await sameAtEverySplit(Buffer.from("nPING\n"), "PONG\n");
    await sameAtEverySplit(Buffer.from("PING\n"), "PONG\n");
    await sameAtEverySplit(Buffer.from("zPING\0"), "PONG\0");
  });

  it("VERSION", async () => {
    await sameAtEverySplit(Buffer.from("zVERSION\0"), `${VERSION}\0`);
  });

  it("INSTREAM with EICAR, in 7-byte chunks", async () => {
    await sameAtEverySplit(instream(EICAR, 7), "stream: Eicar-Test-Signature FOUND\0");
  });

  it("an IDSESSION with PING, VERSION and INSTREAM, even one byte per write", async () => {
    const bytes = Buffer.concat([Buffer.from("zIDSESSION\0zPING\0zVERSION\0"), instream(EICAR, 16), Buffer.from("zEND\0")]);
    const want = ["1: PONG", `2: ${VERSION}`, "3: stream: Eicar-Test-Signature FOUND"];
    const whole = (await talk(addr, bytes)).toString("latin1");
    expect(whole.split("\0").filter(Boolean).sort()).toEqual(want);
    const bytewise = [...bytes].map((b) => Buffer.from([b]));
    const got = (await talk(addr, bytewise)).toString("latin1");
    expect(got.split("\0").filter(Boolean).sort()).toEqual(want);
  });
});

describe("clamd server: INSTREAM chunking and StreamMaxLength", () => {
  it("1-byte chunks and one chunk of the whole stream give the same verdict", async () => {
    expect((await talk(addr, instream(EICAR, 1))).toString()).toBe("stream: Eicar-Test-Signature FOUND\0");
    const big = Buffer.alloc(STREAM_MAX, 0x41);
    EICAR.copy(big, 0);
    expect((await talk(addr, instream(big, big.length))).toString()).toBe("stream: Eicar-Test-Signature FOUND\0");
    expect((await talk(addr, instream(Buffer.alloc(STREAM_MAX, 0x41), STREAM_MAX))).toString()).toBe("stream: OK\0");
  });

  it("an empty stream is scanned as empty (OK), with n framing", async () => {
    expect((await talk(addr, instream(Buffer.alloc(0), 1, "n"))).toString()).toBe("stream: OK\n");
  });

  it("one byte over the limit, in one chunk or across chunks, is refused and the connection closed", async () => {
    const over = Buffer.alloc(STREAM_MAX + 1, 0x41);
    expect((await talk(addr, instream(over, over.length))).toString()).toBe("INSTREAM size limit exceeded. ERROR\0");
    expect((await talk(addr, instream(over, 1000))).toString()).toBe("INSTREAM size limit exceeded. ERROR\0");
  });

  it("a 0xffffffff chunk length is refused before any payload arrives", async () => {
    const bytes = Buffer.concat([Buffer.from("zINSTREAM\0"), be32(0xffffffff)]);
    expect((await talk(addr, bytes)).toString()).toBe("INSTREAM size limit exceeded. ERROR\0");
  });
});

describe("clamd server: bounds", () => {
  it("a command line longer than the limit, with no terminator, is refused without waiting for one", async () => {
    const got = await talk(addr, Buffer.alloc(100_000, 0x6e /* 'n' */));
    expect(got.toString()).toBe("UNKNOWN COMMAND\n");
  });

  it("an idle peer gets COMMAND READ TIMED OUT", async () => {
    const s = await startClamdServer({ scanner, listen: { path: join(dir, "idle.sock") }, streamMaxLength: 10, idleTimeoutMs: 150 });
    try {
      const t0 = Date.now();
      const got = await talk(s.address, Buffer.from("nPI"));
      expect(got.toString()).toBe("COMMAND READ TIMED OUT\n");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    } finally {
      await s.close();
    }
  });

  it("connections beyond maxConnections are closed at once; the others are served", async () => {
    const s = await startClamdServer({ scanner, listen: { path: join(dir, "max.sock") }, streamMaxLength: 10, maxConnections: 2 });
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = net.connect(s.address as { path: string });
        await new Promise((r) => c.on("connect", r));
        held.push(c);
      }
      await new Promise((r) => setTimeout(r, 50));
      expect((await talk(s.address, Buffer.from("nPING\n"))).toString()).toBe("");
      held[0].destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect((await talk(s.address, Buffer.from("nPING\n"))).toString()).toBe("PONG\n");
    } finally {
      for (const c of held) c.destroy();
      await s.close();
    }
  });

  it("IDSESSION stops reading once maxSessionInFlight scans are pending, and resumes", async () => {
    const release: (() => void)[] = [];
    let calls = 0;
    const clean: Verdict = { status: "clean", infected: false, names: [], detections: [], notScanned: [], objects: 1, bytesScanned: 1 };
    const slow: Scanner = {
      signatureCount: 1, loadErrors: [], loadMs: 0, close: async () => {},
      scan: () => {
        calls++;
        return new Promise((r) => release.push(() => r(clean)));
      },
    };
    const s = await startClamdServer({ scanner: slow, listen: { path: join(dir, "flight.sock") }, streamMaxLength: 100, maxSessionInFlight: 3 });
    try {
      const parts = [Buffer.from("zIDSESSION\0")];
      for (let i = 0; i < 10; i++) parts.push(instream(Buffer.from(`x${i}`)));
      parts.push(Buffer.from("zEND\0"));
      const done = talk(s.address, Buffer.concat(parts));
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toBe(3);
      while (calls < 10 || release.length) {
        release.shift()?.();
        await new Promise((r) => setTimeout(r, 5));
      }
      const lines = (await done).toString().split("\0").filter(Boolean);
      expect(lines).toHaveLength(10);
      expect(lines.map((l) => Number(l.split(":")[0])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(new Set(lines.map((l) => l.replace(/^\d+: /, "")))).toEqual(new Set(["stream: OK"]));
    } finally {
      await s.close();
    }
  });
});
