import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { unpackBinhex } from "../../host/unpack/binhex.js";
import { unpackHtml } from "../../host/unpack/html.js";
import { looksLikeMail, looksLikeMbox, unpackMail, unpackMbox } from "../../host/unpack/mime.js";
import { unpackTnef } from "../../host/unpack/tnef.js";
import { UnpackError } from "../../host/unpack/types.js";
import { unpackUuencode } from "../../host/unpack/uuencode.js";
import { deepMimeNesting, longBoundary, longHeaderLine, manyHeaders, manyParts } from "../helpers/mime-bombs.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const clamExe = Buffer.from(testfile("clam.exe"));
const b64 = (data: Buffer, width = 76) => (data.toString("base64").match(new RegExp(`.{1,${width}}`, "g")) ?? []).join("\r\n");
const mail = (s: string) => Buffer.from(s.replace(/\n/g, "\r\n"), "latin1");

async function limitOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LimitExceeded) return e.limit;
    throw e;
  }
  return "none";
}

describe("looksLikeMail / looksLikeMbox", () => {
  it("recognises the Debian mail test files", () => {
    for (const f of ["clam.mail", "clam.exe.mbox.base64", "clam.exe.mbox.uu"]) expect(looksLikeMail(testfile(f)), f).toBe(true);
    expect(looksLikeMbox(testfile("clam.exe.mbox.base64"))).toBe(true);
    expect(looksLikeMbox(testfile("clam.mail"))).toBe(false);
  });

  it("rejects non-mail", () => {
    for (const f of ["clam.exe", "clam.zip", "clam.exe.html", "clam.exe.binhex", "clam.tnef"]) expect(looksLikeMail(testfile(f)), f).toBe(false);
    expect(looksLikeMail(Buffer.from("Hello world\nthis is text\n"))).toBe(false);
    expect(looksLikeMail(Buffer.from("X-Custom: 1\nX-Other: 2\n\nbody"))).toBe(false); // no mail header name
    expect(looksLikeMail(Buffer.from(""))).toBe(false);
    expect(looksLikeMbox(Buffer.from("From: a@b\nTo: c@d\n"))).toBe(false);
  });

  it("accepts unknown headers before a known one and a From_ line", () => {
    expect(looksLikeMail(Buffer.from("From x@y Thu Jul 31 13:49:50 2008\nX-Spam: no\nReceived: by x\n\nbody"))).toBe(true);
    expect(looksLikeMail(Buffer.from("subject : hi\r\n\r\n"))).toBe(true);
  });
});

describe("unpackMail on the Debian test files", () => {
  it("clam.mail yields the text part and clam.exe by name", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackMail, testfile("clam.mail"), ctx);
    expect(kids.map((k) => k.name)).toEqual(["part-1.txt", "clam.exe"]);
    expect(Buffer.from(kids[0].data).toString()).toBe("This is a ClamAV test file with embedded clam.exe");
    expect(sha256(kids[1].data)).toBe(CLAM_EXE_SHA256);
    expect(ctx.charged).toBe(kids[0].data.length + kids[1].data.length);
  });

  it("clam.exe.mbox.base64: directly, and through unpackMbox", async () => {
    const data = testfile("clam.exe.mbox.base64");
    const direct = await collect(unpackMail, data);
    expect(direct.map((k) => [k.name, sha256(k.data)])).toEqual([["clam.exe", CLAM_EXE_SHA256]]);
    const msgs = await collect(unpackMbox, data);
    expect(msgs.map((m) => m.name)).toEqual(["msg-1"]);
    expect(looksLikeMail(msgs[0].data)).toBe(true);
    const inner = await collect(unpackMail, msgs[0].data);
    expect(inner.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
  });

  it("clam.exe.mbox.uu (Content-Transfer-Encoding: x-uuencode)", async () => {
    const kids = await collect(unpackMail, testfile("clam.exe.mbox.uu"));
    expect(kids.map((k) => [k.name, sha256(k.data)])).toEqual([["clam.exe", CLAM_EXE_SHA256]]);
  });

  it("survives truncations and byte flips of clam.mail", async () => {
    await expectSurvivesMutants(unpackMail, mutants(testfile("clam.mail"), { flips: 80 }));
  });
});

