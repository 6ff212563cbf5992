/**
 * The spamd protocol layer (host/spamd/): the request reader on its own (every split offset,
 * limits, errors), and the server over a unix socket and TCP against Debian's real spamc and a
 * hostile raw peer. The backend here is a small in-process stand-in (GTUBE -> spam, else ham)
 * so that only the framing is under test; the real engine behind the real daemon is covered by
 * test/agents/spamd-agent.test.ts.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteBudget } from "../../host/clamd/byte-budget.js";
import { markMail } from "../../host/spam/mark.js";
import type { LearnOutcome, SpamResult } from "../../host/spam/types.js";
import { MAX_HEADER_BYTES, RequestReader, SpamdError, type SpamdRequest } from "../../host/spamd/protocol.js";
import { headerBlock } from "../../host/spamd/replies.js";
import { BackendError, type SpamdBackend, startSpamdServer, type SpamdServer } from "../../host/spamd/server.js";
import { requireBinary } from "../clamd/clamd-peer.js";
import { tempDir, until } from "../daemon/daemon-process.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const SPAM = Buffer.from(`From: a@example.test\nTo: b@example.test\nSubject: hello there\n\nThis is a test.\n${GTUBE}\n`);
const HAM = Buffer.from("From: a@example.test\nTo: b@example.test\nSubject: lunch\n\nSee you at noon.\n");
const MAX_BODY = 64 * 1024;

/** Stand-in backend: scores GTUBE only; records what it was asked. */
class StubBackend implements SpamdBackend {
  learned: string[] = [];
  fail: BackendError | undefined;
  async classify(raw: Buffer): Promise<SpamResult> {
    if (this.fail) throw this.fail;
    const spam = raw.includes(GTUBE);
    return { status: spam ? "spam" : "ham", score: spam ? 1000 : 0, required: 5, probable: 3, reasons: spam ? [{ name: "GTUBE", score: 1000, description: "Generic Test for Unsolicited Bulk Email" }] : [] };
  }
  async learn(raw: Buffer, cls: "spam" | "ham" | "forget"): Promise<LearnOutcome> {
    if (this.fail) throw this.fail;
    const key = `${cls}:${raw.length}`;
    const already = this.learned.includes(key);
    this.learned.push(key);
    return { outcome: cls === "forget" ? "forgotten" : already ? "already" : "learned", nspam: 0, nham: 0 };
  }
  mark(raw: Buffer, result: SpamResult): Buffer {
    return markMail(raw, result, { subjectTemplate: "[%asstatus%]", headers: true });
  }
}

function checkRequest(body: Buffer, cmd = "CHECK"): Buffer {
  return Buffer.concat([Buffer.from(`${cmd} SPAMC/1.5\r\nUser: tester\r\nContent-length: ${body.length}\r\n\r\n`), body]);
}

function readAll(r: RequestReader, parts: Buffer[], end = false): SpamdRequest | undefined {
  for (const p of parts) {
    const s = r.push(p);
    if (s.kind === "request") return s.request;
  }
  if (end) {
    const s = r.end();
    if (s.kind === "request") return s.request;
  }
  return undefined;
}

function refusal(fn: () => unknown): SpamdError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpamdError) return e;
    throw e;
  }
  throw new Error("expected a SpamdError");
}

