/**
 * bzip2 unpacker (".bz2" files, and the decoder behind ZIP method 12), on seek-bzip.
 *
 * seek-bzip has no output cap of its own, so we hand it our own output stream: every byte
 * goes through writeByte, which stops decoding with OutputOverflow once the cap is reached
 * (mid-block, not after it) and calls ctx.checkTime() every 1 MiB. Its internal memory
 * is one block (at most 900 kB of input symbols, a 3.6 MB Uint32Array), fixed by the
 * format. Input reads past the end throw instead of feeding zeros, so truncated data
 * cannot spin the decoder. Multi-stream files (pbzip2, concatenated .bz2) are decoded
 * stream after stream into one child, as bunzip2 does.
 */
import { createRequire } from "node:module";
import { LimitExceeded } from "../limits.js";
import { BoundedOutput, OutputOverflow, outputCap, overflowError, type OutputCap } from "./bounded.js";
import { UnpackError, type Unpacker } from "./types.js";

interface SeekBzipInput {
  readByte(): number;
  read(buf: Uint8Array, offset: number, length: number): number;
  seek(pos: number): void;
  eof(): boolean;
}
interface SeekBzipOutput {
  writeByte(byte: number): void;
}
interface SeekBzip {
  decode(input: SeekBzipInput, output: SeekBzipOutput, multistream?: boolean): void;
}

// seek-bzip is CommonJS without type declarations; load it through require and type the
// one function we use here rather than declaring the module for the whole project.
const seekBzip = createRequire(import.meta.url)("seek-bzip") as SeekBzip;

/** Output bytes between two checkTime() calls inside the decoder. */
const BYTES_PER_TIME_CHECK = 1 << 20;

class TruncatedInput extends Error {
  constructor() {
    super("bzip2 data ends early");
  }
}

export interface Bunzip2Result {
  data: Uint8Array;
  /** why decoding stopped early (truncated or corrupt); data holds what came before */
  error?: string;
}

/**
 * Decode a bzip2 stream into at most cap.bytes bytes. Throws LimitExceeded (cap.limit) when
 * the data would go past the cap; bad data ends decoding with `error` set.
 */
export function bunzip2Bounded(input: Uint8Array, cap: OutputCap, what: string, checkTime?: () => void): Bunzip2Result {
  const out = new BoundedOutput(cap.bytes, input.length * 8);
  let pos = 0;
  const source: SeekBzipInput = {
    readByte() {
      if (pos >= input.length) throw new TruncatedInput();
      return input[pos++];
    },
    read(buf, offset, length) {
      let n = 0;
      for (; n < length && pos < input.length; n++) buf[offset + n] = input[pos++];
      return n === 0 && length > 0 ? -1 : n;
    },
    seek(p) {
      pos = p;
    },
    eof() {
      return pos >= input.length;
    },
  };
  const sink: SeekBzipOutput = {
    writeByte(byte) {
      out.push(byte);
      if (out.length % BYTES_PER_TIME_CHECK === 0) checkTime?.();
    },
  };
  try {
    seekBzip.decode(source, sink, true);
    return { data: out.result() };
  } catch (e) {
    if (e instanceof OutputOverflow) throw overflowError(cap, what);
    if (e instanceof LimitExceeded) throw e; // from checkTime
    // seek-bzip reports bad data as TypeError ("Data error", "Bad block CRC", ...); a
    // hostile stream might also trip some other runtime error inside it. Either way the
    // bytes decoded so far are kept and the stream is reported as broken.
    if (e instanceof Error) return { data: out.result(), error: e.message };
    throw e;
  }
}

/** .bz2 has no stored file name; the child is called "bunzip2". */
export const unpackBzip2: Unpacker = function* (data, ctx) {
  const result = bunzip2Bounded(data, outputCap(ctx, data.length), "bzip2 stream", () => ctx.checkTime());
  if (result.error !== undefined && result.data.length === 0) throw new UnpackError("bzip2", result.error);
  ctx.charge(result.data.length);
  yield { name: "bunzip2", data: result.data };
};
