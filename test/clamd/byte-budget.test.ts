/**
 * The process-wide budget of bytes held by streams being received (host/clamd/byte-budget.ts), on
 * clamd's INSTREAM: with a tiny budget injected, a second stream that would go over it gets
 * clamd's allocation error and is closed, the first is scanned normally, and every path that
 * ends a stream (scanned, refused, over StreamMaxLength, client gone, scanner failure) gives its
 * bytes back: the budget is at zero afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { BudgetExhausted, ByteBudget } from "../../host/clamd/byte-budget.js";
import { StreamBuffer } from "../../host/clamd/framing.js";
import { type ClamdServer, startClamdServer } from "../../host/clamd/server.js";
import { createScanner } from "../../host/scanner.js";
import { be32, EICAR, instream, talk } from "./clamd-peer.js";

/** 100 000 bytes: room for one stream's first 64 KiB buffer (framing.ts), not for two */
const BUDGET = 100_000;
const STREAM_MAX = 1 << 20;

let dir: string;
let scanner: Scanner;
let n = 0;
const servers: ClamdServer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-clamd-budget-"));
  scanner = await createScanner({ workers: 0, cacheDir: null });
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await scanner?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(budget: ByteBudget, scan: Scanner = scanner): Promise<ClamdServer> {
  const s = await startClamdServer({ scanner: scan, listen: { path: join(dir, `b${n++}.sock`) }, streamMaxLength: STREAM_MAX, streamBudget: budget });
  servers.push(s);
  return s;
}

/** Wait (event-loop turns, no clock) until `cond` holds; fails after many turns. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5_000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`never happened: ${what}`);
}

/** A connection that sends `first`, and more when told; collects the reply until close. */
function open(path: string, first: Buffer) {
  const c = net.connect(path);
  const got: Buffer[] = [];
  c.on("data", (d) => got.push(d));
  c.on("error", () => {}); // EPIPE/ECONNRESET after the server closed are expected
  const closed = new Promise<string>((resolve) => c.on("close", () => resolve(Buffer.concat(got).toString("latin1"))));
  c.write(first);
  return { send: (b: Buffer) => c.write(b), destroy: () => c.destroy(), closed };
}

describe("StreamBuffer with a budget", () => {
  it("charges its capacity as it grows, refuses a growth without room (unchanged), and release() gives all back", () => {
    const budget = new ByteBudget(200_000);
    const sb = new StreamBuffer(STREAM_MAX, budget);
    sb.append(Buffer.alloc(10));
    expect(budget.used).toBe(64 * 1024);
    sb.append(Buffer.alloc(64 * 1024)); // doubles to 128 KiB: 64 KiB more
    expect(budget.used).toBe(128 * 1024);
    expect(() => sb.append(Buffer.alloc(64 * 1024))).toThrow(BudgetExhausted); // 256 KiB > 200 000
    expect(budget.used).toBe(128 * 1024);
    expect(sb.size).toBe(10 + 64 * 1024);
    const taken = sb.take();
    expect(taken.length).toBe(10 + 64 * 1024);
    expect(budget.used).toBe(128 * 1024); // held until the scan is over
    sb.release();
    sb.release(); // idempotent
    expect(budget.used).toBe(0);
  });

  it("a small stream taken as an exact copy is charged its size, not its first buffer", () => {
    const budget = new ByteBudget(200_000);
    const sb = new StreamBuffer(STREAM_MAX, budget);
    sb.append(Buffer.alloc(100));
    expect(sb.take().length).toBe(100);
    expect(budget.used).toBe(100);
    sb.release();
    expect(budget.used).toBe(0);
  });
});

describe("clamd INSTREAM under a global byte budget", () => {
  it("the stream that would go over it gets `Can't allocate memory. ERROR`; the first is scanned normally; nothing leaks", async () => {
    const budget = new ByteBudget(BUDGET);
    const s = await serve(budget);
    const path = (s.address as { path: string }).path;
    // first stream: one chunk of EICAR received, then it waits with its buffer held
    const a = open(path, Buffer.concat([Buffer.from("zINSTREAM\0"), be32(EICAR.length), EICAR]));
    await until(() => budget.used > 0, "the first stream is charged");
    expect(budget.used).toBe(64 * 1024);
    // second stream: its first buffer does not fit beside the first
    const b = await talk(s.address, instream(Buffer.alloc(1000, 0x61)));
    expect(b.toString()).toBe("Can't allocate memory. ERROR\0");
    expect(budget.used).toBe(64 * 1024); // the refused stream holds nothing
    a.send(be32(0));
    expect(await a.closed).toMatch(/^stream: .*Eicar.* FOUND\0$/i);
    await until(() => budget.used === 0, "the scanned stream gives its bytes back");
    // with the budget free again the same second stream is scanned
    expect((await talk(s.address, instream(Buffer.alloc(1000, 0x61)))).toString()).toBe("stream: OK\0");
    expect(budget.used).toBe(0);
  });

  it("a client that disconnects mid-stream gives its bytes back", async () => {
    const budget = new ByteBudget(BUDGET);
    const s = await serve(budget);
    const a = open((s.address as { path: string }).path, Buffer.concat([Buffer.from("zINSTREAM\0"), be32(1000), Buffer.alloc(1000)]));
    await until(() => budget.used > 0, "the stream is charged");
    a.destroy();
    await until(() => budget.used === 0, "the dropped stream gives its bytes back");
    expect(budget.used).toBe(0);
  });

  it("a stream over StreamMaxLength, and a scanner that fails, give their bytes back", async () => {
    const budget = new ByteBudget(1 << 22);
    const s = await serve(budget);
    // 64 KiB received, then a chunk that breaks the limit
    const over = Buffer.concat([Buffer.from("zINSTREAM\0"), be32(65536), Buffer.alloc(65536), be32(STREAM_MAX)]);
    expect((await talk(s.address, over)).toString()).toBe("INSTREAM size limit exceeded. ERROR\0");
    await until(() => budget.used === 0, "the stream over the limit gives its bytes back");

    const failing: Scanner = { signatureCount: 0, loadErrors: [], loadMs: 0, close: async () => {}, scan: async () => Promise.reject(new Error("boom")) };
    const f = await serve(budget, failing);
    expect((await talk(f.address, instream(Buffer.alloc(5000)))).toString()).toBe("stream: boom ERROR\0");
    expect(budget.used).toBe(0);

    const throwing: Scanner = { ...failing, scan: () => { throw new Error("sync boom"); } };
    const t = await serve(budget, throwing);
    expect((await talk(t.address, instream(Buffer.alloc(5000)))).toString()).toBe("stream: sync boom ERROR\0");
    expect(budget.used).toBe(0);
  });

  it("inside IDSESSION the refused request answers with its id and the session closes; the budget ends at zero", async () => {
    const budget = new ByteBudget(BUDGET);
    const s = await serve(budget);
    const path = (s.address as { path: string }).path;
    const a = open(path, Buffer.concat([Buffer.from("zINSTREAM\0"), be32(10), Buffer.alloc(10)]));
    await until(() => budget.used > 0, "the first stream is charged");
    const session = Buffer.concat([Buffer.from("zIDSESSION\0"), instream(Buffer.alloc(10)), Buffer.from("zEND\0")]);
    expect((await talk(s.address, session)).toString()).toBe("1: Can't allocate memory. ERROR\0");
    a.send(be32(0));
    expect(await a.closed).toBe("stream: OK\0");
    await until(() => budget.used === 0, "every stream gives its bytes back");
  });
});