describe("MIME structure", () => {
  it("walks nested multiparts, decodes QP, RFC 2047 and RFC 2231 names, keeps order", async () => {
    const m = mail(`From: a@example.com
To: b@example.com
Subject: test
MIME-Version: 1.0
Content-Type: multipart/mixed (a comment; with semicolon);
 boundary="outer;=+ b"

This is the preamble.
--outer;=+ b
Content-Type: multipart/alternative; boundary=----=_inner_1

------=_inner_1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 soft=
 break =3D done
------=_inner_1
Content-Type: text/html

<p>hi</p>
------=_inner_1--
--outer;=+ b
Content-Type: application/octet-stream; name="=?UTF-8?B?w6lj?= =?UTF-8?Q?ole=2Eexe?="
Content-Transfer-Encoding: base64

${b64(clamExe)}
--outer;=+ b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1="uro.bin"
Content-Transfer-Encoding: base64

${b64(Buffer.from("euro"))}
--outer;=+ b--
epilogue`);
    const kids = await collect(unpackMail, m);
    expect(kids.map((k) => k.name)).toEqual(["part-1.txt", "part-2.html", "école.exe", "€uro.bin"]);
    expect(Buffer.from(kids[0].data).toString("utf8")).toBe("café soft break = done");
    expect(Buffer.from(kids[1].data).toString()).toBe("<p>hi</p>");
    expect(sha256(kids[2].data)).toBe(CLAM_EXE_SHA256);
    expect(Buffer.from(kids[3].data).toString()).toBe("euro");
  });

  it("finds boundaries given by RFC 2231, in Content-Disposition, or as a second parameter", async () => {
    const bodies = (b: string) => `\n--${b}\nContent-Transfer-Encoding: base64\n\n${b64(Buffer.from("ok-" + b))}\n--${b}--\n`;
    const cases = [
      [`Content-Type: multipart/mixed; boundary*0="two"; boundary*1="-piece"`, "two-piece"],
      [`Content-Type: multipart/mixed\nContent-Disposition: inline; boundary="in-cd"`, "in-cd"],
      [`Content-Type: multipart/mixed; boundary="unused"; boundary="second"`, "second"],
      [`Content-Type: multipart/mixed; boundary=semi;colon`, "semi"],
    ];
    for (const [header, b] of cases) {
      const kids = await collect(unpackMail, mail(`From: a@b\n${header}\n${bodies(b)}`));
      expect(kids.map((k) => Buffer.from(k.data).toString()), header).toEqual([`ok-${b}`]);
    }
  });

  it("yields message/rfc822 parts raw, for the orchestrator to recurse into", async () => {
    const inner = `From: inner@example.com\nSubject: inner\nContent-Type: text/plain\n\ninner body`;
    const m = mail(`From: a@b\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: message/rfc822\n\n${inner}\n--X--\n`);
    const kids = await collect(unpackMail, m);
    expect(kids.map((k) => k.name)).toEqual(["part-1.eml"]);
    expect(Buffer.from(kids[0].data).toString()).toBe(inner.replace(/\n/g, "\r\n"));
    expect(looksLikeMail(kids[0].data)).toBe(true);
  });

  it("does not split on a boundary that is only a prefix of the line", async () => {
    const m = mail(`From: a@b\nContent-Type: multipart/mixed; boundary=a\n\n--a\n\none\n--ab\ntwo\n--a--\n`);
    const kids = await collect(unpackMail, m);
    expect(kids.map((k) => Buffer.from(k.data).toString())).toEqual(["one\r\n--ab\r\ntwo"]);
  });

  it("extracts uuencoded and BinHex blocks from text bodies and non-MIME mail", async () => {
    const uuBlock = Buffer.from(testfile("clam.exe.mbox.uu")).toString("latin1").split(/\n\n/)[1];
    const hqx = Buffer.from(testfile("clam.exe.binhex")).toString("latin1");
    const plain = mail(`From: a@b\nSubject: old style\n\nSee attached:\n${uuBlock}\nthanks`);
    const kids = await collect(unpackMail, plain);
    expect(kids.map((k) => k.name)).toEqual(["part-1.txt", "clam.exe"]);
    expect(sha256(kids[1].data)).toBe(CLAM_EXE_SHA256);
    const mime = mail(`From: a@b\nContent-Type: multipart/mixed; boundary=Z\n\n--Z\nContent-Type: text/plain\n\n${hqx}\n--Z--\n`);
    const kids2 = await collect(unpackMail, mime);
    // clam.exe.binhex declares a 1-byte resource fork, yielded as its own child
    expect(kids2.map((k) => k.name)).toEqual(["part-1.txt", "clam.exe", "clam.exe.rsrc"]);
    expect(sha256(kids2[1].data)).toBe(CLAM_EXE_SHA256);
  });
});

