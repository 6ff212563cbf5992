/**
 * The clamd server's command semantics that a real clamd cannot be made to show on demand:
 * verdicts that were not fully scanned (never `OK`), engine faults (`ERROR`), IDSESSION
 * replies in completion order, RELOAD/SHUTDOWN hooks, ALLMATCHSCAN with several names, and
 * listener set-up errors. A scripted Scanner stands in for the library where a verdict must
 * be forced; the path commands use the real library scanner.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { startClamdServer, type ClamdServer, type ClamdServerOptions } from "../../host/clamd/server.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { createScanner } from "../../host/scanner.js";
import { EICAR, instream, talk } from "./clamd-peer.js";

let dir: string;
let n = 0;
const servers: ClamdServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-clamd-cmds-"));
  writeFileSync(join(dir, "plain.txt"), "x");
});

afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(scanner: Scanner, extra: Partial<ClamdServerOptions> = {}): Promise<ClamdServer> {
  const s = await startClamdServer({ scanner, listen: { path: join(dir, `s${n++}.sock`) }, streamMaxLength: 1 << 16, ...extra });
  servers.push(s);
  return s;
}

function verdict(v: Partial<Verdict>): Verdict {
  return { status: "clean", infected: false, names: [], detections: [], notScanned: [], objects: 1, bytesScanned: 1, ...v };
}

/** A Scanner whose every scan returns (or throws) what `answer` says. */
function scripted(answer: (input: unknown) => Promise<Verdict>): Scanner {
  return { signatureCount: 0, loadErrors: [], loadMs: 0, close: async () => {}, scan: (input) => answer(input) };
}

const notScanned = verdict({
  status: "not_scanned",
  notScanned: [{ name: "Heuristics.Limits.Exceeded.MaxScanSize", path: "a.zip/b", reason: "over 400 MB" }],
});

describe("clamd server: verdicts that are not plain clean or infected", () => {
  it("not scanned reads FOUND with the limit's name, on INSTREAM and on SCAN", async () => {
    const s = await serve(scripted(async () => notScanned));
    expect((await talk(s.address, instream(Buffer.from("x")))).toString()).toBe("stream: Heuristics.Limits.Exceeded.MaxScanSize FOUND\0");
    const f = join(dir, "plain.txt");
    expect((await talk(s.address, Buffer.from(`nSCAN ${f}\n`))).toString()).toBe(`${f}: Heuristics.Limits.Exceeded.MaxScanSize FOUND\n`);
    expect((await talk(s.address, Buffer.from(`nCONTSCAN ${dir}\n`))).toString()).toContain(`${f}: Heuristics.Limits.Exceeded.MaxScanSize FOUND\n`);
  });

  it("an engine fault (Bulwark.Error.*), an unreadable input and a throwing scanner read ERROR", async () => {
    const fault = verdict({ status: "not_scanned", notScanned: [{ name: "Bulwark.Error.EWORKERDIED", path: "", reason: "worker exited with code 1" }] });
    const s1 = await serve(scripted(async () => fault));
    expect((await talk(s1.address, instream(Buffer.from("x")))).toString()).toBe("stream: worker exited with code 1. ERROR\0");
    const s2 = await serve(scripted(async () => verdict({ status: "error", error: "EACCES: permission denied\nsecond line" })));
    expect((await talk(s2.address, instream(Buffer.from("x")))).toString()).toBe("stream: EACCES: permission denied second line. ERROR\0");
    const s3 = await serve(scripted(async () => Promise.reject(new Error("boom"))));
    expect((await talk(s3.address, instream(Buffer.from("x")))).toString()).toBe("stream: boom ERROR\0");
  });

  it("ALLMATCHSCAN prints one line per name; SCAN only the first", async () => {
    const s = await serve(scripted(async () => verdict({ status: "infected", infected: true, names: ["Sig.A", "Sig.B"] })));
    const f = join(dir, "plain.txt");
    expect((await talk(s.address, Buffer.from(`zALLMATCHSCAN ${f}\0`))).toString()).toBe(`${f}: Sig.A FOUND\0${f}: Sig.B FOUND\0`);
    expect((await talk(s.address, Buffer.from(`zSCAN ${f}\0`))).toString()).toBe(`${f}: Sig.A FOUND\0`);
  });
});

