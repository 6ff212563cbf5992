import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { OutputOverflow } from "../../host/unpack/bounded.js";
import { inflate64 } from "../../host/unpack/inflate64.js";
import { sha256, testfile } from "../helpers/testfiles.js";

const MiB = 1 << 20;

/** Varied inputs: text, noise, long zero runs (length symbol 285), short binary. */
function samples(): Uint8Array[] {
  const noise = Uint8Array.from({ length: 200_000 }, (_, i) => (Math.imul(i, 2654435761) >>> 11) & 0xff);
  const text = new TextEncoder().encode("The quick brown fox jumps over the lazy dog. ".repeat(3000));
  const mixed = new Uint8Array(150_000);
  for (let i = 0; i < mixed.length; i++) mixed[i] = i % 5000 < 4000 ? 0 : noise[i];
  return [noise, text, mixed, new Uint8Array(1 << 20), testfile("clam.exe"), new Uint8Array(0)];
}

/** The member data of a one-member zip made by 7-Zip (WASM), an independent encoder. */
async function sevenZipDeflate64(data: Uint8Array): Promise<Uint8Array> {
  const { default: SevenZip } = await import("7z-wasm");
  const sz = await SevenZip({ print: () => {}, printErr: () => {} });
  sz.FS.writeFile("/in.bin", data);
  sz.callMain(["a", "-tzip", "-mm=Deflate64", "-mx=9", "/out.zip", "/in.bin"]);
  const zip = Buffer.from(sz.FS.readFile("/out.zip"));
  expect(zip.readUInt16LE(8)).toBe(9);
  const start = 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
  return zip.subarray(start, start + zip.readUInt32LE(18));
}

describe("inflate64 in plain-deflate mode agrees with zlib", () => {
  const options: Array<[string, zlib.ZlibOptions]> = [
    ["level 9", { level: 9 }],
    ["level 1", { level: 1 }],
    ["stored blocks", { level: 0 }],
    ["fixed Huffman", { strategy: zlib.constants.Z_FIXED }],
    ["RLE", { strategy: zlib.constants.Z_RLE }],
  ];
  for (const [label, opts] of options) {
    it(label, () => {
      for (const s of samples()) {
        const out = inflate64(zlib.deflateRawSync(s, opts), 4 * MiB, { deflate64: false });
        expect(sha256(out)).toBe(sha256(s));
      }
    });
  }
});

describe("inflate64 in Deflate64 mode", () => {
  it("decodes 7-Zip's Deflate64 of zeros", async () => {
    // 7-Zip caps Deflate64 matches at 257 bytes, so it never sends symbol 285; the
    // hand-built stream below covers that symbol
    const zeros = new Uint8Array(3 * MiB);
    const raw = await sevenZipDeflate64(zeros);
    expect(sha256(inflate64(raw, 4 * MiB))).toBe(sha256(zeros));
  });

  it("decodes 7-Zip's Deflate64 of data repeating at 48 KiB (distance symbols 30/31)", async () => {
    const block = Uint8Array.from({ length: 48 * 1024 }, (_, i) => (Math.imul(i + 7, 40503) >>> 7) & 0xff);
    const data = new Uint8Array(6 * block.length);
    for (let i = 0; i < 6; i++) data.set(block, i * block.length);
    const raw = await sevenZipDeflate64(data);
    expect(raw.length).toBeLessThan(block.length * 2); // repeats were found beyond 32 KiB
    expect(sha256(inflate64(raw, 4 * MiB))).toBe(sha256(data));
  });

  it("reads length 285 differently from deflate (3 + 16 extra bits, not 258)", () => {
    // fixed-Huffman block: literal 'A', then symbol 285 with extra bits 1000, distance
    // symbol 0 (distance 1), then end of block. Deflate64: 1 + (3 + 1000) bytes.
    const bits = new BitWriter();
    bits.write(1, 1).write(1, 2); // BFINAL, BTYPE=01
    bits.huff(0x30 + 0x41, 8); // literal 'A' (fixed code 00110000 + value)
    bits.huff(0xc0 + (285 - 280), 8); // symbol 285 (fixed code 11000000 + n)
    bits.write(1000, 16);
    bits.huff(0, 5); // distance symbol 0
    bits.huff(0, 7); // end of block (symbol 256)
    const raw = bits.bytes();
    expect(inflate64(raw, MiB)).toEqual(new Uint8Array(1004).fill(0x41));
  });
});

describe("inflate64 bounds and broken input", () => {
  it("stops at maxOutput with OutputOverflow, never past it", () => {
    const raw = zlib.deflateRawSync(new Uint8Array(8 * MiB));
    expect(() => inflate64(raw, MiB, { deflate64: false })).toThrow(OutputOverflow);
    expect(inflate64(raw, 8 * MiB, { deflate64: false }).length).toBe(8 * MiB);
  });

  it("returns the decodable prefix of truncated data and survives garbage", () => {
    const text = new TextEncoder().encode("prefix survives truncation ".repeat(2000));
    const raw = zlib.deflateRawSync(text);
    const part = inflate64(raw.subarray(0, raw.length >> 1), MiB, { deflate64: false });
    expect(part.length).toBeGreaterThan(0);
    expect(part).toEqual(text.subarray(0, part.length));
    for (let seed = 1; seed < 200; seed++) {
      const junk = Uint8Array.from({ length: 300 }, (_, i) => (Math.imul(i + 1, seed * 2654435761) >>> 24) & 0xff);
      expect(inflate64(junk, MiB).length).toBeLessThanOrEqual(MiB);
    }
  });

  it("stops at a distance reaching before the start of the output", () => {
    const bits = new BitWriter();
    bits.write(1, 1).write(1, 2);
    bits.huff(0x30 + 0x41, 8); // 'A'
    bits.huff(0b0000001, 7); // symbol 257: length 3
    bits.huff(4, 5); // distance symbol 4: 5 + 1 extra bit
    bits.write(0, 1); // distance 5 > 1 byte of output
    expect(inflate64(bits.bytes(), MiB)).toEqual(Uint8Array.of(0x41));
  });

  it("calls checkTime while decoding and lets it abort", () => {
    // random letters from a 16-symbol alphabet: Huffman-coded (not stored) and only
    // short matches, so 2 MiB is several rounds of 65536 symbols
    let x = 2463534242;
    const noise = Uint8Array.from({ length: 2 * MiB }, () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return 0x61 + (x & 0x0f);
    });
    const raw = zlib.deflateRawSync(noise);
    let calls = 0;
    expect(() =>
      inflate64(raw, 4 * MiB, {
        deflate64: false,
        checkTime: () => {
          if (++calls === 3) throw new Error("deadline");
        },
      }),
    ).toThrow("deadline");
  });
});

/** LSB-first bit writer; `huff` writes a Huffman code most-significant bit first. */
class BitWriter {
  private out: number[] = [];
  private cur = 0;
  private n = 0;
  write(value: number, count: number): this {
    for (let i = 0; i < count; i++) this.bit((value >>> i) & 1);
    return this;
  }
  huff(code: number, len: number): this {
    for (let i = len - 1; i >= 0; i--) this.bit((code >>> i) & 1);
    return this;
  }
  private bit(b: number): void {
    this.cur |= b << this.n;
    if (++this.n === 8) {
      this.out.push(this.cur);
      this.cur = 0;
      this.n = 0;
    }
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.n ? [...this.out, this.cur] : this.out);
  }
}