describe("malformed mail", () => {
  const attach = (b: string) => `--${b}\nContent-Type: application/x-exe; name=clam.exe\nContent-Transfer-Encoding: base64\n\n${b64(clamExe)}\n`;

  it("recovers the last part when the final boundary is missing", async () => {
    const kids = await collect(unpackMail, mail(`From: a@b\nContent-Type: multipart/mixed; boundary=M\n\n${attach("M")}`));
    expect(kids.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
  });

  it("keeps reading parts that follow a premature close delimiter", async () => {
    const m = mail(`From: a@b\nContent-Type: multipart/mixed; boundary=P\n\n--P\n\nfirst\n--P--\nepilogue?\n${attach("P")}--P--\ntail\n`);
    const kids = await collect(unpackMail, m);
    expect(kids.map((k) => k.name)).toEqual(["part-1.txt", "clam.exe"]);
    expect(sha256(kids[1].data)).toBe(CLAM_EXE_SHA256);
  });

  it("decodes what is there of truncated base64", async () => {
    const text = b64(clamExe);
    const cut = mail(`From: a@b\nContent-Transfer-Encoding: base64\nContent-Type: application/x-exe\n\n${text.slice(0, 401)}`);
    const kids = await collect(unpackMail, cut);
    expect(kids).toHaveLength(1);
    expect(kids[0].data.length).toBeGreaterThan(200);
    expect(Buffer.from(kids[0].data).equals(clamExe.subarray(0, kids[0].data.length))).toBe(true);
  });

  it("treats data without headers as one text body", async () => {
    const kids = await collect(unpackMail, Buffer.from("just some words\nand more\n"));
    expect(kids.map((k) => [k.name, Buffer.from(k.data).toString()])).toEqual([["part-1.txt", "just some words\nand more\n"]]);
  });

  it("handles LF-only and CR-only line endings like CRLF", async () => {
    const lf = Buffer.from(testfile("clam.mail")).toString("latin1").replace(/\r\n/g, "\n");
    for (const eol of ["\n", "\r"]) {
      const kids = await collect(unpackMail, Buffer.from(lf.replace(/\n/g, eol), "latin1"));
      expect(kids.map((k) => k.name), JSON.stringify(eol)).toEqual(["part-1.txt", "clam.exe"]);
      expect(sha256(kids[1].data)).toBe(CLAM_EXE_SHA256);
    }
    // headers in bare CR, the parts in CRLF: CRLF must not become two line breaks
    const cut = lf.indexOf("\n\n--");
    const crHead = lf.slice(0, cut).replace(/\n/g, "\r") + "\r\r";
    const mixed = await collect(unpackMail, Buffer.from(crHead + lf.slice(cut + 2).replace(/\n/g, "\r\n"), "latin1"));
    expect(mixed.map((k) => k.name)).toEqual(["part-1.txt", "clam.exe"]);
  });

  it("decodes a 100 KB boundary, and flags a 1 MB one (header bytes) without throwing", async () => {
    const ok = await collect(unpackMail, longBoundary(100_000, clamExe));
    expect(ok.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
    const ctx = makeCtx();
    const big = longBoundary(1_000_000, clamExe);
    const kids = await collect(unpackMail, big, ctx);
    expect(ctx.heuristics).toEqual(["Heuristics.Limits.Exceeded.EmailHeaderBytes"]);
    expect(kids).toHaveLength(1); // the body, kept as text
    expect(kids[0].data.length).toBeGreaterThan(1_000_000);
  });

  it("flags a 10 MB single-line header and still reads the body", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackMail, longHeaderLine(10_000_000, clamExe), ctx);
    expect(ctx.heuristics).toEqual(["Heuristics.Limits.Exceeded.EmailHeaderBytes"]);
    expect(Buffer.from(kids[0].data).toString("latin1")).toContain(b64(clamExe).slice(0, 76));
  });

  it("flags a million header fields and still reads the body", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackMail, manyHeaders(1_000_000, clamExe), ctx);
    expect(ctx.heuristics).toEqual(["Heuristics.Limits.Exceeded.EmailHeaders"]);
    expect(Buffer.from(kids[0].data).toString("latin1")).toContain(b64(clamExe).slice(0, 76));
  });
});

