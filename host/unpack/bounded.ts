/**
 * Output bounds shared by the decompressing unpackers (zip, gzip, bzip2, Deflate64, Implode).
 * Every decoder gets one number, the output cap, and must stop as soon as it would write
 * past it; this file computes that cap from the scan context and turns "hit the cap" into
 * the right LimitExceeded verdict.
 */
import zlib from "node:zlib";
import { LimitExceeded, type LimitName } from "../limits.js";
import type { UnpackCtx } from "./types.js";

/** Below this many output bytes the expansion ratio is not checked: tiny members reach
 *  silly ratios legitimately (1 KiB of spaces deflates to ~15 bytes, 68:1; an empty-ish
 *  text file to 2 bytes), and a 1 MiB member costs nothing to scan. Bombs need far more
 *  than 1 MiB per member to hurt, so the floor does not weaken the ratio check. */
export const RATIO_FLOOR_BYTES = 1 << 20;

/** Thrown by our own decoders (Deflate64, Implode, bzip2 sink) when output would pass
 *  the cap; `capOutput` callers convert it with `overflowError`. */
export class OutputOverflow extends Error {
  constructor(public readonly cap: number) {
    super(`decoder output would exceed ${cap} bytes`);
    this.name = "OutputOverflow";
  }
}

export interface OutputCap {
  /** most bytes the decoder may produce */
  bytes: number;
  /** which limit is the binding one, reported if the cap is hit */
  limit: LimitName;
}

/** The cap for one member: the smaller of ctx.room() and compressedSize * maxRatio
 *  (the ratio cap never below RATIO_FLOOR_BYTES). */
export function outputCap(ctx: UnpackCtx, compressedSize: number): OutputCap {
  const room = Math.max(0, ctx.room());
  const roomLimit: LimitName = room >= ctx.limits.maxFileSize ? "MaxFileSize" : "MaxScanSize";
  const ratioBytes = Math.max(RATIO_FLOOR_BYTES, compressedSize * ctx.limits.maxRatio);
  return ratioBytes < room ? { bytes: ratioBytes, limit: "MaxRatio" } : { bytes: room, limit: roomLimit };
}

/** Rejects a member from its declared size before any byte is inflated. */
export function checkDeclaredSize(ctx: UnpackCtx, declared: number, compressedSize: number, what: string): void {
  const room = Math.max(0, ctx.room());
  if (declared > room) {
    const limit: LimitName = declared > ctx.limits.maxFileSize ? "MaxFileSize" : "MaxScanSize";
    throw new LimitExceeded(limit, `${what} declares ${declared} bytes, room is ${room}`);
  }
  if (declared > RATIO_FLOOR_BYTES && declared > compressedSize * ctx.limits.maxRatio) {
    throw new LimitExceeded("MaxRatio", `${what} declares ${declared} bytes from ${compressedSize}`);
  }
}

export function overflowError(cap: OutputCap, what: string): LimitExceeded {
  return new LimitExceeded(cap.limit, `${what} inflates past ${cap.bytes} bytes`);
}

/** A plain Uint8Array view of the same bytes (no copy): zlib returns Buffers and inputs
 *  may be Buffers; children are always plain Uint8Arrays so consumers see one type. */
export function asBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export interface RawInflateResult {
  data: Uint8Array;
  /** compressed bytes the deflate stream used (where a gzip trailer starts); equal to
   *  input.length when the stream was cut short */
  consumed: number;
}

/**
 * Raw-deflate `input` with zlib, never producing more than cap.bytes. zlib grows its
 * output chunk by chunk and aborts at maxOutputLength, so memory stays near the cap.
 * Z_SYNC_FLUSH as the finishing flush makes a truncated stream return the prefix it
 * could decode instead of throwing it away; a corrupt stream yields nothing.
 */
export function inflateRawBounded(input: Uint8Array, cap: OutputCap, what: string): RawInflateResult {
  try {
    const r = zlib.inflateRawSync(input, {
      info: true,
      maxOutputLength: Math.max(1, cap.bytes), // zlib refuses 0
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    if (r.buffer.length > cap.bytes) throw overflowError(cap, what); // cap 0, 1 byte out
    return { data: asBytes(r.buffer), consumed: r.engine.bytesWritten };
  } catch (e) {
    if (isTooLarge(e)) throw overflowError(cap, what);
    if (isZlibDataError(e)) return { data: new Uint8Array(0), consumed: input.length };
    throw e;
  }
}

function isTooLarge(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === "ERR_BUFFER_TOO_LARGE";
}

function isZlibDataError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "Z_BUF_ERROR" || code === "Z_DATA_ERROR" || code === "Z_NEED_DICT";
}

/**
 * Growable output buffer for our own decoders. It doubles its storage, so memory is at
 * most 2x what was really produced, and never grows past `max` (OutputOverflow instead).
 */
export class BoundedOutput {
  buf: Uint8Array;
  length = 0;

  constructor(public readonly max: number, sizeHint = 64 * 1024) {
    this.buf = new Uint8Array(Math.max(16, Math.min(max, sizeHint)));
  }

  /** make room for n more bytes or throw OutputOverflow */
  ensure(n: number): void {
    const need = this.length + n;
    if (need > this.max) throw new OutputOverflow(this.max);
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(Math.min(size, this.max));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  push(byte: number): void {
    if (this.length === this.buf.length) this.ensure(1);
    else if (this.length >= this.max) throw new OutputOverflow(this.max);
    this.buf[this.length++] = byte;
  }

  /** LZ77 copy of `len` bytes from `dist` back; bytes before the start read as zero
   *  (what PKWARE's Implode spec asks; Deflate callers reject such distances first). */
  copyBack(dist: number, len: number): void {
    this.ensure(len);
    const b = this.buf;
    let o = this.length;
    let from = o - dist;
    for (let i = 0; i < len; i++, o++, from++) b[o] = from < 0 ? 0 : b[from];
    this.length = o;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
