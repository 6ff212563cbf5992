/**
 * BinHex 4.0 (.hqx): the text `(This file must be converted with BinHex 4.0)`, then
 * `:` + 6-bit characters + `:`. The 8-bit stream is run-length coded (0x90 marker) and
 * holds a header (name, type, creator, fork lengths), the data fork and the resource fork,
 * each followed by a CRC. We yield both forks (the data fork carries the file; resource
 * forks can carry code on classic Mac OS). CRCs are not checked: a wrong CRC does not make
 * the content any less dangerous, and clients differ on whether they refuse it.
 */
import { asBuffer, throwOverflow } from "./base64.js";
import { lineEndOf } from "./mime-headers.js";
import { cleanAttachmentName } from "./mime-params.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";

const MARKER = "(This file must be converted with BinHex";

/** How far into a file looksLikeBinhex searches for the marker: .hqx files start with it,
 *  sometimes after a short note or mail headers. */
const BINHEX_SNIFF_BYTES = 4096;

/** Max output of one 0x90 run per input byte: "c 0x90 n" gives n bytes from 3 input bytes,
 *  n <= 255, so < 128 output bytes per input byte. Bounds buffers when a header lies. */
const RLE_MAX_EXPANSION = 128;

const ALPHABET = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
/** 6-bit value per character; -1 whitespace (skipped), -2 anything else (ends the data) */
const DIGIT = new Int8Array(256).fill(-2);
for (let i = 0; i < 64; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;
for (const c of [0x20, 0x09, 0x0a, 0x0d]) DIGIT[c] = -1;

const RLE_MARK = 0x90;

export function looksLikeBinhex(data: Uint8Array): boolean {
  const head = asBuffer(data).subarray(0, BINHEX_SNIFF_BYTES);
  return head.indexOf(MARKER) !== -1;
}

/** Decode 6-bit characters from buf[pos] up to the closing ':' (or the first invalid
 *  character, or end). Returns the 8-bit bytes and where the text stopped. */
function decodeSixBit(buf: Buffer, pos: number, end: number): { bytes: Buffer; stop: number } {
  const out = Buffer.allocUnsafe(Math.ceil(((end - pos) * 3) / 4));
  let off = 0;
  let bits = 0;
  let n = 0;
  let p = pos;
  for (; p < end; p++) {
    const d = DIGIT[buf[p]];
    if (d === -1) continue;
    if (d === -2) break;
    bits = ((bits << 6) | d) & 0xffffff;
    if (++n === 4) {
      out[off++] = bits >>> 16;
      out[off++] = (bits >>> 8) & 0xff;
      out[off++] = bits & 0xff;
      n = 0;
    }
  }
  // a final partial group still carries whole bytes
  if (n === 2) out[off++] = (bits >>> 4) & 0xff;
  if (n === 3) {
    out[off++] = (bits >>> 10) & 0xff;
    out[off++] = (bits >>> 2) & 0xff;
  }
  return { bytes: out.subarray(0, off), stop: p };
}

/** Reads the run-length decoded stream. */
class RleReader {
  private pos = 0;
  private last = 0;
  private repeat = 0;

  constructor(private readonly src: Buffer) {}

  /** Upper bound of the bytes still to come. */
  maxRemaining(): number {
    return this.repeat + (this.src.length - this.pos) * RLE_MAX_EXPANSION;
  }

  /** Read up to `count` bytes into a new buffer (fewer if the stream ends). */
  read(count: number): Buffer {
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(count, this.maxRemaining())));
    let off = 0;
    const { src } = this;
    while (off < out.length) {
      if (this.repeat > 0) {
        const n = Math.min(this.repeat, out.length - off);
        out.fill(this.last, off, off + n);
        off += n;
        this.repeat -= n;
        continue;
      }
      if (this.pos >= src.length) break;
      const b = src[this.pos++];
      if (b !== RLE_MARK) {
        out[off++] = this.last = b;
        continue;
      }
      if (this.pos >= src.length) break; // truncated marker
      const n = src[this.pos++];
      if (n === 0) {
        out[off++] = this.last = RLE_MARK; // escaped literal 0x90
      } else {
        this.repeat = n - 1; // the byte before the marker was already emitted once
      }
    }
    return out.subarray(0, off);
  }
}

/** Read one fork of `declared` bytes, at most `room` (overflow throws via ctx). */
function readFork(rle: RleReader, declared: number, ctx: UnpackCtx): Buffer {
  const room = ctx.room();
  const data = rle.read(Math.min(declared, room + 1));
  if (data.length > room) throwOverflow(ctx, room);
  return data;
}

/**
 * Every BinHex block in text[start, end) as children: the data fork named after the file,
 * the resource fork (if not empty) as "<name>.rsrc". `fallbackName(k)` names block k
 * (1-based) when its header has no usable name.
 */
export function* binhexBlocks(
  text: Uint8Array,
  ctx: UnpackCtx,
  fallbackName: (k: number) => string,
  start = 0,
  end = text.length,
): Generator<Child> {
  const buf = asBuffer(text);
  let k = 0;
  let pos = start;
  while (pos < end) {
    const m = buf.indexOf(MARKER, pos);
    if (m === -1 || m >= end) return;
    const colon = buf.indexOf(":", lineEndOf(buf, m, end));
    if (colon === -1 || colon >= end) return;
    ctx.checkTime();
    // ':' is not a BinHex digit, so the next one closes the data and bounds the buffers
    const close = buf.indexOf(":", colon + 1);
    const dataEnd = close === -1 || close >= end ? end : close;
    const { bytes, stop } = decodeSixBit(buf, colon + 1, dataEnd);
    pos = Math.max(stop + 1, m + MARKER.length);
    k++;
    const rle = new RleReader(bytes);
    const nameLen = rle.read(1)[0] ?? 0;
    const head = rle.read(nameLen + 1 + 4 + 4 + 2 + 4 + 4 + 2); // name, version .. header CRC
    if (head.length < nameLen + 21) continue; // truncated header: nothing to recover
    const name = cleanAttachmentName(head.toString("latin1", 0, nameLen)) || fallbackName(k);
    const dataLen = head.readUInt32BE(nameLen + 11);
    const rsrcLen = head.readUInt32BE(nameLen + 15);
    const dataFork = readFork(rle, dataLen, ctx);
    if (dataFork.length > 0) {
      ctx.charge(dataFork.length);
      yield { name, data: dataFork };
    }
    rle.read(2); // data fork CRC
    const rsrcFork = readFork(rle, rsrcLen, ctx);
    if (rsrcFork.length > 0) {
      ctx.charge(rsrcFork.length);
      yield { name: `${name}.rsrc`, data: rsrcFork };
    }
  }
}

/** Bare BinHex file: the forks of every block in it. */
export const unpackBinhex: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx) {
  yield* binhexBlocks(data, ctx, (k) => `binhex-${k}`);
};
