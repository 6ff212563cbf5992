/**
 * Incremental decoder for the bytes a clamd client sends: framed command lines (`z…\0`,
 * `n…\n`, or old-style `…\n`) and INSTREAM chunks (4-byte big-endian length, payload,
 * zero-length terminator). Bytes may arrive split at any offset; the decoder keeps only
 * what it has not consumed yet, and never more than one command line plus one socket read,
 * because chunk payloads are handed out as they arrive.
 */
import type { RawCommand } from "./commands.js";

export type CommandRead = RawCommand | "need-more" | "too-long";

export type ChunkRead =
  | { kind: "data"; bytes: Buffer } // part (or all) of a chunk payload
  | { kind: "end" } // the zero-length terminator
  | { kind: "need-more" }
  | { kind: "too-big"; length: number }; // a declared chunk length that breaks the limit

export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  /** bytes of the current chunk payload not yet received */
  private chunkLeft = 0;

  constructor(private readonly maxCommandLength: number) {}

  push(data: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
  }

  get buffered(): number {
    return this.buf.length;
  }

  /**
   * The buffered bytes as one old-style command without its newline, when the first bytes on
   * a connection are a bare command (clamd's get_cmd takes the first packet as the command when
   * it has no z/n prefix; kylefarris/clamscan sends `PING` and `MULTISCAN <path>` that way).
   * undefined when the buffer is empty, prefixed, holds a newline or is longer than a command.
   */
  peekBareCommand(): RawCommand | undefined {
    if (!this.buf.length || this.buf[0] === 0x7a || this.buf[0] === 0x6e) return undefined;
    if (this.buf.length > this.maxCommandLength || this.buf.indexOf(0x0a) >= 0) return undefined;
    let text = this.buf.toString("latin1");
    if (text.endsWith("\r")) text = text.slice(0, -1);
    return { prefix: "", term: "\n", text };
  }

  /** Consume what peekBareCommand returned. */
  takeBareCommand(): void {
    this.buf = Buffer.alloc(0);
  }

  /** Next framed command, if a whole one is buffered. */
  readCommand(): CommandRead {
    if (!this.buf.length) return "need-more";
    const prefix = this.buf[0] === 0x7a ? "z" : this.buf[0] === 0x6e ? "n" : "";
    const termByte = prefix === "z" ? 0 : 0x0a;
    const end = this.buf.indexOf(termByte);
    if (end < 0) return this.buf.length > this.maxCommandLength ? "too-long" : "need-more";
    if (end > this.maxCommandLength) return "too-long";
    let text = this.buf.subarray(prefix ? 1 : 0, end).toString("latin1");
    // clamd accepts "PING\r\n" from telnet-style clients: drop one CR before a newline
    if (termByte === 0x0a && text.endsWith("\r")) text = text.slice(0, -1);
    this.buf = this.buf.subarray(end + 1);
    return { prefix, term: prefix === "z" ? "\0" : "\n", text };
  }

  /**
   * Next piece of INSTREAM data. `room` is how many more payload bytes the stream may
   * take; a chunk whose declared length exceeds it is refused before its payload arrives
   * (as clamd does, so a 0xffffffff length costs nothing).
   */
  readChunk(room: number): ChunkRead {
    if (this.chunkLeft === 0) {
      if (this.buf.length < 4) return { kind: "need-more" };
      const length = this.buf.readUInt32BE(0);
      this.buf = this.buf.subarray(4);
      if (length === 0) return { kind: "end" };
      if (length > room) return { kind: "too-big", length };
      this.chunkLeft = length;
    }
    if (!this.buf.length) return { kind: "need-more" };
    const take = Math.min(this.chunkLeft, this.buf.length);
    // a view into the socket read: the caller copies it (StreamCollector) before the next push
    const bytes = this.buf.subarray(0, take);
    this.buf = this.buf.subarray(take);
    this.chunkLeft -= take;
    return { kind: "data", bytes };
  }
}

/** Size of the blocks a stream is collected into: large enough that a stream sent as
 *  1-byte chunks costs one copy per byte rather than one Buffer object per byte (which
 *  would multiply memory ~100× and let a peer exhaust the heap under StreamMaxLength). */
const COLLECT_BLOCK = 256 * 1024;

/** Accumulates INSTREAM payload pieces of any size into a few large blocks. */
export class StreamCollector {
  private readonly blocks: Buffer[] = [];
  private used = 0;
  size = 0;

  append(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      let cur = this.blocks[this.blocks.length - 1];
      if (!cur || this.used === cur.length) {
        const left = bytes.length - off;
        // a big piece gets a block of its own size: one copy, no slack
        cur = Buffer.allocUnsafe(Math.max(COLLECT_BLOCK, left));
        this.blocks.push(cur);
        this.used = 0;
      }
      const n = Math.min(cur.length - this.used, bytes.length - off);
      cur.set(bytes.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      this.size += n;
    }
  }

  /** The whole stream as one buffer. */
  result(): Buffer {
    if (this.blocks.length === 0) return Buffer.alloc(0);
    const last = this.blocks.length - 1;
    const parts = this.blocks.map((b, i) => (i === last ? b.subarray(0, this.used) : b));
    if (parts.length > 1) return Buffer.concat(parts, this.size);
    // a small stream must not pin a whole block while it waits in a scan queue
    return parts[0].length * 2 < this.blocks[0].length ? Buffer.from(parts[0]) : parts[0];
  }
}
