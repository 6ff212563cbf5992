/**
 * PDF stream filters (ISO 32000-1 7.4): FlateDecode (+ PNG/TIFF predictors),
 * ASCIIHexDecode, ASCII85Decode, RunLengthDecode, LZWDecode. Every decoder caps its
 * output at `cap` bytes and throws LimitExceeded past it; malformed data decodes as far
 * as it goes (readers such as Acrobat are just as lenient, so malware relies on it).
 */
import { LimitExceeded } from "../limits.js";
import { boundedInflate } from "./bounded-inflate.js";
import type { UnpackCtx } from "./types.js";

export interface DecodeParms {
  predictor?: number;
  colors?: number;
  bitsPerComponent?: number;
  columns?: number;
  earlyChange?: number;
}

/** Result of one filter: decoded bytes, or null when the filter is unknown / the data
 *  unusable (the caller then stops the chain and keeps what it had). */
export function applyFilter(name: string, input: Uint8Array, parms: DecodeParms, ctx: UnpackCtx): Uint8Array | null {
  const room = ctx.room();
  const ratioCap = Math.max(1, input.length) * ctx.limits.maxRatio;
  const cap: Cap = {
    bytes: Math.min(room, ratioCap),
    exceeded(): never {
      if (ratioCap < room) throw new LimitExceeded("MaxRatio", `PDF filter ${name} over ${ctx.limits.maxRatio}:1`);
      ctx.charge(room + 1); // throws the limit (MaxFileSize or MaxScanSize) that set room()
      throw new LimitExceeded("MaxScanSize"); // unreachable unless ctx.charge is lenient
    },
  };
  switch (name) {
    case "FlateDecode":
    case "Fl": {
      const out = boundedInflate(input, ctx);
      return out && predict(out, parms);
    }
    case "LZWDecode":
    case "LZW": {
      const out = lzw(input, parms.earlyChange ?? 1, cap);
      return out && predict(out, parms);
    }
    case "ASCIIHexDecode":
    case "AHx":
      return asciiHex(input);
    case "ASCII85Decode":
    case "A85":
      return ascii85(input, cap);
    case "RunLengthDecode":
    case "RL":
      return runLength(input, cap);
    default:
      return null; // DCT, JPX, JBIG2, CCITTFax, Crypt: images or encryption, not unpacked
  }
}

/** The output bound of one filter and the LimitExceeded to throw past it. */
interface Cap {
  bytes: number;
  exceeded(): never;
}

function asciiHex(d: Uint8Array): Uint8Array {
  const out = new Uint8Array((d.length + 1) >> 1);
  let o = 0;
  let half = -1;
  for (const c of d) {
    if (c === 0x3e) break; // '>' ends the data
    const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
    if (v < 0) continue;
    if (half < 0) half = v;
    else {
      out[o++] = (half << 4) | v;
      half = -1;
    }
  }
  if (half >= 0) out[o++] = half << 4; // odd digit count: the last one is padded with 0
  return out.subarray(0, o);
}

function ascii85(d: Uint8Array, limit: Cap): Uint8Array {
  // 'z' expands 1 byte to 4, every other group 5 to 4: output <= 4x input.
  const cap = limit.bytes;
  const size = Math.min(cap + 4, d.length * 4);
  const out = new Uint8Array(size);
  let o = 0;
  const group: number[] = [];
  const flush = (n: number) => {
    let v = 0;
    for (let k = 0; k < 5; k++) v = v * 85 + (k < group.length ? group[k] : 84);
    for (let k = 0; k < n - 1; k++) {
      if (o >= cap) limit.exceeded();
      out[o++] = (v >>> (24 - 8 * k)) & 0xff;
    }
    group.length = 0;
  };
  let i = d[0] === 0x3c && d[1] === 0x7e ? 2 : 0; // optional "<~"
  for (; i < d.length; i++) {
    const c = d[i];
    if (c === 0x7e) break; // "~>" ends the data
    if (c === 0x7a && group.length === 0) {
      if (o + 4 > cap) limit.exceeded();
      o += 4; // 'z': four zero bytes (buffer is zero-filled)
      continue;
    }
    if (c < 0x21 || c > 0x75) continue; // whitespace and junk are ignored
    group.push(c - 0x21);
    if (group.length === 5) flush(5);
  }
  if (group.length > 1) flush(group.length);
  return out.subarray(0, o);
}

