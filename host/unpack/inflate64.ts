/**
 * Inflate for ZIP method 9, Deflate64 ("enhanced deflate"), which node:zlib does not do.
 * Deflate64 is RFC 1951 deflate with three changes: a 64 KiB window, length symbol 285
 * meaning base 3 + 16 extra bits (instead of a fixed 258), and distance symbols 30/31
 * (base 32769 / 49153, 14 extra bits). With `deflate64: false` the same code decodes plain
 * deflate, which lets the tests compare it against zlib.
 *
 * Bounds: output goes to a BoundedOutput that throws OutputOverflow at `maxOutput`; the
 * decoder never allocates from a size it read. Truncated or corrupt input returns the
 * prefix decoded so far (a scanner wants those bytes), never throws for bad data.
 *
 * The bit reader and canonical-Huffman decoder are exported for the Implode decoder.
 */
import { BoundedOutput } from "./bounded.js";

/** Longest code in deflate is 15 bits; Implode's Shannon-Fano codes reach 16. */
export const MAX_CODE_BITS = 16;

/** Symbols decoded between two checkTime() calls: frequent enough that a slow stream
 *  cannot run long past the deadline, rare enough to cost nothing. */
const SYMBOLS_PER_TIME_CHECK = 1 << 16;

/** Reading past the end of the compressed data. */
export class InputEnd extends Error {
  constructor() {
    super("compressed data ends early");
    this.name = "InputEnd";
  }
}

/** Bad compressed data (invalid code, bad stored length, distance too far). */
export class BadData extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadData";
  }
}

/** LSB-first bit reader over a byte array, as deflate and Implode both pack bits. */
export class BitReader {
  pos: number;
  private bitBuf = 0;
  private bitCount = 0;

  constructor(private readonly data: Uint8Array, start = 0) {
    this.pos = start;
  }

  /** next n bits (n <= 24), first bit read is bit 0 of the result */
  bits(n: number): number {
    while (this.bitCount < n) {
      if (this.pos >= this.data.length) throw new InputEnd();
      this.bitBuf |= this.data[this.pos++] << this.bitCount;
      this.bitCount += 8;
    }
    const v = this.bitBuf & ((1 << n) - 1);
    this.bitBuf >>>= n;
    this.bitCount -= n;
    return v;
  }

  /** drop the bits left in the current byte (deflate stored blocks) */
  alignToByte(): void {
    this.bitBuf = 0;
    this.bitCount = 0;
  }
}

/** Canonical Huffman code in the count/symbol form: decoding walks lengths 1..16 and needs
 *  no table sized by the code, so a hostile length list cannot make us allocate much. */
export class Huffman {
  readonly count = new Uint16Array(MAX_CODE_BITS + 1);
  readonly symbol: Uint16Array;

  /** throws BadData when the lengths over-subscribe the code space */
  constructor(lengths: ArrayLike<number>, n = lengths.length) {
    this.symbol = new Uint16Array(n);
    for (let s = 0; s < n; s++) this.count[lengths[s]]++;
    let left = 1;
    for (let len = 1; len <= MAX_CODE_BITS; len++) {
      left = left * 2 - this.count[len];
      if (left < 0) throw new BadData("over-subscribed Huffman code");
    }
    const offs = new Uint16Array(MAX_CODE_BITS + 2);
    for (let len = 1; len <= MAX_CODE_BITS; len++) offs[len + 1] = offs[len] + this.count[len];
    for (let s = 0; s < n; s++) if (lengths[s] !== 0) this.symbol[offs[lengths[s]]++] = s;
  }

  /** Decode one symbol. Codes arrive most-significant bit first, one bit at a time.
   *  `invert` flips every bit: Implode's Shannon-Fano codes are the complement of the
   *  canonical codes for the same lengths (APPNOTE 5.3.7 example). */
  decode(br: BitReader, invert = false): number {
    let code = 0;
    let first = 0;
    let index = 0;
    const flip = invert ? 1 : 0;
    for (let len = 1; len <= MAX_CODE_BITS; len++) {
      code |= br.bits(1) ^ flip;
      const count = this.count[len];
      if (code - first < count) return this.symbol[index + code - first];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new BadData("invalid Huffman code");
  }
}

const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577, 32769, 49153,
];
const DIST_EXTRA = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14,
];
/** order in which code-length code lengths are sent (RFC 1951 3.2.7) */
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