describe("clamd server: IDSESSION", () => {
  it("replies come in completion order with the ids of the requests", async () => {
    let release!: () => void;
    const s = await serve(scripted((input) => {
      const first = Buffer.from(input as Uint8Array).toString() === "slow";
      return first ? new Promise((r) => (release = () => r(verdict({})))) : Promise.resolve(verdict({}));
    }));
    const sock = net.connect(s.address as { path: string });
    const got: string[] = [];
    sock.on("data", (d) => got.push(...d.toString().split("\0").filter(Boolean)));
    const closed = new Promise((r) => sock.on("close", r));
    sock.write(Buffer.concat([Buffer.from("zIDSESSION\0"), instream(Buffer.from("slow")), Buffer.from("zPING\0"), instream(Buffer.from("fast"))]));
    while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual(["2: PONG", "3: stream: OK"]);
    release();
    sock.write("zEND\0");
    await closed;
    expect(got).toEqual(["2: PONG", "3: stream: OK", "1: stream: OK"]);
  });

  it("a command not allowed inside ends the session after the replies in flight", async () => {
    const s = await serve(scripted(async () => verdict({})));
    const r = (await talk(s.address, Buffer.from("zIDSESSION\0zPING\0zSHUTDOWN\0zPING\0"))).toString();
    expect(r).toBe("1: PONG\u00002: Command invalid inside IDSESSION. ERROR\0");
  });
});

describe("clamd server: control commands", () => {
  it("RELOAD answers RELOADING and calls onReload", async () => {
    let reloads = 0;
    const s = await serve(scripted(async () => verdict({})), { onReload: () => reloads++ });
    expect((await talk(s.address, Buffer.from("RELOAD\n"))).toString()).toBe("RELOADING\n");
    expect((await talk(s.address, Buffer.from("zRELOAD\0"))).toString()).toBe("RELOADING\0");
    expect(reloads).toBe(2);
  });

  it("SHUTDOWN calls onShutdown, answers nothing, and the server stops listening", async () => {
    let shutdowns = 0;
    const s = await serve(scripted(async () => verdict({})), { onShutdown: () => shutdowns++ });
    expect((await talk(s.address, Buffer.from("nSHUTDOWN\n"))).toString()).toBe("");
    expect(shutdowns).toBe(1);
    await s.close();
    await expect(talk(s.address, Buffer.from("nPING\n"), 2000)).resolves.toEqual(Buffer.alloc(0));
    const refused = await new Promise<string>((r) => net.connect((s.address as { path: string }).path).on("error", (e: NodeJS.ErrnoException) => r(String(e.code))));
    expect(refused).toMatch(/ENOENT|ECONNREFUSED/);
  });

  it("DETSTATS closes without a reply, like clamd 1.4", async () => {
    const s = await serve(scripted(async () => verdict({})));
    expect((await talk(s.address, Buffer.from("nDETSTATS\n"))).toString()).toBe("");
  });
});

describe("clamd server: listeners and options", () => {
  it("TCP on port 0 reports the port it got, on loopback by default", async () => {
    const scanner = await createScanner({ workers: 0, cacheDir: null });
    const s = await startClamdServer({ scanner, listen: { port: 0 }, streamMaxLength: 1 << 16 });
    try {
      expect(s.address).toMatchObject({ host: "127.0.0.1" });
      expect((s.address as { port: number }).port).toBeGreaterThan(0);
      expect((await talk(s.address, instream(EICAR))).toString()).toBe("stream: Eicar-Test-Signature FOUND\0");
      mkdirSync(join(dir, "tcp-tree"));
      writeFileSync(join(dir, "tcp-tree", "e.com"), EICAR);
      expect((await talk(s.address, Buffer.from(`nMULTISCAN ${join(dir, "tcp-tree")}\n`))).toString()).toBe(
        `${join(dir, "tcp-tree", "e.com")}: Eicar-Test-Signature FOUND\n`,
      );
    } finally {
      await s.close();
      await scanner.close();
    }
  });

  it("refuses a socket path another server answers on, and a non-positive StreamMaxLength", async () => {
    const s = await serve(scripted(async () => verdict({})));
    const path = (s.address as { path: string }).path;
    await expect(startClamdServer({ scanner: scripted(async () => verdict({})), listen: { path }, streamMaxLength: 10 })).rejects.toThrow(/in use/);
    await expect(startClamdServer({ scanner: scripted(async () => verdict({})), listen: { path: join(dir, "x.sock") }, streamMaxLength: 0 })).rejects.toThrow(/streamMaxLength/);
  });
});