describe("RequestReader", () => {
  it("parses spamc's CHECK request: command, version, user, length, body", () => {
    const req = readAll(new RequestReader(MAX_BODY), [checkRequest(SPAM)])!;
    expect(req.command).toBe("CHECK");
    expect(req.version).toBe("1.5");
    expect(req.user).toBe("tester");
    expect(req.contentLength).toBe(SPAM.length);
    expect(req.body.equals(SPAM)).toBe(true);
  });

  it("gives the same request whatever offset the bytes are split at, and one byte at a time", () => {
    const whole = checkRequest(SPAM);
    for (let i = 1; i < whole.length; i++) {
      const req = readAll(new RequestReader(MAX_BODY), [whole.subarray(0, i), whole.subarray(i)]);
      expect(req?.body.equals(SPAM), `split at ${i}`).toBe(true);
    }
    const r = new RequestReader(MAX_BODY);
    const req = readAll(r, [...whole].map((b) => Buffer.from([b])));
    expect(req?.body.equals(SPAM)).toBe(true);
  });

  it("parses TELL's headers, case-insensitively, with bare LF line ends too", () => {
    const req = readAll(new RequestReader(MAX_BODY), [Buffer.concat([Buffer.from("TELL SPAMC/1.5\nmessage-class: Spam\nSet: local, remote\ncontent-length: 3\n\n"), Buffer.from("abc")])])!;
    expect(req.messageClass).toBe("spam");
    expect([...req.set].sort()).toEqual(["local", "remote"]);
    expect(req.body.toString()).toBe("abc");
  });

  it("answers PING at its request line (spamc before 1.5 sent no blank line)", () => {
    expect(readAll(new RequestReader(MAX_BODY), [Buffer.from("PING SPAMC/1.2\r\n")])?.command).toBe("PING");
  });

  it("reads a body without Content-length to the end of the stream", () => {
    const r = new RequestReader(MAX_BODY);
    expect(readAll(r, [Buffer.from("CHECK SPAMC/1.2\r\n\r\n"), HAM])).toBeUndefined();
    expect(r.end()).toMatchObject({ kind: "request", request: { body: HAM } });
  });

  it("inflates Compress: zlib bodies, and refuses one that inflates past the limit", () => {
    const z = zlib.deflateSync(SPAM);
    const req = readAll(new RequestReader(MAX_BODY), [Buffer.from(`CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: ${z.length}\r\n\r\n`), z])!;
    expect(req.body.equals(SPAM)).toBe(true);
    const bomb = zlib.deflateSync(Buffer.alloc(MAX_BODY * 4));
    const e = refusal(() => readAll(new RequestReader(MAX_BODY), [Buffer.from(`CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: ${bomb.length}\r\n\r\n`), bomb]));
    expect(e.code).toBe(65);
    expect(e.message).toMatch(/inflates to more than 65536 bytes/);
  });

  it("refuses bad requests with spamd's codes", () => {
    const cases: Array<[string, number, RegExp]> = [
      ["BOGUS SPAMC/1.5\r\n\r\n", 76, /^Bad header line: BOGUS SPAMC\/1.5$/],
      ["garbage\r\n", 76, /^Bad header line: garbage$/],
      ["CHECK HTTP/1.1\r\n", 76, /^Bad header line: CHECK HTTP\/1.1$/],
      ["CHECK SPAMC/1.5\r\nContent-length: 12x\r\n\r\n", 76, /non-numeric/],
      ["CHECK SPAMC/1.5\r\nno colon here\r\n\r\n", 76, /'Name: value'/],
      ["CHECK SPAMC/1.5\r\nContent-length: 3\r\nContent-length: 4\r\n\r\n", 76, /two different Content-length/],
      ["TELL SPAMC/1.5\r\nMessage-class: eggs\r\n\r\n", 76, /invalid class/],
      ["TELL SPAMC/1.5\r\nSet: everywhere\r\n\r\n", 76, /invalid target/],
      ["CHECK SPAMC/1.5\r\nCompress: gzip\r\n\r\n", 76, /compression type not supported/],
      [`CHECK SPAMC/1.5\r\nContent-length: ${MAX_BODY + 1}\r\n\r\n`, 65, /over the limit of 65536 bytes/],
    ];
    for (const [text, code, msg] of cases) {
      const e = refusal(() => readAll(new RequestReader(MAX_BODY), [Buffer.from(text)]));
      expect([e.code, e.message], text).toEqual([code, expect.stringMatching(msg)]);
    }
  });

  it("refuses a header block past MAX_HEADER_BYTES and too many header lines", () => {
    const long = Buffer.from(`CHECK SPAMC/1.5\r\nX-Filler: ${"a".repeat(MAX_HEADER_BYTES)}`);
    expect(refusal(() => readAll(new RequestReader(MAX_BODY), [long])).message).toMatch(/headers longer than/);
    const many = `CHECK SPAMC/1.5\r\n${"X: y\r\n".repeat(100)}\r\n`;
    expect(refusal(() => readAll(new RequestReader(MAX_BODY), [Buffer.from(many)])).message).toMatch(/too many headers/);
  });

  it("refuses a stream that ends early (mid-headers, mid-body, before anything)", () => {
    expect(refusal(() => readAll(new RequestReader(MAX_BODY), [Buffer.from("CHECK SPAMC/1.5\r\nContent-len")], true)).message).toMatch(/EOF during headers/);
    expect(refusal(() => readAll(new RequestReader(MAX_BODY), [Buffer.from("CHECK SPAMC/1.5\r\nContent-length: 10\r\n\r\nabc")], true)).message).toMatch(/Expected 10 bytes, got 3 bytes/);
    expect(refusal(() => readAll(new RequestReader(MAX_BODY), [], true)).message).toMatch(/closed before headers/);
  });

  it("charges the body to its budget and refuses (temporary failure) when there is no room", () => {
    const e = refusal(() => readAll(new RequestReader(MAX_BODY, () => false), [checkRequest(HAM)]));
    expect(e.code).toBe(75);
  });
});

// ---- the server, with real spamc and raw peers ----

let dir: string;
let spamc: string;
let backend: StubBackend;
let budget: ByteBudget;
let unixServer: SpamdServer;
let tcpServer: SpamdServer;
let noTell: SpamdServer;
let tcpPort: number;
let noTellPort: number;
const logs: string[] = [];

