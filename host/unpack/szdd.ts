/**
 * MS-DOS COMPRESS.EXE "SZDD" files (setup.ex_, *.dl_): a 14-byte header and an LZSS
 * stream with a 4 KiB window. Yields the one expanded file.
 *
 * Header: "SZDD" 88 F0 27 33, mode 'A', the replaced last character of the file name,
 * u32 LE expanded size. LZSS: a flag byte, LSB first; a set bit is a literal byte, a
 * clear bit a 2-byte match (12-bit window position, 4-bit length - 3). The window
 * starts filled with spaces and the write position starts at 4096 - 16.
 */
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

const MAGIC = [0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33];
const HEADER_SIZE = 14;
const WINDOW_SIZE = 4096;
const WINDOW_START = WINDOW_SIZE - 16;
/** Best case for LZSS here: a flag byte plus 8 two-byte matches of 18 bytes, 144 bytes
 *  out of 17 in. So a stream can never expand more than ~8.5x; a header that promises
 *  more is lying, and we never allocate more than this bound. Ratio stays far below
 *  limits.maxRatio, so no separate ratio check is needed. */
const MAX_EXPANSION = 9;
/** Output bytes between checkTime() calls: cheap enough to never matter, frequent enough
 *  that the deadline is noticed within milliseconds. */
const TIME_CHECK_EVERY = 1 << 16;

export function looksLikeSzdd(data: Uint8Array): boolean {
  if (data.length < HEADER_SIZE) return false;
  return MAGIC.every((b, i) => data[i] === b);
}

export const unpackSzdd: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  if (!looksLikeSzdd(data)) throw new UnpackError("szdd", "not an SZDD file");
  if (data[8] !== 0x41) throw new UnpackError("szdd", `unknown compression mode 0x${data[8].toString(16)}`);
  const declared = readU32(data, 10);
  const producible = (data.length - HEADER_SIZE) * MAX_EXPANSION;
  // A header promising more than the body can produce is truncated or lying: expand
  // what is there instead of trusting it with an allocation.
  const size = Math.min(declared, producible);
  ctx.charge(size);
  const out = expand(data.subarray(HEADER_SIZE), size, ctx);
  yield { name: "szdd-expanded", data: out };
};

function expand(src: Uint8Array, size: number, ctx: UnpackCtx): Uint8Array {
  const out = new Uint8Array(size);
  const window = new Uint8Array(WINDOW_SIZE).fill(0x20);
  let pos = WINDOW_START;
  let o = 0;
  let i = 0;
  let nextCheck = TIME_CHECK_EVERY;
  while (i < src.length && o < size) {
    const flags = src[i++];
    for (let bit = 0; bit < 8 && i < src.length && o < size; bit++) {
      if (flags & (1 << bit)) {
        const b = src[i++];
        out[o++] = b;
        window[pos] = b;
        pos = (pos + 1) & (WINDOW_SIZE - 1);
        continue;
      }
      if (i + 1 >= src.length) {
        i = src.length; // a match cut in half: truncated input, stop here
        break;
      }
      let from = src[i] | ((src[i + 1] & 0xf0) << 4);
      const len = (src[i + 1] & 0x0f) + 3;
      i += 2;
      for (let k = 0; k < len && o < size; k++) {
        const b = window[from];
        from = (from + 1) & (WINDOW_SIZE - 1);
        out[o++] = b;
        window[pos] = b;
        pos = (pos + 1) & (WINDOW_SIZE - 1);
      }
    }
    if (o >= nextCheck) {
      ctx.checkTime();
      nextCheck = o + TIME_CHECK_EVERY;
    }
  }
  return o === size ? out : out.subarray(0, o);
}

function readU32(d: Uint8Array, off: number): number {
  return (d[off] | (d[off + 1] << 8) | (d[off + 2] << 16) | (d[off + 3] << 24)) >>> 0;
}