let fixedCodes: { lit: Huffman; dist: Huffman } | undefined;
function fixed(): { lit: Huffman; dist: Huffman } {
  if (!fixedCodes) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixedCodes = { lit: new Huffman(l), dist: new Huffman(new Uint8Array(32).fill(5)) };
  }
  return fixedCodes;
}

export interface InflateOptions {
  /** Deflate64 rules (default true); false decodes RFC 1951 deflate */
  deflate64?: boolean;
  /** called every SYMBOLS_PER_TIME_CHECK symbols; may throw to abort */
  checkTime?: () => void;
}

/** Decode a raw (headerless) Deflate64 or deflate stream into at most maxOutput bytes. */
export function inflate64(input: Uint8Array, maxOutput: number, opts: InflateOptions = {}): Uint8Array {
  const d64 = opts.deflate64 ?? true;
  const out = new BoundedOutput(maxOutput, input.length * 4);
  const br = new BitReader(input);
  let budget = SYMBOLS_PER_TIME_CHECK;
  try {
    let last = 0;
    while (!last) {
      last = br.bits(1);
      const type = br.bits(2);
      if (type === 0) {
        br.alignToByte();
        const len = br.bits(16);
        if ((br.bits(16) ^ 0xffff) !== len) throw new BadData("stored block length check");
        if (br.pos + len > input.length) {
          storeBytes(out, input.subarray(br.pos));
          throw new InputEnd();
        }
        storeBytes(out, input.subarray(br.pos, br.pos + len));
        br.pos += len;
        continue;
      }
      if (type === 3) throw new BadData("reserved block type");
      const { lit, dist } = type === 1 ? fixed() : readDynamicCodes(br, d64);
      for (;;) {
        if (--budget === 0) {
          budget = SYMBOLS_PER_TIME_CHECK;
          opts.checkTime?.();
        }
        const sym = lit.decode(br);
        if (sym < 256) {
          out.push(sym);
          continue;
        }
        if (sym === 256) break;
        const li = sym - 257;
        if (li >= 29) throw new BadData("invalid length symbol");
        const length = d64 && li === 28 ? 3 + br.bits(16) : LENGTH_BASE[li] + br.bits(LENGTH_EXTRA[li]);
        const ds = dist.decode(br);
        if (ds >= (d64 ? 32 : 30)) throw new BadData("invalid distance symbol");
        const distance = DIST_BASE[ds] + br.bits(DIST_EXTRA[ds]);
        if (distance > out.length) throw new BadData("distance before start of output");
        out.copyBack(distance, length);
      }
    }
  } catch (e) {
    if (!(e instanceof InputEnd || e instanceof BadData)) throw e;
  }
  return out.result();
}

function storeBytes(out: BoundedOutput, bytes: Uint8Array): void {
  out.ensure(bytes.length);
  out.buf.set(bytes, out.length);
  out.length += bytes.length;
}

function readDynamicCodes(br: BitReader, d64: boolean): { lit: Huffman; dist: Huffman } {
  const nlen = br.bits(5) + 257;
  const ndist = br.bits(5) + 1;
  const ncode = br.bits(4) + 4;
  if (nlen > 286 || (!d64 && ndist > 30)) throw new BadData("too many length or distance codes");
  const clen = new Uint8Array(19);
  for (let i = 0; i < ncode; i++) clen[CLEN_ORDER[i]] = br.bits(3);
  const lencode = new Huffman(clen);
  const lengths = new Uint8Array(nlen + ndist);
  for (let i = 0; i < nlen + ndist; ) {
    const sym = lencode.decode(br);
    if (sym < 16) {
      lengths[i++] = sym;
      continue;
    }
    let value = 0;
    let repeat: number;
    if (sym === 16) {
      if (i === 0) throw new BadData("repeat with no previous length");
      value = lengths[i - 1];
      repeat = 3 + br.bits(2);
    } else if (sym === 17) repeat = 3 + br.bits(3);
    else repeat = 11 + br.bits(7);
    if (i + repeat > nlen + ndist) throw new BadData("too many code lengths");
    lengths.fill(value, i, i + repeat);
    i += repeat;
  }
  if (lengths[256] === 0) throw new BadData("no end-of-block code");
  return { lit: new Huffman(lengths.subarray(0, nlen)), dist: new Huffman(lengths.subarray(nlen)) };
}
