import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { ENCRYPTED_PDF, looksLikePdf, unpackPdf } from "../../host/unpack/pdf.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const pdf = testfile("clam.pdf");
const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** A minimal PDF with one stream object per entry (dictionary extras, raw body bytes). */
function makePdf(objects: Array<{ dict: string; body: Uint8Array | string }>, extra = ""): Uint8Array {
  let s = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
  objects.forEach((o, i) => {
    const body = typeof o.body === "string" ? o.body : latin1(o.body);
    s += `${i + 1} 0 obj\n<< /Length ${body.length} ${o.dict} >>\nstream\n${body}\nendstream\nendobj\n`;
  });
  s += extra + "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
  return new Uint8Array(Buffer.from(s, "latin1"));
}

/** Reference LZW encoder (PDF flavour: MSB-first, 9-12 bit codes, EarlyChange 1). */
function lzwEncode(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let nbits = 0;
  let width = 9;
  const put = (code: number) => {
    acc = (acc << width) | code;
    nbits += width;
    while (nbits >= 8) {
      out.push((acc >>> (nbits - 8)) & 0xff);
      nbits -= 8;
    }
    acc &= (1 << nbits) - 1;
  };
  let dict = new Map<string, number>();
  let next = 258;
  put(256);
  let w = "";
  for (const b of input) {
    const wc = w + String.fromCharCode(b);
    if (wc.length === 1 || dict.has(wc)) {
      w = wc;
      continue;
    }
    put(w.length === 1 ? w.charCodeAt(0) : dict.get(w)!);
    dict.set(wc, next++);
    if (next + 1 > 1 << width && width < 12) width++;
    if (next >= 4094) {
      put(256);
      dict = new Map();
      next = 258;
      width = 9;
    }
    w = String.fromCharCode(b);
  }
  if (w) put(w.length === 1 ? w.charCodeAt(0) : dict.get(w)!);
  put(257);
  if (nbits > 0) out.push((acc << (8 - nbits)) & 0xff);
  return Uint8Array.from(out);
}

