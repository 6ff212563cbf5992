/**
 * The milter protocol v6 codec (agents/milter/protocol.ts, replies.ts): framing, every command,
 * split-safety at every byte offset, typed errors for malformed packets, reply encoders, and a
 * real peer: Debian's miltertest (a libmilter-based MTA simulator) driving a tiny milter built
 * from this codec over loopback TCP.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MILTER_CHUNK_SIZE, MILTER_MAX_DATA_SIZE, SMFI_PROT_VERSION, SMFIC_BODY, SMFIC_CONNECT, SMFIC_HEADER,
  SMFIC_HELO, SMFIC_MAIL, SMFIF_ADDHDRS, SMFIF_CHGBODY, SMFIF_QUARANTINE, SMFIM_EOM, SMFIP_NOUNKNOWN,
} from "../../agents/milter/constants.js";
import {
  encodeCommand, encodePacket, type MilterCommand, MilterDecoder, MilterProtocolError, PacketDecoder, parseCommand,
} from "../../agents/milter/protocol.js";
import {
  encodeAccept, encodeAddHeader, encodeChgHeader, encodeContinue, encodeDiscard, encodeInsHeader, encodeOptneg,
  encodeProgress, encodeQuarantine, encodeReject, encodeReplBody, encodeReplyCode, encodeTempfail, parseReply,
} from "../../agents/milter/replies.js";

const bytes = (s: string) => Buffer.from(s, "latin1");
const be32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };

/** One of every command, shaped like the Postfix 3.7 transcript in shared/notes/integration.md §1.2. */
const ALL_COMMANDS: MilterCommand[] = [
  { kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff },
  { kind: "macro", forCommand: "C", macros: [["j", "mx.test.local"], ["{daemon_name}", "mx.test.local"], ["_", "localhost [127.0.0.1]"]] },
  { kind: "connect", hostname: "localhost", family: "inet", port: 52044, address: "127.0.0.1" },
  { kind: "connect", hostname: "v6.example", family: "inet6", port: 25, address: "::1" },
  { kind: "connect", hostname: "localhost", family: "unix", port: 0, address: "/run/x.sock" },
  { kind: "connect", hostname: "mystery", family: "unknown" },
  { kind: "macro", forCommand: "H", macros: [] },
  { kind: "helo", name: "client.example" },
  { kind: "mail", sender: "<alice@example.org>", args: ["SIZE=1234", "BODY=8BITMIME"] },
  { kind: "rcpt", recipient: "<bob@example.test>", args: [] },
  { kind: "data" },
  { kind: "header", name: "Subject", value: "caf\xe9 \xe0 la cr\xe8me" },
  { kind: "header", name: "X-Empty", value: "" },
  { kind: "eoh" },
  { kind: "body", chunk: bytes("hello\r\n\0binary\xff\r\n") },
  { kind: "bodyeob", chunk: Buffer.alloc(0) },
  { kind: "abort" },
  { kind: "unknown", line: "XYZZY plugh" },
  { kind: "quit_nc" },
  { kind: "quit" },
];

function decodeAll(dec: MilterDecoder, pieces: Buffer[]) {
  return pieces.flatMap((p) => dec.push(p));
}
function commandsOf(results: ReturnType<MilterDecoder["push"]>): MilterCommand[] {
  return results.map((r) => { if (!r.ok) throw r.error; return r.command; });
}

