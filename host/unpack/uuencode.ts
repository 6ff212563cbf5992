/**
 * uuencode: `begin <mode> <name>` ... `end` blocks (and the `begin-base64` variant of
 * `uuencode -m`, ended by `====`), found anywhere in a text at line starts. Used for bare
 * .uu files and for blocks pasted into mail text bodies. Decoding is tolerant like
 * uudecode: CR before LF is ignored, trailing characters stripped by mailers count as 0,
 * and a block without `end` yields what it decoded up to the first line that is not uu.
 */
import { asBuffer, decodeBase64, throwOverflow } from "./base64.js";
import { lineEndOf } from "./mime-headers.js";
import { cleanAttachmentName } from "./mime-params.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";

/** How far into a file looksLikeUuencode searches for a `begin` line: .uu files start with
 *  it, sometimes after a short note or mail headers. */
const UU_SNIFF_BYTES = 4096;

/** Longest begin line we read: mode and a file name (file names are at most 255 bytes). */
const MAX_BEGIN_LINE = 1024;

const LF = 0x0a;
const CR = 0x0d;

const BEGIN_LINE = /^begin(-base64)?[ \t]+([0-7]{1,6})[ \t]+(.*?)[ \t]*$/;

interface BeginLine {
  base64: boolean;
  name: string;
  /** offset of the first data line */
  dataStart: number;
}

/** If a `begin` line starts at pos, parse it. */
function parseBeginLine(buf: Buffer, pos: number, end: number): BeginLine | null {
  const lineEnd = lineEndOf(buf, pos, Math.min(end, pos + MAX_BEGIN_LINE));
  const m = BEGIN_LINE.exec(buf.toString("latin1", pos, lineEnd).replace(/\r$/, ""));
  if (!m || m[3] === "") return null;
  return { base64: m[1] !== undefined, name: m[3], dataStart: Math.min(end, lineEnd + 1) };
}

/** Offsets of `begin` lines in buf[start, end), in order. */
function* beginLines(buf: Buffer, start: number, end: number): Generator<{ pos: number; line: BeginLine }> {
  let p = start;
  while (p < end) {
    const i = buf.indexOf("begin", p);
    if (i === -1 || i >= end) return;
    if (i === start || buf[i - 1] === LF) {
      const line = parseBeginLine(buf, i, end);
      if (line) yield { pos: i, line };
    }
    p = i + 5;
  }
}

export function looksLikeUuencode(data: Uint8Array): boolean {
  const buf = asBuffer(data);
  const sniffEnd = Math.min(buf.length, UU_SNIFF_BYTES);
  for (const { line } of beginLines(buf, 0, sniffEnd)) {
    if (line.base64) return true;
    // the first data line must be a well-formed uu line
    const end = lineEndOf(buf, line.dataStart, buf.length);
    return uuLineLength(buf, line.dataStart, end) > 0;
  }
  return false;
}

/** Decoded length of the uu line buf[pos, end) (CR stripped), or -1 if it is not one. */
function uuLineLength(buf: Buffer, pos: number, end: number): number {
  if (end > pos && buf[end - 1] === CR) end--;
  if (end <= pos) return -1;
  const n = (buf[pos] - 0x20) & 0x3f;
  const needed = Math.ceil(n / 3) * 4;
  // mailers strip trailing spaces (= zero digits), and some encoders add a checksum char
  if (end - pos - 1 > needed + 2) return -1;
  for (let p = pos; p < end; p++) if (buf[p] < 0x20 || buf[p] > 0x60) return -1;
  return n;
}

/** Decode the uu data lines from `start` until `end`, a zero-length line or a line that
 *  is not uu. A first pass sizes the output exactly: a line's length character, not its
 *  text, says how many bytes it holds (stripped trailing spaces are zeros), so "M" alone
 *  on a line is 45 bytes and output can be 22x the input; more than maxOut is overflow. */
function decodeUuLines(buf: Buffer, start: number, end: number, maxOut: number): { data: Buffer; overflow: boolean } {
  let total = 0;
  let pos = start;
  while (pos < end) {
    const lineEnd = lineEndOf(buf, pos, end);
    const n = uuLineLength(buf, pos, lineEnd);
    if (n <= 0) break; // "`" line (end of data), "end", or not uu
    total += n;
    pos = lineEnd + 1;
  }
  if (total > maxOut) return { data: Buffer.alloc(0), overflow: true };
  const dataEnd = Math.min(pos, end);
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (pos = start; pos < dataEnd; ) {
    const lineEnd = lineEndOf(buf, pos, dataEnd);
    const textEnd = lineEnd > pos && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const n = (buf[pos] - 0x20) & 0x3f;
    let p = pos + 1;
    for (let k = 0; k < n; k += 3) {
      // characters missing at the end of the line (stripped spaces) decode as 0
      const c0 = p < textEnd ? (buf[p] - 0x20) & 0x3f : 0;
      const c1 = p + 1 < textEnd ? (buf[p + 1] - 0x20) & 0x3f : 0;
      const c2 = p + 2 < textEnd ? (buf[p + 2] - 0x20) & 0x3f : 0;
      const c3 = p + 3 < textEnd ? (buf[p + 3] - 0x20) & 0x3f : 0;
      const bits = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
      out[off++] = bits >>> 16;
      if (k + 1 < n) out[off++] = (bits >>> 8) & 0xff;
      if (k + 2 < n) out[off++] = bits & 0xff;
      p += 4;
    }
    pos = lineEnd + 1;
  }
  return { data: out.subarray(0, off), overflow: false };
}

/** Offset of the line `marker` (e.g. "end" or "====") at or after pos, or end. */
function markerLine(buf: Buffer, pos: number, end: number, marker: string): number {
  if (buf.toString("latin1", pos, Math.min(end, pos + marker.length)) === marker) return pos;
  const i = buf.indexOf(`\n${marker}`, pos);
  return i === -1 || i >= end ? end : i + 1;
}

/**
 * Every uuencoded block in text[start, end) as a Child, charged to ctx. Blocks that decode
 * to nothing are skipped. `fallbackName(k)` names block k (1-based) when its begin line has
 * no usable name.
 */
export function* uudecodeBlocks(
  text: Uint8Array,
  ctx: UnpackCtx,
  fallbackName: (k: number) => string,
  start = 0,
  end = text.length,
): Generator<Child> {
  const buf = asBuffer(text);
  let k = 0;
  let resumeAt = start;
  for (const { pos, line } of beginLines(buf, start, end)) {
    if (pos < resumeAt) continue; // a "begin" inside the previous block's data
    ctx.checkTime();
    const stop = markerLine(buf, line.dataStart, end, line.base64 ? "====" : "end");
    resumeAt = stop;
    const room = ctx.room();
    const r = line.base64
      ? decodeBase64(buf, line.dataStart, stop, room)
      : decodeUuLines(buf, line.dataStart, stop, room);
    if (r.overflow) throwOverflow(ctx, room);
    if (r.data.length === 0) continue;
    ctx.charge(r.data.length);
    k++;
    yield { name: cleanAttachmentName(line.name) || fallbackName(k), data: r.data };
  }
}

/** Bare uuencoded file: every block in it. */
export const unpackUuencode: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx) {
  yield* uudecodeBlocks(data, ctx, (k) => `uudecoded-${k}`);
};
