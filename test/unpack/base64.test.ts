import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../host/unpack/base64.js";
import { decodeQuotedPrintable } from "../../host/unpack/qp.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** RFC 2045 reading, written the obvious way: keep alphabet characters, let '=' end the
 *  current quantum (so concatenated encodings decode one after the other), drop the rest. */
function reference(text: string): Buffer {
  const out: number[] = [];
  let quantum: number[] = [];
  const flush = () => {
    const [a, b, c] = quantum;
    if (quantum.length >= 2) out.push(((a << 2) | (b >> 4)) & 255);
    if (quantum.length >= 3) out.push(((b << 4) | (c >> 2)) & 255);
    quantum = [];
  };
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v >= 0) {
      quantum.push(v);
      if (quantum.length === 4) {
        const [a, b, c, d] = quantum;
        out.push(((a << 2) | (b >> 4)) & 255, ((b << 4) | (c >> 2)) & 255, ((c << 6) | d) & 255);
        quantum = [];
      }
    } else if (ch === "=") {
      flush();
    }
  }
  flush();
  return Buffer.from(out);
}

function wrap(text: string, width: number, eol: string): string {
  if (width <= 0) return text;
  return (text.match(new RegExp(`.{1,${width}}`, "gs")) ?? []).join(eol) + eol;
}

/** mulberry32, so the junk positions are the same on every run */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function insertAt(text: string, count: number, what: string[], seed: number): string {
  const rnd = prng(seed);
  const chars = text.split("");
  for (let i = 0; i < count; i++) chars.splice(Math.floor(rnd() * chars.length), 0, what[Math.floor(rnd() * what.length)]);
  return chars.join("");
}

function decode(text: string, maxOut = Infinity) {
  const src = Buffer.from(`HEAD${text}TAIL`, "latin1"); // the region sits inside a larger buffer
  return decodeBase64(src, 4, src.length - 4, maxOut);
}

describe("decodeBase64", () => {
  // sizes that cross the 64 KiB native slices, with and without padding
  const payloads = [0, 1, 2, 3, 57, 1000, 200_000, 200_001, 300_002].map((n) => randomBytes(n));

  it("decodes well-formed bodies of any line shape exactly", () => {
    for (const p of payloads) {
      const b64 = p.toString("base64");
      for (const [width, eol] of [[76, "\r\n"], [76, "\n"], [64, "\r\n"], [72, "\n"], [73, "\r\n"], [0, ""], [100_000, "\n"]] as const) {
        const got = decode(wrap(b64, width, eol));
        expect(got.overflow).toBe(false);
        expect(got.data.equals(p), `${p.length} bytes, width ${width}`).toBe(true);
      }
    }
  });

  it("skips junk, base64url characters and whitespace anywhere, like RFC 2045 says", () => {
    const p = payloads[7];
    const clean = wrap(p.toString("base64"), 76, "\r\n");
    const junk = ["!", ".", "\0", "é", "*", "-", "_", " ", "\t", "\r", "\n", "\x7f"];
    for (const [count, seed] of [[1, 1], [1, 2], [5, 3], [200, 4], [5000, 5]]) {
      const dirty = insertAt(clean, count, junk, seed);
      const got = decode(dirty);
      expect(got.data.equals(reference(dirty)), `${count} junk bytes`).toBe(true);
      expect(got.data.equals(p), `${count} junk bytes`).toBe(true);
    }
  });

  it("continues after padding in the middle (concatenated encodings), unlike Node", () => {
    // 56,999 bytes encode to exactly 1000 full lines ending in "=", so the padding sits
    // inside a native slice of full-length lines, not on a short last line
    const a = randomBytes(56_999);
    const b = randomBytes(70_000);
    const text = wrap(a.toString("base64"), 76, "\r\n") + wrap(b.toString("base64"), 76, "\r\n");
    expect(text.indexOf("=")).toBe(1000 * 78 - 3);
    expect(Buffer.from(text, "base64").length).toBeLessThan(a.length + b.length); // Node stops at '='
    const got = decode(text);
    expect(got.data.equals(Buffer.concat([a, b]))).toBe(true);
  });

  it("matches the reference on a misaligning line in the middle of a long body", () => {
    // one 77-character line ending in LF among CRLF lines: the byte count per slice is
    // unchanged, so only the check of every line end keeps the following slices aligned
    const p = randomBytes(150_000);
    const lines = wrap(p.toString("base64"), 76, "\r\n").split("\r\n");
    lines[500] = lines[500] + "A";
    const text = lines.slice(0, 500).join("\r\n") + "\r\n" + lines[500] + "\n" + lines.slice(501).join("\r\n");
    expect(decode(text).data.equals(reference(text))).toBe(true);
  });

  it("stops at maxOut and reports overflow", () => {
    const p = payloads[6];
    const text = wrap(p.toString("base64"), 76, "\r\n");
    for (const max of [0, 1, 65_536, p.length - 1]) {
      const got = decode(text, max);
      expect(got.overflow).toBe(true);
      expect(got.data.length).toBeLessThanOrEqual(max);
      expect(got.data.equals(p.subarray(0, got.data.length))).toBe(true);
    }
    expect(decode(text, p.length).overflow).toBe(false);
  });
});

describe("decodeQuotedPrintable", () => {
  const qp = (s: string) => decodeQuotedPrintable(Buffer.from(s, "latin1"), 0, s.length).toString("latin1");

  it("decodes escapes in either case and soft line breaks with trailing blanks", () => {
    expect(qp("caf=C3=a9")).toBe("caf\xc3\xa9");
    expect(qp("one=\r\ntwo=  \r\nthree=\nfour=\t\nfive")).toBe("onetwothreefourfive");
    expect(qp("a=3D=3Db\r\nnext line")).toBe("a==b\r\nnext line");
  });

  it("keeps malformed escapes literally and never grows", () => {
    expect(qp("100=% =ZZ =4 end=")).toBe("100=% =ZZ =4 end");
    expect(qp("=\r")).toBe("");
    const s = "x=".repeat(10_000);
    expect(qp(s).length).toBeLessThanOrEqual(s.length);
  });
});

describe("decodeBase64 near its output cap", () => {
  // short lines: the fast path must take only the lines that still fit, then leave the rest to
  // the slow path, which reports the overflow (this was once quadratic, and must stay exact)
  for (const width of [4, 8, 76]) {
    it(`keeps exactly the first maxOut bytes of ${width}-character lines and reports the overflow`, () => {
      const plain = Buffer.from(Array.from({ length: 30_000 }, (_, i) => (i * 7 + 3) & 0xff));
      const b64 = plain.toString("base64").match(new RegExp(`.{1,${width}}`, "g"))!.join("\r\n");
      const src = Buffer.from(b64);
      for (const cap of [1, 2, 3, 4, 1000, 12_345, 29_999]) {
        const r = decodeBase64(src, 0, src.length, cap);
        expect(r.overflow, `cap ${cap}`).toBe(true);
        expect(Buffer.from(r.data).equals(plain.subarray(0, r.data.length)), `cap ${cap}`).toBe(true);
        expect(r.data.length, `cap ${cap}`).toBeGreaterThan(cap - 3);
        expect(r.data.length, `cap ${cap}`).toBeLessThanOrEqual(cap);
      }
      const whole = decodeBase64(src, 0, src.length, 30_000);
      expect([whole.overflow, Buffer.from(whole.data).equals(plain)]).toEqual([false, true]);
    });
  }
});