describe("limits", () => {
  it("decodes nesting up to maxMimeDepth and throws EmailMIMEDepth past it", async () => {
    const ok = await collect(unpackMail, deepMimeNesting(8, clamExe), makeCtx({ maxMimeDepth: 8 }));
    expect(ok.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
    expect(await limitOf(collect(unpackMail, deepMimeNesting(9, clamExe), makeCtx({ maxMimeDepth: 8 })))).toBe("EmailMIMEDepth");
  });

  it("stops 100,000 levels of nesting with EmailMIMEDepth (no stack overflow)", async () => {
    expect(await limitOf(collect(unpackMail, deepMimeNesting(100_000)))).toBe("EmailMIMEDepth");
  });

  it("stops 100,000 parts with EmailMIMEPartsPerMessage after yielding the first ones", async () => {
    const ctx = makeCtx();
    const seen: string[] = [];
    const run = (async () => {
      for (const k of unpackMail(manyParts(100_000), ctx) as Iterable<{ name: string }>) seen.push(k.name);
    })();
    expect(await limitOf(run)).toBe("EmailMIMEPartsPerMessage");
    expect(seen).toHaveLength(ctx.limits.maxMimeParts);
    expect(await collect(unpackMail, manyParts(50, clamExe)).then((k) => sha256(k[50].data))).toBe(CLAM_EXE_SHA256);
  });

  it("throws MaxFileSize when a decoded part is larger than maxFileSize", async () => {
    const big = Buffer.alloc(3000, 7);
    const m = mail(`From: a@b\nContent-Transfer-Encoding: base64\n\n${b64(big)}\n`);
    expect(await limitOf(collect(unpackMail, m, makeCtx({ maxFileSize: 2999 })))).toBe("MaxFileSize");
    const kids = await collect(unpackMail, m, makeCtx({ maxFileSize: 3000 }));
    expect(Buffer.from(kids[0].data).equals(big)).toBe(true);
  });
});

describe("unpackMbox", () => {
  it("splits on From_ lines after a blank line only", async () => {
    const box = Buffer.from(
      "From a@b Mon Jan 1 00:00:00 2024\nFrom: a@b\nSubject: one\n\nbody one\nFrom here on, text.\n\n" +
        "From c@d Tue Jan 2 00:00:00 2024\nFrom: c@d\nSubject: two\n\nbody two\n",
    );
    const msgs = await collect(unpackMbox, box);
    expect(msgs.map((m) => m.name)).toEqual(["msg-1", "msg-2"]);
    expect(Buffer.from(msgs[0].data).toString()).toContain("From here on, text.");
    expect(Buffer.from(msgs[1].data).toString()).toBe("From: c@d\nSubject: two\n\nbody two\n");
  });

  it("rejects data that is not an mbox", async () => {
    await expect(collect(unpackMbox, testfile("clam.mail"))).rejects.toThrow(UnpackError);
  });
});

describe("robustness", () => {
  // lines that steer the parsers into every state: boundaries, nesting, encodings,
  // encoded words, uu/BinHex/data: starts, bare CRs and binary bytes
  const TOKENS = [
    "--o", "--o--", "--i", "--i--", "Content-Type: multipart/mixed; boundary=o", "Content-Type: multipart/digest; boundary=i",
    "Content-Type: message/rfc822", "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable",
    "Content-Transfer-Encoding: x-uuencode", "", "", "From x y", "From: a", " folded", "=?utf-8?b?w6k=?=", "begin 644 a.exe",
    "M35I0``(````$``\\`__\\``+@````A", "`", "end", "begin-base64 644 b", "====", "(This file must be converted with BinHex 4.0)",
    ":#'0XB@dZCAKP!%9B43\"$E'&Y!!!!!!)J!!!!!EY969T3!!)!!!!%!!m!rrm!!,J", "!!!:", "TVpQAAIAAAAEAA8A//8AALgAAAAhAAAAQAAaAAAA",
    "=3D=\r", '<a href="data:x;base64,QUJD', "Content-Disposition: attachment; filename*0*=utf-8''%E2; filename*1=x", "\r", "\x00\xff",
  ];

  it("token soup: only LimitExceeded or UnpackError escape any mail-side unpacker", async () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 1500; i++) {
      const eol = ["\r\n", "\n", "\r"][Math.floor(rnd() * 3)];
      const lines = Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => TOKENS[Math.floor(rnd() * TOKENS.length)]);
      const data = Buffer.from(lines.join(eol), "latin1");
      for (const unpack of [unpackMail, unpackMbox, unpackUuencode, unpackBinhex, unpackHtml, unpackTnef]) {
        try {
          const kids = await collect(unpack, data, makeCtx({ maxFileSize: 100_000, maxMimeDepth: 4, maxMimeParts: 20 }));
          for (const k of kids) expect(k.data).toBeInstanceOf(Uint8Array);
        } catch (e) {
          if (e instanceof LimitExceeded || e instanceof UnpackError) continue;
          throw new Error(`input ${JSON.stringify(data.toString("latin1"))}: ${(e as Error).stack}`);
        }
      }
    }
  });
});
