/**
 * Tolerant base64 decoding for MIME bodies, fast on well-formed input.
 *
 * Fast path: Node's native decoder (simdutf) on line-aligned slices of at most
 * FAST_SLICE_BYTES, written into one preallocated buffer. The native decoder is run
 * only where we can prove it gives the RFC 2045 result:
 *   - it accepts '-' and '_' as base64url digits 62/63, where RFC 2045 says to ignore
 *     them, so a run containing either byte is never decoded natively;
 *   - it silently skips other non-alphabet bytes (whitespace and junk), and stops at the
 *     first '=' (it never resumes after padding);
 *   - each slice is decoded on its own, so a slice must hold a whole number of 4-char
 *     quanta. We take runs of consecutive lines of one length L (L % 4 == 0) ending in one
 *     EOL style, check the EOL bytes at every stride (a strided loop touches 1 byte in 40),
 *     and accept the native output only if it is exactly runLines * L * 3/4 bytes long.
 *     Since the run has exactly runLines * L non-EOL bytes, that length proves every one
 *     of them was a base64 digit and that no '=' occurred, so the slice is aligned.
 * Anything else (junk bytes, odd line lengths, padding in the middle of the body as in
 * concatenated base64, the final line) goes through a byte-at-a-time decoder that follows
 * RFC 2045 and ClamAV: skip every byte outside the alphabet, and on '=' flush the partial
 * quantum and start a new one (so "QUJD==RUZH" decodes to "ABCDEF" like ClamAV, where
 * Node would stop at "ABC"). The slow decoder runs until it is back at a quantum boundary
 * at a line end, then the fast path is tried again.
 */

import { LimitExceeded } from "../limits.js";
import type { UnpackCtx } from "./types.js";

/** Native decode slice size. Strings under V8's regular-object limit (~128 KiB) avoid
 *  large-object-space allocation; 32-64 KiB slices measured 2.8 GB/s here, 1 MiB 2.2 GB/s
 *  and 256 KiB 0.8 GB/s (bench/mime-decode.mjs, /work/shared/notes/wasm-engine.md 4.1). */
const FAST_SLICE_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** base64 digit value per byte, -1 for bytes RFC 2045 says to ignore, -2 for '=' */
const DIGIT = new Int8Array(256).fill(-1);
{
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) DIGIT[alphabet.charCodeAt(i)] = i;
  DIGIT[0x3d] = -2;
}

export interface Base64Result {
  /** decoded bytes (a view of the output buffer) */
  data: Buffer;
  /** true when the decoded output would exceed maxOut; data then holds the first maxOut bytes */
  overflow: boolean;
}

/** A decoder stopped at `room` output bytes with input left: the member is bigger than
 *  the room the scan has left. ctx.charge names the limit (MaxFileSize or MaxScanSize). */
export function throwOverflow(ctx: UnpackCtx, room: number): never {
  ctx.charge(room + 1);
  throw new LimitExceeded("MaxFileSize", `decoded member exceeds ${room} bytes`);
}

/** Wrap any Uint8Array as a Buffer without copying. */
export function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Upper bound of the decoded size of `encodedLength` bytes of base64 text. */
export function base64MaxDecodedLength(encodedLength: number): number {
  return Math.floor(encodedLength / 4) * 3 + 3;
}

/** Decode src[start, end) as MIME base64, producing at most maxOut bytes, into
 *  `alloc(n)`'s buffer when given (e.g. UnpackCtx.alloc), else a new one. */
export function decodeBase64(src: Uint8Array, start: number, end: number, maxOut: number, alloc?: (n: number) => Uint8Array): Base64Result {
  // work on a view so that every indexOf stops at the end of this body, not of the message
  const decoder = new Base64Decoder(asBuffer(src).subarray(start, end), maxOut, alloc);
  return decoder.run();
}

class Base64Decoder {
  private readonly out: Buffer;
  private off = 0;
  private overflow = false;
  /** slow decoder state: pending 6-bit digits (0..3) and their accumulated bits */
  private pending = 0;
  private bits = 0;
  /** next positions of '-' and '_' at or after the current position (Infinity if none) */
  private nextDash = -1;
  private nextUnderscore = -1;
  /** after a failed fast slice, decode byte by byte up to here instead of retrying it per line */
  private slowUntil = 0;

  private readonly end: number;

  constructor(
    private readonly src: Buffer,
    maxOut: number,
    alloc?: (n: number) => Uint8Array,
  ) {
    this.end = src.length;
    const cap = Math.max(0, Math.min(base64MaxDecodedLength(src.length), maxOut));
    this.out = alloc ? asBuffer(alloc(cap)) : Buffer.allocUnsafe(cap);
  }

  run(): Base64Result {
    let pos = 0;
    while (pos < this.end && !this.overflow) {
      if (this.pending === 0 && pos >= this.slowUntil) {
        const next = this.fastRun(pos);
        if (next > pos) {
          pos = next;
          continue;
        }
      }
      pos = this.slowLine(pos);
    }
    this.flushPartial();
    return { data: this.out.subarray(0, this.off), overflow: this.overflow };
  }