function runSpamc(args: string[], input?: Buffer): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(spamc, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out: Buffer.concat(out), err }));
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/** Send `parts` as separate writes (with a pause so they arrive as separate reads), half-close
 *  unless told not to, and collect the reply until the server closes. */
function raw(address: { path: string } | { port: number }, parts: Buffer[], opts: { end?: boolean; pauseMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = "path" in address ? net.connect(address.path) : net.connect(address.port, "127.0.0.1");
    const got: Buffer[] = [];
    sock.on("data", (d: Buffer) => got.push(d));
    sock.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? undefined : reject(e)));
    sock.on("close", () => resolve(Buffer.concat(got).toString("latin1")));
    sock.on("connect", async () => {
      for (const p of parts) {
        if (sock.destroyed) break;
        sock.write(p);
        if (opts.pauseMs !== undefined) await new Promise((r) => setTimeout(r, opts.pauseMs));
        else await new Promise((r) => setImmediate(r));
      }
      if (opts.end !== false && !sock.destroyed) sock.end();
    });
  });
}

beforeAll(async () => {
  spamc = requireBinary("spamc", "spamc");
  dir = tempDir("bulwark-spamd-protocol-");
  backend = new StubBackend();
  budget = new ByteBudget(1024 * 1024);
  const common = { backend, maxBody: MAX_BODY, streamBudget: budget, log: (m: string) => logs.push(m) };
  unixServer = await startSpamdServer({ ...common, allowTell: true, listen: { path: join(dir, "spamd.sock") }, idleTimeoutMs: 300 });
  tcpServer = await startSpamdServer({ ...common, allowTell: true, listen: { port: 0 } });
  noTell = await startSpamdServer({ ...common, allowTell: false, listen: { port: 0 } });
  tcpPort = (tcpServer.address as { port: number }).port;
  noTellPort = (noTell.address as { port: number }).port;
});

afterAll(async () => {
  await Promise.allSettled([unixServer?.close(), tcpServer?.close(), noTell?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the spamd server with spamc", () => {
  it("spamc -c over TCP and the unix socket: score/threshold, exit 1 for spam, 0 for ham", async () => {
    for (const where of [["-d", "127.0.0.1", "-p", String(tcpPort)], ["-U", join(dir, "spamd.sock")]]) {
      const s = await runSpamc([...where, "-c"], SPAM);
      expect([s.code, s.out.toString()]).toEqual([1, "1000.0/5.0\n"]);
      const h = await runSpamc([...where, "-c"], HAM);
      expect([h.code, h.out.toString()]).toEqual([0, "0.0/5.0\n"]);
    }
  });

  it("a zlib-compressed request (Debian's spamc is built without -z) and spamc -y (SYMBOLS)", async () => {
    const z = zlib.deflateSync(SPAM);
    const head = Buffer.from(`CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: ${z.length}\r\n\r\n`);
    expect(await raw({ port: tcpPort }, [head, z])).toBe("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n");
    const y = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-y"], SPAM);
    expect(y.out.toString()).toBe("GTUBE");
  });

  it("spamc -r (REPORT_IFSPAM): the report for spam, nothing for ham", async () => {
    const s = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-r"], SPAM);
    expect(s.out.toString()).toMatch(/^1000\.0\/5\.0\nBulwark classified this message as spam\.\n[^]*\n1000 GTUBE +Generic Test for Unsolicited Bulk Email\n/);
    const h = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-r"], HAM);
    expect([h.code, h.out.toString()]).toEqual([0, ""]);
  });

  it("PROCESS and --headers give the marked message; spamc adds the original body to --headers", async () => {
    const p = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort)], SPAM);
    const marked = markMail(SPAM, await backend.classify(SPAM), { subjectTemplate: "[%asstatus%]", headers: true });
    expect(p.out.equals(marked)).toBe(true);
    expect(p.out.toString()).toMatch(/^X-Bulwark-Spam-Status: Yes, score=1000.0 required=5.0\n/);
    expect(p.out.toString()).toMatch(/\nSubject: \[SPAM\] hello there\n/);
    const h = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "--headers"], SPAM);
    expect(h.out.equals(marked)).toBe(true);
    expect(headerBlock(marked).toString()).toMatch(/hello there\n\n$/);
  });

  it("TELL: learned, already learned, forgotten; refused (exit 74 from spamc) when allow_tell is off", async () => {
    const l = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-L", "spam"], HAM);
    expect([l.code, l.out.toString()]).toEqual([0, "Message successfully un/learned\n"]);
    const again = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-L", "spam"], HAM);
    expect(again.out.toString()).toBe("Message was already un/learned\n");
    const f = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-L", "forget"], HAM);
    expect(f.out.toString()).toBe("Message successfully un/learned\n");
    const before = backend.learned.length;
    const refused = await runSpamc(["-d", "127.0.0.1", "-p", String(noTellPort), "-L", "spam"], HAM);
    expect(refused.code).toBe(74);
    expect(backend.learned.length).toBe(before);
    const tell = Buffer.concat([Buffer.from(`TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local\r\nContent-length: ${HAM.length}\r\n\r\n`), HAM]);
    expect(await raw({ port: noTellPort }, [tell])).toBe(
      "SPAMD/1.0 77 Permission denied: TELL is disabled on this server ([spamd] allow_tell = no)\r\n",
    );
  });

  it("a backend failure is a temporary failure: spamc -x exits 74, plain spamc passes the mail through", async () => {
    backend.fail = new BackendError(75, "Timeout: no answer from the daemon");
    try {
      const x = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-x", "-c"], SPAM);
      expect(x.code).toBe(74);
      const fallback = await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort)], SPAM);
      expect([fallback.code, fallback.out.equals(SPAM)]).toEqual([0, true]);
      expect(await raw({ port: tcpPort }, [checkRequest(SPAM)])).toBe("SPAMD/1.0 75 Timeout: no answer from the daemon\r\n");
    } finally {
      backend.fail = undefined;
    }
  });
});