describe("milter framing and commands", () => {
  it("round-trips every command", () => {
    for (const c of ALL_COMMANDS) {
      const dec = new MilterDecoder();
      const out = dec.push(encodeCommand(c));
      expect(out).toHaveLength(1);
      expect(out[0]).toEqual({ ok: true, command: c });
      expect(dec.pendingBytes).toBe(0);
    }
  });

  it("matches the wire layout observed from Postfix (not only its own encoder)", () => {
    // C "localhost\0" '4' port "127.0.0.1\0", length counts the command byte
    const data = Buffer.concat([bytes("localhost\0" + "4"), Buffer.from([0xcb, 0x4c]), bytes("127.0.0.1\0")]);
    const wire = Buffer.concat([be32(data.length + 1), bytes(SMFIC_CONNECT), data]);
    expect(encodeCommand({ kind: "connect", hostname: "localhost", family: "inet", port: 0xcb4c, address: "127.0.0.1" })).toEqual(wire);
    expect(new MilterDecoder().push(wire)).toEqual([{ ok: true, command: { kind: "connect", hostname: "localhost", family: "inet", port: 0xcb4c, address: "127.0.0.1" } }]);
    const optneg = Buffer.concat([be32(13), bytes("O"), be32(6), be32(0x1ff), be32(0x1fffff)]);
    expect(new MilterDecoder().push(optneg)).toEqual([{ ok: true, command: { kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff } }]);
    // "D" + "M" + "{mail_addr}\0a@b\0": one macro pair for the MAIL stage
    const macro = Buffer.concat([be32(18), bytes("DM{mail_addr}\0a@b\0")]);
    expect(new MilterDecoder().push(macro)).toEqual([{ ok: true, command: { kind: "macro", forCommand: "M", macros: [["{mail_addr}", "a@b"]] } }]);
    expect(encodeReplyCode("554", "5.7.1", "no")).toEqual(Buffer.concat([be32(14), bytes("y554 5.7.1 no\0")]));
  });

  it("decodes a transcript identically when split at every byte offset", () => {
    const wire = Buffer.concat(ALL_COMMANDS.map(encodeCommand));
    const whole = commandsOf(new MilterDecoder().push(wire));
    expect(whole).toEqual(ALL_COMMANDS);
    for (let cut = 0; cut <= wire.length; cut++) {
      const dec = new MilterDecoder();
      expect(commandsOf(decodeAll(dec, [wire.subarray(0, cut), wire.subarray(cut)]))).toEqual(ALL_COMMANDS);
      expect(dec.pendingBytes).toBe(0);
    }
    const oneByOne = new MilterDecoder();
    expect(commandsOf(decodeAll(oneByOne, [...wire].map((b) => Buffer.from([b]))))).toEqual(ALL_COMMANDS);
  });

  it("takes a full-size body chunk split at random offsets, and holds nothing afterwards", () => {
    const big = Buffer.alloc(MILTER_CHUNK_SIZE, 0x41);
    const seq: MilterCommand[] = [{ kind: "body", chunk: big }, { kind: "body", chunk: big.subarray(7) }, { kind: "bodyeob", chunk: Buffer.alloc(0) }];
    const wire = Buffer.concat(seq.map(encodeCommand));
    let seed = 12345;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let round = 0; round < 20; round++) {
      const pieces: Buffer[] = [];
      for (let at = 0; at < wire.length;) { const n = 1 + rand(9000); pieces.push(wire.subarray(at, at + n)); at += n; }
      const dec = new MilterDecoder();
      const got = commandsOf(decodeAll(dec, pieces));
      // compare the big buffers with Buffer.equals: a deep toEqual over 64 KiB is needlessly slow
      expect(got.map((c) => c.kind)).toEqual(["body", "body", "bodyeob"]);
      got.forEach((c, i) => expect((c as { chunk: Buffer }).chunk.equals((seq[i] as { chunk: Buffer }).chunk), `command ${i}`).toBe(true));
      expect(dec.pendingBytes).toBe(0);
    }
  });
});