function runLength(d: Uint8Array, limit: Cap): Uint8Array {
  // First pass sizes the output (runs expand 2 bytes to 128), so the check comes
  // before the allocation.
  let size = 0;
  for (let i = 0; i < d.length && d[i] !== 128; ) {
    const n = d[i];
    if (n < 128) {
      size += Math.min(n + 1, d.length - i - 1);
      i += n + 2;
    } else {
      if (i + 1 < d.length) size += 257 - n;
      i += 2;
    }
    if (size > limit.bytes) limit.exceeded();
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < d.length && d[i] !== 128 && o < size; ) {
    const n = d[i];
    if (n < 128) {
      const lit = d.subarray(i + 1, Math.min(d.length, i + 2 + n));
      out.set(lit, o);
      o += lit.length;
      i += n + 2;
    } else {
      if (i + 1 < d.length) out.fill(d[i + 1], o, (o += 257 - n));
      i += 2;
    }
  }
  return out;
}

/** LZW with 9-12 bit codes, 256 = clear, 257 = EOD ([ISO 32000-1] 7.4.4). A code can
 *  expand to ~4 KiB, so output grows in chunks and is checked against `cap`. */
function lzw(d: Uint8Array, earlyChange: number, limit: Cap): Uint8Array | null {
  const cap = limit.bytes;
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    length[i] = 1;
  }
  let out = new Uint8Array(Math.min(cap, Math.max(1024, d.length * 4)));
  let o = 0;
  let next = 258;
  let width = 9;
  let prev = -1;
  let bitBuf = 0;
  let bits = 0;
  const emit = (code: number) => {
    const len = length[code];
    if (o + len > out.length) {
      if (o + len > cap) limit.exceeded();
      const grown = new Uint8Array(Math.min(cap, Math.max(o + len, out.length * 2)));
      grown.set(out.subarray(0, o));
      out = grown;
    }
    for (let k = len - 1, c = code; k >= 0; k--, c = prefix[c]) out[o + k] = suffix[c];
    o += len;
  };
  for (let i = 0; i < d.length; i++) {
    bitBuf = ((bitBuf << 8) | d[i]) & 0xffffff;
    bits += 8;
    while (bits >= width) {
      const code = (bitBuf >>> (bits - width)) & ((1 << width) - 1);
      bits -= width;
      if (code === 256) {
        next = 258;
        width = 9;
        prev = -1;
        continue;
      }
      if (code === 257) return out.subarray(0, o);
      if (prev < 0) {
        if (code > 255) return o > 0 ? out.subarray(0, o) : null;
        emit(code);
        prev = code;
        continue;
      }
      if (code > next || (code === next && next >= 4096)) return o > 0 ? out.subarray(0, o) : null;
      const first = code < next ? firstByte(code, prefix, suffix) : firstByte(prev, prefix, suffix);
      if (next < 4096) {
        prefix[next] = prev;
        suffix[next] = first;
        length[next] = length[prev] + 1;
        next++;
      }
      emit(code);
      prev = code;
      if (next + earlyChange >= 1 << width && width < 12) width++;
    }
  }
  return out.subarray(0, o);
}

function firstByte(code: number, prefix: Int32Array, suffix: Uint8Array): number {
  let c = code;
  while (prefix[c] >= 0) c = prefix[c];
  return suffix[c];
}

/** Undoes PNG (Predictor >= 10) and TIFF 2 predictors; output is never larger. */
function predict(d: Uint8Array, p: DecodeParms): Uint8Array {
  const predictor = p.predictor ?? 1;
  if (predictor < 2) return d;
  const colors = clampInt(p.colors, 1, 1, 32);
  const bpc = clampInt(p.bitsPerComponent, 8, 1, 16);
  const columns = clampInt(p.columns, 1, 1, 1 << 24);
  const bpp = Math.max(1, Math.ceil((colors * bpc) / 8));
  const rowLen = Math.ceil((columns * colors * bpc) / 8);
  if (predictor === 2) {
    if (bpc !== 8) return d;
    const out = d.slice();
    for (let r = 0; r < out.length; r += rowLen) {
      for (let i = r + bpp; i < Math.min(out.length, r + rowLen); i++) out[i] = (out[i] + out[i - bpp]) & 0xff;
    }
    return out;
  }
  const rows = Math.floor(d.length / (rowLen + 1));
  const out = new Uint8Array(rows * rowLen);
  for (let r = 0; r < rows; r++) {
    const type = d[r * (rowLen + 1)];
    const src = r * (rowLen + 1) + 1;
    const dst = r * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const left = i >= bpp ? out[dst + i - bpp] : 0;
      const up = r > 0 ? out[dst - rowLen + i] : 0;
      const upLeft = r > 0 && i >= bpp ? out[dst - rowLen + i - bpp] : 0;
      const x = d[src + i];
      let v: number;
      if (type === 1) v = x + left;
      else if (type === 2) v = x + up;
      else if (type === 3) v = x + ((left + up) >> 1);
      else if (type === 4) v = x + paeth(left, up, upLeft);
      else v = x;
      out[dst + i] = v & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function clampInt(v: number | undefined, dflt: number, lo: number, hi: number): number {
  if (v === undefined || !Number.isFinite(v)) return dflt;
  return Math.min(hi, Math.max(lo, Math.floor(v)));
}