describe("pdf", () => {
  it("detects PDF with the header anywhere in the first KiB", () => {
    expect(looksLikePdf(pdf)).toBe(true);
    expect(looksLikePdf(enc(" ".repeat(500) + "%PDF-1.4"))).toBe(true);
    expect(looksLikePdf(enc(" ".repeat(1100) + "%PDF-1.4"))).toBe(false);
  });

  it("yields clam.exe from clam.pdf under its /Filespec name", async () => {
    const kids = await collect(unpackPdf, pdf);
    const exe = kids.find((k) => sha256(k.data) === CLAM_EXE_SHA256);
    expect(exe?.name).toBe("clam.exe");
  });

  it("inflates the FlateDecode content stream of clam.pdf", async () => {
    const kids = await collect(unpackPdf, pdf);
    const content = kids.find((k) => k.name === "obj-14");
    expect(latin1(content!.data)).toMatch(/^q 0\.1 0 0 0\.1 0 0 cm/);
  });

  it("decodes filter chains, hex-escaped names and all supported filters", async () => {
    const payload = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    const a85 = (b: Buffer) => {
      let out = "";
      for (let i = 0; i < b.length; i += 4) {
        const chunk = Buffer.alloc(4);
        b.copy(chunk, 0, i, i + 4);
        let v = chunk.readUInt32BE(0);
        const n = Math.min(4, b.length - i);
        const digits: string[] = [];
        for (let k = 0; k < 5; k++) {
          digits.unshift(String.fromCharCode(33 + (v % 85)));
          v = Math.floor(v / 85);
        }
        out += digits.join("").slice(0, n + 1);
      }
      return out + "~>";
    };
    const doc = makePdf([
      { dict: "/Filter /Fl#61teDecode", body: deflateSync(Buffer.from(payload)) },
      { dict: "/Filter [/ASCIIHexDecode /FlateDecode]", body: deflateSync(Buffer.from(payload)).toString("hex").toUpperCase() + ">" },
      { dict: "/Filter /A85", body: a85(Buffer.from(payload)) },
      { dict: "/Filter /RunLengthDecode", body: Uint8Array.from([2, 0x61, 0x62, 0x63, 253, 0x7a, 128]) },
    ]);
    const kids = await collect(unpackPdf, doc);
    expect(kids.map((k) => latin1(k.data))).toEqual([payload, payload, payload, "abczzzz"]);
  });

  it("decodes LZW, including table resets and the KwKwK case", async () => {
    const text = "TOBEORNOTTOBEORTOBEORNOT#" + "abababababababab".repeat(50);
    const random = Buffer.from(Array.from({ length: 30_000 }, (_, i) => (i * 7919) % 251));
    const doc = makePdf([
      { dict: "/Filter /LZWDecode", body: lzwEncode(enc(text)) },
      { dict: "/Filter /LZW", body: lzwEncode(random) },
    ]);
    const kids = await collect(unpackPdf, doc);
    expect(latin1(kids[0].data)).toBe(text);
    expect(Buffer.from(kids[1].data).equals(random)).toBe(true);
  });

  it("undoes the PNG Up predictor", async () => {
    const rows = [[2, 1, 2, 3], [2, 1, 1, 1]]; // filter 2 (Up): second row adds to the first
    const doc = makePdf([{ dict: "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 3 >>", body: deflateSync(Buffer.from(rows.flat())) }]);
    const kids = await collect(unpackPdf, doc);
    expect([...kids[0].data]).toEqual([1, 2, 3, 2, 3, 4]);
  });

  it("finds the data by endstream when /Length lies", async () => {
    const s = "%PDF-1.4\n1 0 obj\n<< /Length 3 >>\nstream\nhidden payload\nendstream\nendobj\n";
    const kids = await collect(unpackPdf, enc(s));
    expect(latin1(kids[0].data)).toBe("hidden payload");
  });

  it("raises Heuristics.Encrypted.PDF for documents with /Encrypt", async () => {
    const ctx = makeCtx();
    await collect(unpackPdf, makePdf([{ dict: "", body: "x" }], "trailer\n<< /Encrypt 9 0 R >>\n"), ctx);
    expect(ctx.heuristics).toContain(ENCRYPTED_PDF);
    const plain = makeCtx();
    await collect(unpackPdf, pdf, plain);
    expect(plain.heuristics).toEqual([]);
  });

  it("stops a Flate bomb at the ratio limit", async () => {
    const bomb = deflateSync(Buffer.alloc(20_000_000));
    const doc = makePdf([{ dict: "/Filter /FlateDecode", body: bomb }]);
    const err = await collect(unpackPdf, doc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceeded);
    expect((err as LimitExceeded).limit).toBe("MaxRatio");
  });

  it("stops an LZW/RunLength stream at the file-size limit", async () => {
    const rl = new Uint8Array(20_000);
    for (let i = 0; i < rl.length; i += 2) rl[i] = 129; // each pair: 128 copies of the next byte
    const doc = makePdf([{ dict: "/Filter /RL", body: rl }]);
    const err = await collect(unpackPdf, doc, makeCtx({ maxFileSize: 100_000 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxFileSize");
  });

  it("stays linear on thousands of unterminated objects and streams", async () => {
    const doc = enc("%PDF-1.4\n" + "1 0 obj\n<< >>\nstream\n".repeat(50_000));
    const kids = await collect(unpackPdf, doc);
    expect(kids.length).toBe(1); // the first stream runs to the end of file
  });

  it("rejects non-PDF input with UnpackError", async () => {
    await expect(collect(unpackPdf, enc("hello"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants", async () => {
    await expectSurvivesMutants(unpackPdf, mutants(pdf, { flips: 200 }));
    const embedded = latin1(pdf).indexOf("/Type /EmbeddedFile");
    await expectSurvivesMutants(unpackPdf, mutants(pdf, { flips: 200, seed: 9, focus: [embedded - 200, embedded + 900] }));
    const flate = latin1(pdf).indexOf("/Filter /FlateDecode");
    await expectSurvivesMutants(unpackPdf, mutants(pdf, { flips: 200, seed: 11, focus: [flate, flate + 400] }));
  });
});