describe("malformed packets give typed errors", () => {
  it("length 0 is a fatal empty-packet error and stops the decoder", () => {
    const dec = new MilterDecoder();
    const out = dec.push(Buffer.concat([encodeCommand({ kind: "eoh" }), be32(0), encodeCommand({ kind: "eoh" })]));
    expect(out[0]).toEqual({ ok: true, command: { kind: "eoh" } });
    expect(out).toHaveLength(2);
    const r = out[1];
    expect(r.ok).toBe(false);
    if (!r.ok) { expect(r.error).toBeInstanceOf(MilterProtocolError); expect(r.error.code).toBe("empty-packet"); expect(r.error.fatal).toBe(true); }
    expect(dec.error?.code).toBe("empty-packet");
    expect(dec.push(encodeCommand({ kind: "eoh" }))).toEqual([]);
  });

  it("a length over the bound is refused from the 4 length bytes, before any data is buffered", () => {
    const dec = new MilterDecoder();
    const out = dec.push(be32(MILTER_MAX_DATA_SIZE + 2)); // code byte + 65536 data bytes
    expect(out).toHaveLength(1);
    const r = out[0];
    expect(r.ok).toBe(false);
    if (!r.ok) { expect(r.error.code).toBe("packet-too-large"); expect(r.error.fatal).toBe(true); expect(r.error.message).toContain("65536"); }
    expect(dec.pendingBytes).toBe(0);
    const huge = new PacketDecoder();
    expect(huge.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x42]))[0]).toMatchObject({ code: "packet-too-large" });
    // exactly at the bound is fine; a negotiated larger bound lets larger packets through
    expect(new MilterDecoder().push(encodePacket(SMFIC_BODY, Buffer.alloc(MILTER_MAX_DATA_SIZE)))[0].ok).toBe(true);
    const wide = new MilterDecoder(); wide.maxDataSize = 256 * 1024 - 1;
    expect(wide.push(encodePacket(SMFIC_BODY, Buffer.alloc(MILTER_MAX_DATA_SIZE + 1)))[0].ok).toBe(true);
  });

  it("truncated strings, short payloads and unknown codes are non-fatal typed errors", () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ["helo no NUL", encodePacket(SMFIC_HELO, bytes("client.example")), /HELO.*NUL-terminated/],
      ["mail no NUL", encodePacket(SMFIC_MAIL, bytes("<a@b>")), /MAIL.*NUL-terminated/],
      ["mail empty", encodePacket(SMFIC_MAIL), /MAIL: expected/],
      ["header one string", encodePacket(SMFIC_HEADER, bytes("Subject\0")), /HEADER: expected 2/],
      ["header value cut", encodePacket(SMFIC_HEADER, bytes("Subject\0hi")), /HEADER.*NUL-terminated/],
      ["connect host cut", encodePacket(SMFIC_CONNECT, bytes("localhost")), /hostname not NUL-terminated/],
      ["connect no family", encodePacket(SMFIC_CONNECT, bytes("localhost\0")), /no address family/],
      ["connect bad family", encodePacket(SMFIC_CONNECT, bytes("localhost\0X")), /unknown address family/],
      ["connect port cut", encodePacket(SMFIC_CONNECT, bytes("localhost\x004\x01")), /port truncated/],
      ["connect address cut", encodePacket(SMFIC_CONNECT, bytes("localhost\x004\x01\x02127.0")), /address not NUL-terminated/],
      ["optneg short", encodePacket("O", Buffer.alloc(11)), /OPTNEG needs 12/],
      ["macro empty", encodePacket("D"), /MACRO without/],
      ["macro odd", encodePacket("D", bytes("Mi\0")), /name without value/],
      ["macro cut", encodePacket("D", bytes("Mi\0q1")), /NUL-terminated/],
      ["data with bytes", encodePacket("T", bytes("x")), /expected no data/],
      ["unknown code", encodePacket("Z", bytes("x")), /unknown milter command "Z"/],
    ];
    for (const [name, packet, msg] of cases) {
      const dec = new MilterDecoder();
      const out = dec.push(Buffer.concat([packet, encodeCommand({ kind: "eoh" })]));
      expect(out, name).toHaveLength(2);
      const r = out[0];
      expect(r.ok, name).toBe(false);
      if (!r.ok) {
        expect(r.error, name).toBeInstanceOf(MilterProtocolError);
        expect(r.error.code, name).toBe(name === "unknown code" ? "unknown-command" : "malformed");
        expect(r.error.fatal, name).toBe(false);
        expect(r.error.message, name).toMatch(msg);
      }
      expect(out[1], name).toEqual({ ok: true, command: { kind: "eoh" } }); // framing stays in sync
    }
  });

  it("never throws on random garbage", () => {
    let seed = 99;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let i = 0; i < 2000; i++) {
      const code = "OCDHMRTLNBEAQKUZ"[rand(16)];
      const data = Buffer.from(Array.from({ length: rand(24) }, () => (rand(4) === 0 ? 0 : rand(256))));
      const r = parseCommand({ code, data });
      expect(typeof r.ok).toBe("boolean");
    }
  });
});