  /** Decode as many uniform lines from pos as the fast path can prove; returns the new position
   *  (pos itself when not even one line qualifies). */
  private fastRun(pos: number): number {
    const { src, end } = this;
    const lf = src.indexOf(LF, pos);
    const lineEnd = lf === -1 ? end : lf;
    const eolLen = lineEnd < end ? (lineEnd > pos && src[lineEnd - 1] === CR ? 2 : 1) : 0;
    const lineLen = lineEnd - pos - (eolLen === 2 ? 1 : 0);
    if (lineLen <= 0) return pos;
    if (eolLen === 0 || lineLen > FAST_SLICE_BYTES) return this.fastUnbroken(pos, pos + lineLen);
    if (lineLen % 4 !== 0) return pos;
    const stride = lineLen + eolLen;
    const safeEnd = Math.min(end, this.firstUnsafe(pos));
    let cur = pos;
    while (cur < end) {
      // count lines of this shape in one slice, checking only the EOL bytes at each stride
      const limit = Math.min(safeEnd, cur + Math.max(stride, FAST_SLICE_BYTES - (FAST_SLICE_BYTES % stride)));
      let lines = 0;
      for (let p = cur; p + stride <= limit; p += stride) {
        if (src[p + stride - 1] !== LF || (eolLen === 2 && src[p + lineLen] !== CR)) break;
        lines++;
      }
      // Near the output cap take only the lines that still fit; when none does, leave the rest
      // to the slow path for good (it finds the overflow within a line). Breaking out with a
      // full slice instead made every following line re-count a whole slice: quadratic work
      // on short lines (a 1 MB body of 4-character lines cost ~300 ms, not ~2 ms).
      const fit = Math.floor((this.out.length - this.off) / ((lineLen * 3) / 4));
      if (fit < lines) lines = fit;
      if (lines === 0) {
        if (fit === 0) this.slowUntil = end;
        break;
      }
      const sliceEnd = cur + lines * stride;
      const expected = (lines * lineLen * 3) / 4;
      const written = this.out.write(src.toString("latin1", cur, sliceEnd), this.off, "base64");
      if (written !== expected) {
        // junk or padding inside: the slow path redoes this slice
        this.slowUntil = sliceEnd;
        break;
      }
      this.off += written;
      cur = sliceEnd;
    }
    return cur;
  }

  /** Fast path for a line without EOL in reach (a body on one line): 4-char-aligned slices. */
  private fastUnbroken(pos: number, lineEnd: number): number {
    const safeEnd = Math.min(lineEnd, this.firstUnsafe(pos));
    let cur = pos;
    while (safeEnd - cur >= 4) {
      const n = Math.min(FAST_SLICE_BYTES, (safeEnd - cur) & ~3);
      const expected = (n * 3) / 4;
      if (this.off + expected > this.out.length) break;
      const written = this.out.write(this.src.toString("latin1", cur, cur + n), this.off, "base64");
      if (written !== expected) {
        this.slowUntil = cur + n;
        break;
      }
      this.off += written;
      cur += n;
    }
    return cur;
  }

  /** Position of the first '-' or '_' at or after pos (Infinity if none): native decoding
   *  must stop before it. Each byte is searched for once per body, not once per line. */
  private firstUnsafe(pos: number): number {
    if (this.nextDash < pos) {
      const i = this.src.indexOf(0x2d, pos);
      this.nextDash = i === -1 ? Infinity : i;
    }
    if (this.nextUnderscore < pos) {
      const i = this.src.indexOf(0x5f, pos);
      this.nextUnderscore = i === -1 ? Infinity : i;
    }
    return Math.min(this.nextDash, this.nextUnderscore);
  }

  /** Decode one line (through its LF) byte by byte; returns the position after it. */
  private slowLine(pos: number): number {
    const { src, out } = this;
    const lf = src.indexOf(LF, pos);
    const stop = lf === -1 ? this.end : lf + 1;
    let { pending, bits, off } = this;
    for (let p = pos; p < stop; p++) {
      const d = DIGIT[src[p]];
      if (d >= 0) {
        bits = (bits << 6) | d;
        if (++pending === 4) {
          if (off + 3 > out.length) {
            this.overflow = true;
            break;
          }
          out[off++] = bits >>> 16;
          out[off++] = (bits >>> 8) & 0xff;
          out[off++] = bits & 0xff;
          pending = 0;
          bits = 0;
        }
      } else if (d === -2 && pending > 0) {
        this.off = off;
        this.pending = pending;
        this.bits = bits;
        this.flushPartial();
        ({ pending, bits, off } = this);
        if (this.overflow) break;
      }
    }
    this.pending = pending;
    this.bits = bits;
    this.off = off;
    return stop;
  }

  /** Emit the bytes of a partial quantum (2 digits = 1 byte, 3 digits = 2 bytes; 1 digit = nothing). */
  private flushPartial(): void {
    const { pending, bits } = this;
    this.pending = 0;
    this.bits = 0;
    const n = pending === 2 ? 1 : pending === 3 ? 2 : 0;
    if (n === 0) return;
    if (this.off + n > this.out.length) {
      this.overflow = true;
      return;
    }
    if (pending === 2) {
      this.out[this.off++] = (bits >>> 4) & 0xff;
    } else {
      this.out[this.off++] = (bits >>> 10) & 0xff;
      this.out[this.off++] = (bits >>> 2) & 0xff;
    }
  }
}
