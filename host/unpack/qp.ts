/**
 * Quoted-printable decoding (RFC 2045 6.7), tolerant like mail clients.
 * Runs between '=' signs are copied with Buffer.copy (found with indexOf), so plain text
 * decodes at memcpy speed. "=XX" (either case) becomes a byte, "=" followed by optional
 * spaces/tabs and a line end is a soft line break, and any other "=" is kept literally
 * (what Thunderbird and ClamAV do with broken encoders). Output is never longer than input.
 */
import { asBuffer } from "./base64.js";

const EQ = 0x3d;
const CR = 0x0d;
const LF = 0x0a;

/** hex digit value per byte, -1 if not a hex digit */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

/** Decode src[start, end) as quoted-printable into a new buffer (at most end - start bytes). */
export function decodeQuotedPrintable(src: Uint8Array, start: number, end: number): Buffer {
  const s = asBuffer(src).subarray(start, end);
  const len = s.length;
  const out = Buffer.allocUnsafe(len);
  let off = 0;
  let pos = 0;
  while (pos < len) {
    const eq = s.indexOf(EQ, pos);
    if (eq === -1) {
      off += s.copy(out, off, pos, len);
      break;
    }
    off += s.copy(out, off, pos, eq);
    const hi = eq + 1 < len ? HEX[s[eq + 1]] : -1;
    const lo = eq + 2 < len ? HEX[s[eq + 2]] : -1;
    if (hi >= 0 && lo >= 0) {
      out[off++] = (hi << 4) | lo;
      pos = eq + 3;
      continue;
    }
    // soft line break: '=' [spaces/tabs] (CRLF | LF | end of body)
    let p = eq + 1;
    while (p < len && (s[p] === 0x20 || s[p] === 0x09)) p++;
    if (p === len) {
      pos = len;
    } else if (s[p] === LF) {
      pos = p + 1;
    } else if (s[p] === CR && (p + 1 === len || s[p + 1] === LF)) {
      pos = Math.min(len, p + 2);
    } else {
      out[off++] = EQ; // not an escape: keep the '=' literally
      pos = eq + 1;
    }
  }
  return out.subarray(0, off);
}
