/**
 * Frames of the daemon's private commands (protocol.ts): one JSON metadata frame, then, when
 * the message has one, a stream of data frames ending in a zero-length frame. Both sides use
 * this decoder: the daemon for requests, the agents for replies.
 *
 * The decoder is incremental (bytes may be split at any offset) and bounded: it holds at most
 * 4 length bytes and one metadata frame (refused when its declared length is over `maxHead`,
 * before any of it is buffered), and it stores at most `maxBody` stream bytes. A stream that goes
 * on past `maxBody` is drained, not stored: `overflow` is set and `received` keeps counting, so
 * the receiver can still answer ("not scanned") instead of cutting the peer off mid-write.
 * Stored bytes go straight into one growing buffer (StreamBuffer, capped at `maxBody`), which
 * the receiver owns whole and may hand to the scanner without a copy. With a `budget` (the
 * daemon's process-wide stream budget, host/clamd/byte-budget.ts) the buffer's growth is charged
 * to it; when it has no room, what was stored is dropped, `refused` says why and the rest of the
 * stream is drained like an overflow, so the receiver still answers (an error, never a verdict on
 * part of the object). The receiver calls release() once the stored bytes are scanned or dropped.
 */
import type { ByteBudget } from "../clamd/byte-budget.js";
import { StreamBuffer } from "../clamd/framing.js";

/** Bytes per data frame written. 64 KiB keeps every write small (as the agents' INSTREAM did)
 *  while a 100 MB mail still takes only ~1,600 frames. */
export const WRITE_FRAME_BYTES = 64 * 1024;

export interface DecoderOptions {
  /** largest metadata frame accepted */
  maxHead: number;
  /** most stream bytes stored; the rest is counted and dropped */
  maxBody: number;
  /** whether a stream follows this metadata (a reply without a rewritten mail has none) */
  hasBody: (head: unknown) => boolean;
  /** budget the stored stream is charged to (the daemon side); none: not charged */
  budget?: ByteBudget;
}

type State = "head-length" | "head" | "body-length" | "body" | "done" | "failed";

export class FramedMessageDecoder {
  private state: State = "head-length";
  private readonly length = Buffer.alloc(4);
  private lengthHave = 0;
  private headBuf: Buffer = Buffer.alloc(0);
  private headHave = 0;
  private frameLeft = 0;
  private readonly stored: StreamBuffer;
  private taken: Buffer | undefined;

  /** the parsed metadata, once its frame is complete */
  head: unknown = undefined;
  /** stream bytes received, stored or not */
  received = 0;
  /** more than maxBody stream bytes were received (only the first maxBody are kept) */
  overflow = false;
  /** the stream could not be stored (the budget had no room, or memory ran out): why. The
   *  stream is drained to its end all the same; nothing of it is kept. */
  refused: string | undefined = undefined;
  /** why the input was refused; nothing more is read after an error */
  error: string | undefined = undefined;

  constructor(private readonly opts: DecoderOptions) {
    this.stored = new StreamBuffer(opts.maxBody, opts.budget);
  }

  /** the whole message (metadata and stream, if any) has been received */
  get complete(): boolean {
    return this.state === "done";
  }

  /** the stored stream (at most maxBody bytes); the same buffer on every call */
  body(): Buffer {
    this.taken ??= this.stored.take();
    return this.taken;
  }

  /** Give the stored bytes' budget charge back (after their scan, or when they are dropped). */
  release(): void {
    this.stored.release();
  }

  private fail(reason: string): void {
    this.state = "failed";
    this.error = reason;
  }

  push(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      switch (this.state) {
        case "done":
          return this.fail(`${data.length - off} bytes after the end of the message`);
        case "failed":
          return;
        case "head-length":
        case "body-length": {
          const n = Math.min(4 - this.lengthHave, data.length - off);
          this.length.set(data.subarray(off, off + n), this.lengthHave);
          this.lengthHave += n;
          off += n;
          if (this.lengthHave < 4) break;
          this.lengthHave = 0;
          this.onLength(this.length.readUInt32BE(0));
          break;
        }
        case "head": {
          const n = Math.min(this.headBuf.length - this.headHave, data.length - off);
          this.headBuf.set(data.subarray(off, off + n), this.headHave);
          this.headHave += n;
          off += n;
          if (this.headHave === this.headBuf.length) this.onHead();
          break;
        }
        case "body": {
          const n = Math.min(this.frameLeft, data.length - off);
          const room = this.opts.maxBody - this.stored.size;
          if (room > 0 && this.refused === undefined) {
            try {
              this.stored.append(data.subarray(off, off + Math.min(room, n)));
            } catch (e) {
              // no budget (or no memory) for this stream: free what it holds for the others
              this.refused = String((e as Error)?.message ?? e);
              this.stored.release();
            }
          }
          this.received += n;
          if (this.received > this.opts.maxBody) this.overflow = true;
          this.frameLeft -= n;
          off += n;
          if (this.frameLeft === 0) this.state = "body-length";
          break;
        }
      }
    }
  }

  private onLength(n: number): void {
    if (this.state === "head-length") {
      if (n === 0) return this.fail("the metadata frame is missing (zero-length first frame)");
      if (n > this.opts.maxHead) return this.fail(`metadata frame of ${n} bytes is over the ${this.opts.maxHead}-byte limit`);
      this.headBuf = Buffer.alloc(n);
      this.headHave = 0;
      this.state = "head";
      return;
    }
    if (n === 0) {
      this.state = "done";
      return;
    }
    this.frameLeft = n;
    this.state = "body";
  }

  private onHead(): void {
    try {
      this.head = JSON.parse(this.headBuf.toString("utf8"));
    } catch (e) {
      return this.fail(`metadata frame is not JSON: ${(e as Error).message}`);
    }
    this.headBuf = Buffer.alloc(0);
    this.state = this.opts.hasBody(this.head) ? "body-length" : "done";
  }
}

function frameHeader(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The buffers to write for `head` (a JSON frame) and, when given, `body` as data frames and
 *  the zero frame. The body is sliced, not copied. */
export function encodeMessage(head: unknown, body?: Uint8Array, frameBytes = WRITE_FRAME_BYTES): Buffer[] {
  const json = Buffer.from(JSON.stringify(head), "utf8");
  const out: Buffer[] = [frameHeader(json.length), json];
  if (body) {
    for (let off = 0; off < body.length; off += frameBytes) {
      const piece = body.subarray(off, Math.min(off + frameBytes, body.length));
      out.push(frameHeader(piece.length), Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    }
    out.push(frameHeader(0));
  }
  return out;
}