describe("the spamd server with a hostile peer", () => {
  it("answers a CHECK split into two writes at every byte offset", async () => {
    const whole = checkRequest(SPAM);
    const want = "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n";
    for (let i = 1; i < whole.length; i++) {
      expect(await raw({ path: join(dir, "spamd.sock") }, [whole.subarray(0, i), whole.subarray(i)]), `split at ${i}`).toBe(want);
    }
  });

  it("answers PING, SKIP (nothing), and bad request lines with one error line", async () => {
    expect(await raw({ port: tcpPort }, [Buffer.from("PING SPAMC/1.5\r\n\r\n")])).toBe("SPAMD/1.5 0 PONG\r\n");
    expect(await raw({ port: tcpPort }, [Buffer.from("SKIP SPAMC/1.5\r\n\r\n")])).toBe("");
    expect(await raw({ port: tcpPort }, [Buffer.from("GET / HTTP/1.0\r\n\r\n")])).toBe("SPAMD/1.0 76 Bad header line: GET / HTTP/1.0\r\n");
    expect(await raw({ port: tcpPort }, [Buffer.from("\x00\xff\x01 SPAMC/1.5\r\n\r\n", "latin1")])).toBe("SPAMD/1.0 76 Bad header line: ??? SPAMC/1.5\r\n");
  });

  it("refuses an oversized Content-length at once, without waiting for (or storing) the body", async () => {
    // no body is sent and the socket stays open: the reply must come from the header alone
    const reply = await raw({ port: tcpPort }, [Buffer.from(`CHECK SPAMC/1.5\r\nContent-length: ${10 * MAX_BODY}\r\n\r\n`)], { end: false });
    expect(reply).toBe(`SPAMD/1.0 65 Message too big: Content-length ${10 * MAX_BODY} is over the limit of ${MAX_BODY} bytes (max_file_size)\r\n`);
    expect(budget.used).toBe(0);
  });

  it("survives a client that disconnects mid-body, and gives its memory back", async () => {
    const whole = checkRequest(Buffer.alloc(MAX_BODY, 0x61));
    await new Promise<void>((resolve) => {
      const sock = net.connect(tcpPort, "127.0.0.1", () => {
        // the half body is held (charged to the budget) while the client is connected
        sock.write(whole.subarray(0, whole.length / 2), () => void until(() => budget.used > 0, "the partial body charged").then(() => sock.destroy()));
      });
      sock.on("close", () => resolve());
      sock.on("error", () => {});
    });
    await until(() => budget.used === 0, "the stream budget given back");
    expect((await runSpamc(["-d", "127.0.0.1", "-p", String(tcpPort), "-c"], HAM)).out.toString()).toBe("0.0/5.0\n");
  });

  it("a client that half-closes mid-body gets the length-mismatch error", async () => {
    const whole = checkRequest(SPAM);
    expect(await raw({ port: tcpPort }, [whole.subarray(0, whole.length - 5)])).toBe(
      `SPAMD/1.0 76 Bad header line: (Content-Length mismatch: Expected ${SPAM.length} bytes, got ${SPAM.length - 5} bytes)\r\n`,
    );
  });

  it("a silent client gets a timeout line after the idle time", async () => {
    expect(await raw({ path: join(dir, "spamd.sock") }, [Buffer.from("CHECK SPAMC/1.5\r\n")], { end: false })).toBe("SPAMD/1.0 75 Timeout: no data from the client for 300 ms\r\n");
  });
});
