import { describe, expect, it } from "vitest";
import { OutputOverflow } from "../../host/unpack/bounded.js";
import { explode } from "../../host/unpack/explode.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

/** clam.impl.zip's member (PKZIP 1.x, 4 KiB dictionary, no literal tree). */
function clamImploded(): { raw: Uint8Array; flags: number; size: number } {
  const zip = Buffer.from(testfile("clam.impl.zip"));
  const start = 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
  return { raw: zip.subarray(start, start + zip.readUInt32LE(18)), flags: zip.readUInt16LE(6), size: zip.readUInt32LE(22) };
}

type Token = { lit: number } | { dist: number; len: number };

/**
 * Test-side imploder written from APPNOTE 5.3 with the simplest legal trees: every symbol
 * of a tree has the same bit length (8 for literals, 6 for lengths and distances), so the
 * Shannon-Fano code of symbol s is the complement of s, sent most-significant bit first.
 * The real PKZIP file above anchors the trees and bit order; this covers the flag variants.
 */
function implode(tokens: Token[], opts: { bigDictionary: boolean; literalTree: boolean }): Uint8Array {
  const out: number[] = [];
  const tree = (symbols: number, bits: number): void => {
    const groups = symbols / 16; // 16 symbols per byte: high nibble 15, low nibble bits-1
    out.push(groups - 1, ...new Array(groups).fill(0xf0 | (bits - 1)));
  };
  if (opts.literalTree) tree(256, 8);
  tree(64, 6);
  tree(64, 6);
  let cur = 0;
  let n = 0;
  const bit = (b: number): void => {
    cur |= b << n;
    if (++n === 8) (out.push(cur), (cur = 0), (n = 0));
  };
  const raw = (v: number, count: number): void => {
    for (let i = 0; i < count; i++) bit((v >> i) & 1);
  };
  const code = (v: number, len: number): void => {
    for (let i = len - 1; i >= 0; i--) bit(((v >> i) & 1) ^ 1);
  };
  const lowBits = opts.bigDictionary ? 7 : 6;
  const minMatch = opts.literalTree ? 3 : 2;
  for (const t of tokens) {
    if ("lit" in t) {
      bit(1);
      if (opts.literalTree) code(t.lit, 8);
      else raw(t.lit, 8);
      continue;
    }
    bit(0);
    const d = t.dist - 1;
    raw(d & ((1 << lowBits) - 1), lowBits);
    code(d >> lowBits, 6);
    const l = t.len - minMatch;
    if (l >= 63) (code(63, 6), raw(l - 63, 8));
    else code(l, 6);
  }
  if (n) out.push(cur);
  return Uint8Array.from(out);
}

/** What the tokens mean, straight from the spec (bytes before the start are zero). */
function expand(tokens: Token[]): Uint8Array {
  const out: number[] = [];
  for (const t of tokens) {
    if ("lit" in t) out.push(t.lit);
    else for (let i = 0; i < t.len; i++) out.push(out.length - t.dist >= 0 ? out[out.length - t.dist] : 0);
  }
  return Uint8Array.from(out);
}

const lits = (s: string): Token[] => Array.from(s, (c) => ({ lit: c.charCodeAt(0) }));
const FLAGS = (big: boolean, lit: boolean): number => (big ? 2 : 0) | (lit ? 4 : 0);

describe("explode (PKWARE Implode)", () => {
  it("expands PKZIP's clam.impl.zip member to clam.exe", () => {
    const { raw, flags, size } = clamImploded();
    expect(sha256(explode(raw, flags, size, 1 << 20))).toBe(CLAM_EXE_SHA256);
  });

  for (const big of [false, true]) {
    for (const lit of [false, true]) {
      it(`decodes ${big ? "8" : "4"} KiB dictionary, ${lit ? "with" : "without"} literal tree`, () => {
        const far = big ? 6000 : 3000; // distance needing the high distance bits
        const tokens: Token[] = [
          ...lits("Implode!"),
          { dist: 8, len: 40 }, // overlapping copy
          ...Array.from({ length: far }, (_, i) => ({ lit: (i * 37) & 0xff })),
          { dist: far, len: 200 }, // length 63+ uses the extra byte
          { dist: far + 100, len: 5 },
        ];
        const expected = expand(tokens);
        const out = explode(implode(tokens, { bigDictionary: big, literalTree: lit }), FLAGS(big, lit), expected.length, 1 << 20);
        expect(out).toEqual(expected);
      });
    }
  }

  it("reads distances before the start of the output as zeros (APPNOTE)", () => {
    const tokens: Token[] = [...lits("ab"), { dist: 10, len: 6 }];
    const out = explode(implode(tokens, { bigDictionary: false, literalTree: false }), 0, 8, 1024);
    expect(Array.from(out)).toEqual([0x61, 0x62, 0, 0, 0, 0, 0, 0]);
  });

  it("stops at the declared size, and at maxOutput with OutputOverflow", () => {
    const tokens: Token[] = [...lits("z"), ...Array.from({ length: 100 }, () => ({ dist: 1, len: 300 }))];
    const data = implode(tokens, { bigDictionary: true, literalTree: true });
    expect(explode(data, 6, 1000, 1 << 20).length).toBe(1000);
    expect(() => explode(data, 6, 30_001, 10_000)).toThrow(OutputOverflow);
  });

  it("returns a prefix for truncated data and nothing for broken trees", () => {
    const { raw, flags, size } = clamImploded();
    const part = explode(raw.subarray(0, raw.length >> 1), flags, size, 1 << 20);
    expect(part.length).toBeGreaterThan(0);
    expect(part.length).toBeLessThan(size);
    const broken = Uint8Array.from(raw);
    broken[0] = 0; // the length tree now declares 1 code instead of 64
    expect(explode(broken, flags, size, 1 << 20).length).toBe(0);
  });
});