describe("reply encoders", () => {
  const one = (b: Buffer) => {
    const p = new PacketDecoder().push(b);
    expect(p).toHaveLength(1);
    const r = parseReply(p[0] as { code: string; data: Buffer });
    if (!r.ok) throw r.error;
    return r.reply;
  };

  it("encodes every reply so the MTA side parses it back", () => {
    expect(one(encodeContinue())).toEqual({ kind: "continue" });
    expect(one(encodeAccept())).toEqual({ kind: "accept" });
    expect(one(encodeReject())).toEqual({ kind: "reject" });
    expect(one(encodeTempfail())).toEqual({ kind: "tempfail" });
    expect(one(encodeDiscard())).toEqual({ kind: "discard" });
    expect(one(encodeProgress())).toEqual({ kind: "progress" });
    expect(encodeContinue()).toEqual(Buffer.from([0, 0, 0, 1, 0x63]));
    expect(one(encodeOptneg({ version: 6, actions: SMFIF_ADDHDRS | SMFIF_CHGBODY, protocol: SMFIP_NOUNKNOWN, macros: { [SMFIM_EOM]: ["i", "{mail_addr}"] } })))
      .toEqual({ kind: "optneg", version: 6, actions: 3, protocol: 0x100, macros: { 5: ["i", "{mail_addr}"] } });
    expect(one(encodeReplyCode("554", "5.7.1", "Virus found: Eicar 100%"))).toEqual({ kind: "replycode", text: "554 5.7.1 Virus found: Eicar 100%%" });
    expect(one(encodeReplyCode("451", null, "try later"))).toEqual({ kind: "replycode", text: "451 try later" });
    expect(one(encodeAddHeader("X-Bulwark-Verdict", "clean"))).toEqual({ kind: "addheader", name: "X-Bulwark-Verdict", value: "clean" });
    expect(one(encodeInsHeader(0, "X-First", "v"))).toEqual({ kind: "insheader", index: 0, name: "X-First", value: "v" });
    expect(one(encodeChgHeader(2, "Subject", ""))).toEqual({ kind: "chgheader", index: 2, name: "Subject", value: "" });
    expect(one(encodeQuarantine("infected"))).toEqual({ kind: "quarantine", reason: "infected" });
  });

  it("refuses replies an MTA would misread", () => {
    expect(() => encodeReplyCode("250", null, "ok")).toThrow(RangeError);
    expect(() => encodeReplyCode("554", "4.7.1", "mismatch")).toThrow(RangeError);
    expect(() => encodeReplyCode("554", "5.7.1", "two\r\nlines")).toThrow(RangeError);
    expect(() => encodeAddHeader("Bad:Name", "v")).toThrow(TypeError);
    expect(() => encodeAddHeader("X-A", "nul\0inside")).toThrow(TypeError);
    expect(() => encodeAddHeader("X-A", "\u20ac")).toThrow(TypeError);
  });

  it("splits REPLBODY into chunks of at most MILTER_CHUNK_SIZE that concatenate to the body", () => {
    const body = Buffer.alloc(2 * MILTER_CHUNK_SIZE + 10);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const packets = encodeReplBody(body);
    expect(packets).toHaveLength(3);
    const chunks = packets.map((p) => { const r = one(p); if (r.kind !== "replbody") throw new Error(r.kind); return r.chunk; });
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(MILTER_CHUNK_SIZE);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(encodeReplBody(Buffer.alloc(MILTER_CHUNK_SIZE))).toHaveLength(1);
    expect(encodeReplBody(Buffer.alloc(0)).map(one)).toEqual([{ kind: "replbody", chunk: Buffer.alloc(0) }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Real peer: miltertest (libmilter's MTA side) against a milter made of this codec.

const MILTERTEST = "/usr/bin/miltertest";
const MARKER = "BULWARK-TEST-MARKER-REJECT-ME";
const REPLY_TEXT = "Blocked by test milter";

interface PeerLog { commands: MilterCommand[]; errors: MilterProtocolError[] }

/** Accepts everything; a body holding MARKER gets 554 at EOM; else a header when ADDHDRS was offered. */
function startTestMilter(log: PeerLog): Promise<{ server: Server; port: number }> {
  const server = createServer((sock: Socket) => {
    const dec = new MilterDecoder();
    let offered = 0;
    let body: Buffer[] = [];
    sock.on("data", (d: Buffer) => {
      for (const r of dec.push(d)) {
        if (!r.ok) { log.errors.push(r.error); sock.destroy(); return; }
        const c = r.command;
        log.commands.push(c);
        switch (c.kind) {
          case "optneg":
            offered = c.actions;
            sock.write(encodeOptneg({ version: Math.min(c.version, SMFI_PROT_VERSION), actions: offered & SMFIF_ADDHDRS, protocol: 0, macros: { [SMFIM_EOM]: ["i"] } }));
            break;
          case "macro": case "abort": case "quit_nc": body = []; break; // no reply to these
          case "quit": sock.end(); return;
          case "body": body.push(c.chunk); sock.write(encodeContinue()); break;
          case "bodyeob": {
            const text = Buffer.concat([...body, c.chunk]).toString("latin1");
            body = [];
            if (text.includes(MARKER)) { sock.write(encodeReplyCode("554", "5.7.1", REPLY_TEXT)); break; }
            if (offered & SMFIF_ADDHDRS) sock.write(encodeAddHeader("X-Bulwark-Test", "clean"));
            sock.write(encodeContinue());
            break;
          }
          default: sock.write(encodeContinue());
        }
      }
    });
    sock.on("error", () => {});
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function runMiltertest(script: string, verbose = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(MILTERTEST, [...(verbose ? ["-vvv"] : []), "-s", script], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0;
      if (err && code === null) stderr += `\n[spawn error] ${err.message}`;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("real peer: miltertest drives a milter built from this codec", () => {
  let dir = "";
  let server: Server;
  let port = 0;
  const log: PeerLog = { commands: [], errors: [] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bulwark-miltertest-"));
    ({ server, port } = await startTestMilter(log));
  });
  afterAll(() => { server?.close(); if (dir) rmSync(dir, { recursive: true, force: true }); });

  /** A Lua script for one message; `actions` is what the simulated MTA offers. */
  function script(name: string, opts: { body: string; actions: string; expect: "SMFIR_CONTINUE" | "SMFIR_REPLYCODE" | "SMFIR_ACCEPT"; header: boolean | null }): string {
    const file = join(dir, `${name}.lua`);
    // miltertest prints nothing for error(), so fail() echoes the reason first. mt.negotiate's
    // 3rd argument lands in the protocol (SMFIP_*) word and the 4th in the actions word (seen on
    // the wire with miltertest -vvv, whatever its man page's wording), so actions go 4th.
    writeFileSync(file, `
function fail(msg) mt.echo("FAIL: " .. msg) error(msg) end
conn = mt.connect("inet:${port}@127.0.0.1")
if conn == nil then fail("connect failed") end
if mt.negotiate(conn, 6, nil, ${opts.actions}) ~= nil then fail("negotiate failed") end
mt.echo("milter asked ADDHDRS: " .. tostring(mt.test_action(conn, SMFIF_ADDHDRS)))
if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then fail("conninfo") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then fail("conninfo reply") end
if mt.helo(conn, "client.example") ~= nil then fail("helo") end
if mt.mailfrom(conn, "<a@example.org>", "SIZE=100") ~= nil then fail("mailfrom") end
if mt.rcptto(conn, "<b@example.test>") ~= nil then fail("rcptto") end
if mt.header(conn, "Subject", "${name}") ~= nil then fail("header") end
if mt.eoh(conn) ~= nil then fail("eoh") end
if mt.bodystring(conn, "${opts.body}\\r\\n") ~= nil then fail("body") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then fail("body reply") end
if mt.eom(conn) ~= nil then fail("eom") end
if mt.getreply(conn) ~= ${opts.expect} then fail("unexpected EOM reply " .. string.char(math.floor(mt.getreply(conn)))) end
mt.echo("EOM reply ok: ${opts.expect}")
${opts.header === null ? "" : `if mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Test", "clean") ~= ${opts.header} then fail("header check") end
mt.echo("header added: " .. tostring(mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Test", "clean")))`}
mt.disconnect(conn)
`);
    return file;
  }

  it("miltertest is installed (a missing peer fails, never skips)", () => {
    expect(existsSync(MILTERTEST), `${MILTERTEST} missing: apt-get install miltertest`).toBe(true);
  });

  it("clean message: continue, with the header added when the MTA offered SMFIF_ADDHDRS", async () => {
    const before = log.commands.length;
    const r = await runMiltertest(script("clean", { body: "hello world", actions: `SMFIF_ADDHDRS + SMFIF_CHGBODY`, expect: "SMFIR_CONTINUE", header: true }));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("EOM reply ok: SMFIR_CONTINUE");
    expect(r.stdout).toContain("header added: true");
    expect(r.stdout).toContain("milter asked ADDHDRS: true");
    expect(log.errors).toEqual([]);
    // what libmilter's MTA side sent, as our parser read it
    const seen = log.commands.slice(before);
    expect(seen[0]).toMatchObject({ kind: "optneg", version: 6, actions: SMFIF_ADDHDRS | SMFIF_CHGBODY });
    expect(seen).toContainEqual({ kind: "connect", hostname: "client.example", family: "inet", port: 12345, address: "192.0.2.1" }); // miltertest's fixed client port
    expect(seen).toContainEqual({ kind: "helo", name: "client.example" });
    expect(seen).toContainEqual({ kind: "mail", sender: "<a@example.org>", args: ["SIZE=100"] });
    expect(seen).toContainEqual({ kind: "rcpt", recipient: "<b@example.test>", args: [] });
    expect(seen).toContainEqual({ kind: "header", name: "Subject", value: "clean" });
    expect(seen).toContainEqual({ kind: "body", chunk: bytes("hello world\r\n") });
    expect(seen.map((c) => c.kind)).toEqual(expect.arrayContaining(["eoh", "bodyeob", "quit"]));
  });

  it("clean message without SMFIF_ADDHDRS offered: continue and no header", async () => {
    const r = await runMiltertest(script("noaddhdrs", { body: "hello world", actions: `SMFIF_CHGBODY + SMFIF_QUARANTINE`, expect: "SMFIR_CONTINUE", header: false }));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("EOM reply ok: SMFIR_CONTINUE");
    expect(r.stdout).toContain("header added: false");
    expect(r.stdout).toContain("milter asked ADDHDRS: false");
    expect(SMFIF_QUARANTINE & SMFIF_ADDHDRS).toBe(0);
  });

  it("marked message: SMFIR_REPLYCODE", async () => {
    const r = await runMiltertest(script("marked", { body: `x ${MARKER} y`, actions: "SMFIF_ADDHDRS", expect: "SMFIR_REPLYCODE", header: false }), true);
    expect(r.code).toBe(0);
    // -vvv logs each packet libmilter's side read: ours is the reply line plus its NUL
    const replyLine = `554 5.7.1 ${REPLY_TEXT}`;
    expect(r.stdout + r.stderr).toContain(`cmd y, len ${replyLine.length + 1}`);
    expect(r.stdout + r.stderr).not.toContain("cmd h,"); // no header on a rejected message
    expect(r.stdout).toContain("EOM reply ok: SMFIR_REPLYCODE");
    expect(log.errors).toEqual([]);
  });

  it("two messages on one connection: per-message state is reset (marked, then clean)", async () => {
    const file = join(dir, "two.lua");
    writeFileSync(file, `
function fail(msg) mt.echo("FAIL: " .. msg) error(msg) end
conn = mt.connect("inet:${port}@127.0.0.1")
if conn == nil then fail("connect failed") end
if mt.negotiate(conn, 6, nil, SMFIF_ADDHDRS) ~= nil then fail("negotiate failed") end
if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then fail("conninfo") end
mt.mailfrom(conn, "<a@example.org>")
mt.rcptto(conn, "<b@example.test>")
mt.bodystring(conn, "${MARKER}\\r\\n")
mt.eom(conn)
if mt.getreply(conn) ~= SMFIR_REPLYCODE then fail("first message not rejected") end
if mt.abort(conn) ~= nil then fail("abort") end
mt.mailfrom(conn, "<c@example.org>")
mt.rcptto(conn, "<d@example.test>")
mt.bodystring(conn, "clean second message\\r\\n")
mt.eom(conn)
if mt.getreply(conn) ~= SMFIR_CONTINUE then fail("second message not continued") end
if not mt.eom_check(conn, MT_HDRADD, "X-Bulwark-Test", "clean") then fail("second message has no header") end
mt.echo("two messages ok")
mt.disconnect(conn)
`);
    const r = await runMiltertest(file);
    expect(r.stdout).toContain("two messages ok");
    expect(r.code).toBe(0);
    expect(log.errors).toEqual([]);
  });

  it("a wrong expectation makes miltertest fail (its exit status means something)", async () => {
    const r = await runMiltertest(script("wrong", { body: `x ${MARKER} y`, actions: "SMFIF_ADDHDRS", expect: "SMFIR_ACCEPT", header: null }));
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stdout).not.toContain("EOM reply ok");
    expect(r.stdout).toContain("FAIL: unexpected EOM reply y"); // y = SMFIR_REPLYCODE
  });
});
