/**
 * Incremental decoder for the bytes a clamd client sends: framed command lines (`z…\0`,
 * `n…\n`, or old-style `…\n`) and INSTREAM chunks (4-byte big-endian length, payload,
 * zero-length terminator). Bytes may arrive split at any offset; the decoder keeps only
 * what it has not consumed yet, and never more than one command line plus one socket read,
 * because chunk payloads are handed out as they arrive (as views into the socket reads, never
 * copied here). A chunk header split across reads is carried in 4 bytes of its own, so the
 * read after it is not copied just to join 1-3 bytes to it.
 *
 * StreamBuffer collects a stream into one growing buffer (INSTREAM here, zBWSCAN/zBWMAIL in
 * host/service/frames.ts) that the scanner can take over whole (transferred to a worker).
 */
import { BudgetExhausted, type ByteBudget } from "./byte-budget.js";
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
  /** the first bytes of a chunk header that ended a read (0-3 of them) */
  private readonly header = Buffer.alloc(4);
  private headerHave = 0;

  constructor(private readonly maxCommandLength: number) {}

  push(data: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
  }

  get buffered(): number {
    return this.buf.length + this.headerHave;
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
      let length: number;
      if (this.headerHave === 0 && this.buf.length >= 4) {
        length = this.buf.readUInt32BE(0);
        this.buf = this.buf.subarray(4);
      } else {
        // a header split across reads: keep its bytes aside so that `buf` empties and the
        // next push does not copy a whole read to join them
        const n = Math.min(4 - this.headerHave, this.buf.length);
        this.header.set(this.buf.subarray(0, n), this.headerHave);
        this.headerHave += n;
        this.buf = this.buf.subarray(n);
        if (this.headerHave < 4) return { kind: "need-more" };
        this.headerHave = 0;
        length = this.header.readUInt32BE(0);
      }
      if (length === 0) return { kind: "end" };
      if (length > room) return { kind: "too-big", length };
      this.chunkLeft = length;
    }
    if (!this.buf.length) return { kind: "need-more" };
    const take = Math.min(this.chunkLeft, this.buf.length);
    // a view into the socket read (Node gives each read a buffer of its own, never reused):
    // the caller copies it (StreamBuffer) or writes it on (the [clamd] agent's forwarding)
    const bytes = this.buf.subarray(0, take);
    this.buf = this.buf.subarray(take);
    this.chunkLeft -= take;
    return { kind: "data", bytes };
  }
}

/** First capacity of a StreamBuffer: one INSTREAM chunk as clients send them (clamdscan and
 *  most libraries use 4-64 KiB). Capacity then doubles, so a stream of n bytes costs at most
 *  about n bytes of re-copying and never holds more than twice what it received. */
const STREAM_BUFFER_START = 64 * 1024;

/**
 * A stream collected into ONE buffer that doubles as it fills, never beyond `limit` (the stream
 * limit the caller enforces: StreamMaxLength, max_file_size), so the memory a connection holds
 * stays bounded by its limit however the peer splits its chunks (1-byte chunks cost one
 * 1-byte copy each, not one object each).
 *
 * Ownership: `take()` hands the bytes over and forgets them. The result is a view at offset 0
 * of an ArrayBuffer that nothing else uses (allocUnsafeSlow: never Node's shared pool), so the
 * receiver may transfer it to a worker thread (Scanner.scan `transfer: true`) instead of
 * copying it.
 */
export class StreamBuffer {
  private buf: Buffer | null = null;
  size = 0;
  /** bytes charged to `budget` and not yet released (the capacity held, then after take() the
   *  size handed over: the bytes stay in memory while they wait for and go through the scan) */
  private charged = 0;

  /** `budget`: the process-wide ByteBudget (byte-budget.ts) each growth is charged to; a growth
   *  it has no room for throws BudgetExhausted and leaves the buffer as it was. The owner must
   *  call release() once the stream is scanned or dropped, on every path. */
  constructor(private readonly limit: number, private readonly budget?: ByteBudget) {}

  append(bytes: Uint8Array): void {
    const need = this.size + bytes.length;
    if (need > this.limit) throw new RangeError(`stream over its ${this.limit}-byte limit`); // callers check first
    if (!this.buf || need > this.buf.length) {
      let cap = Math.max(this.buf ? this.buf.length * 2 : Math.min(STREAM_BUFFER_START, this.limit), need);
      cap = Math.min(cap, this.limit);
      const more = cap - (this.buf?.length ?? 0);
      if (this.budget && !this.budget.tryCharge(more)) throw new BudgetExhausted(more, this.budget);
      let grown: Buffer;
      try {
        grown = Buffer.allocUnsafeSlow(cap);
      } catch (e) {
        this.budget?.release(more);
        throw e;
      }
      if (this.budget) this.charged += more;
      if (this.buf) grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    this.buf.set(bytes, this.size);
    this.size = need;
  }

  /** The whole stream (possibly empty); the StreamBuffer is empty again afterwards, but its
   *  budget charge (now the stream's size) stays until release(). */
  take(): Buffer {
    const buf = this.buf;
    const size = this.size;
    this.buf = null;
    this.size = 0;
    if (!buf) return Buffer.alloc(0);
    // a small stream must not pin a mostly empty buffer while it waits in a scan queue
    // (only possible below STREAM_BUFFER_START: after any doubling it is at least half full)
    if (size * 2 < buf.length) {
      const exact = Buffer.allocUnsafeSlow(size);
      exact.set(buf.subarray(0, size));
      this.releaseDownTo(size);
      return exact;
    }
    return buf.subarray(0, size);
  }

  /** Give the whole charge back to the budget and drop anything not taken. Idempotent. */
  release(): void {
    this.buf = null;
    this.size = 0;
    this.releaseDownTo(0);
  }

  private releaseDownTo(n: number): void {
    if (!this.budget || this.charged <= n) return;
    this.budget.release(this.charged - n);
    this.charged = n;
  }
}
