/**
 * The SMTP DATA phase, read incrementally and safely (pure code: no I/O, no config).
 *
 * Why this exists: SMTP smuggling (CVE-2023-51764/51765/51766). A receiver that ends DATA on
 * anything but <CRLF>.<CRLF>, or a relay that passes bare CR / bare LF through unchanged, lets a
 * client hide a second transaction inside one message. This reader is the one place that decides
 * where a message ends and what its bytes are; the relay side then re-encodes with
 * `RelayEncoder`, which can never emit an early end-of-data.
 *
 * Rules (RFC 5321 §4.1.1.4, §4.5.2):
 * - End of data is exactly <CRLF>.<CRLF>. The CRLF that ended the DATA command counts as the first
 *   CRLF, so ".\r\n" as the very first bytes is an empty message. The terminator may arrive split
 *   across reads at any offset; the reader keeps only a small state, never a byte buffer.
 * - A "line" starts after a real CRLF. Only there is a leading dot an SMTP transparency dot: it is
 *   removed when the line has other characters before its end ("..x" -> ".x", ".." -> ".").
 * - Bare CR and bare LF end a line too and each becomes one CRLF. A line that starts after a bare
 *   CR/LF is body text from its first byte: a dot there is kept as it is. A lone "." ended by a
 *   bare CR/LF is not end-of-data and is kept. So, with "a" before and "b" after:
 *     <LF>.<LF>        "a\n.\nb"     -> "a\r\n.\r\nb"
 *     <LF>.<CR><LF>    "a\n.\r\nb"   -> "a\r\n.\r\nb"
 *     <CR>.<CR>        "a\r.\rb"     -> "a\r\n.\r\nb"
 *     <CR>.<CR><LF>    "a\r.\r\nb"   -> "a\r\n.\r\nb"
 *     <LF>.<CR>        "a\n.\rb"     -> "a\r\n.\r\nb"
 *     <CR><LF>.<LF>    "a\r\n.\nb"   -> "a\r\n.\r\nb"
 *     <CR><LF>.<CR>    "a\r\n.\rb"   -> "a\r\n.\r\nb"
 *     <CR><CR><LF>     "a\r\r\nb"    -> "a\r\n\r\nb"   (the first CR is bare)
 *   Each of these yields a body line "." which RelayEncoder sends as "..", so the downstream
 *   server sees body text, never a second end-of-data.
 * - NUL bytes are passed through and counted (`nulBytes`) so the caller can reject (RFC 5321 §2.3.8
 *   forbids them in text; Sendmail rejects them by default).
 *
 * Bounds: the caller passes `maxMessageBytes` (the decoded size it will accept, normally the SIZE it
 * advertised). Past it the reader keeps consuming until end-of-data, so the SMTP dialogue stays in
 * step, but stores nothing more and reports `tooBig` (reply 552 5.3.4). Line length is NOT
 * enforced: RFC 5321 §4.5.3.1.6 limits a text line to 1000 octets with CRLF, but §4.5.3.1 asks
 * receivers to be liberal and real mail breaks it; the reader's state is constant per line, so a
 * huge line costs no memory beyond the message bound. Lines past the limit are counted
 * (`overlongLines`) for the caller to log or refuse. A client that never sends the terminator is
 * the connection's idle/total timeouts' business; the reader itself holds at most the bound.
 */

/** RFC 5321 §4.5.3.1.6: 1000 octets including CRLF, so 998 before it. Only counted, see above. */
export const MAX_TEXT_LINE_OCTETS = 998;

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const NUL = 0x00;

const enum State {
  /** At the start of a line begun by a real CRLF (or the start of DATA). */
  LineStart,
  /** Saw "." at a real line start. */
  Dot,
  /** Saw ".\r" at a real line start. */
  DotCr,
  /** Inside a line (or at the start of one begun by a bare CR/LF). */
  Mid,
  /** Saw a CR inside a line; the next byte decides whether it was bare. */
  Cr,
  /** <CRLF>.<CRLF> seen. */
  Done,
}

export interface DataResult {
  /** The decoded message (unstuffed, every line ending CRLF), at most maxMessageBytes long. */
  body: Buffer;
  /** True when the decoded message was larger than maxMessageBytes; body is then a prefix. */
  tooBig: boolean;
  /** Decoded size of the whole message, counted even past the limit. */
  size: number;
  /** How many bare CR or bare LF were turned into CRLF (for a "reject bare line endings" policy). */
  bareLineEnds: number;
  nulBytes: number;
  overlongLines: number;
}

export class DataReader {
  private state: State = State.LineStart;
  private readonly chunks: Buffer[] = [];
  private stored = 0;
  private size = 0;
  private lineLength = 0;
  private bareLineEnds = 0;
  private nulBytes = 0;
  private overlongLines = 0;
  private out: Buffer = Buffer.alloc(0);
  private outLen = 0;

  constructor(private readonly maxMessageBytes: number) {
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 0) {
      throw new RangeError(`maxMessageBytes must be a non-negative integer, got ${maxMessageBytes}`);
    }
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /**
   * Feeds bytes received after the 354 reply. Returns null while the message goes on; at
   * end-of-data returns the bytes that followed the terminator (pipelined commands such as
   * QUIT, possibly empty), which belong to the command reader again. Feeding after the end throws.
   */
  push(chunk: Uint8Array): Buffer | null {
    if (this.state === State.Done) throw new Error("DataReader: data after end-of-data");
    // Worst case every input byte is a bare CR/LF and becomes two bytes; plus ".\r\n" pending.
    const need = chunk.length * 2 + 3;
    if (this.out.length < need) this.out = Buffer.alloc(need);
    this.outLen = 0;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const b = chunk[i];
      switch (this.state) {
        case State.Mid: {
          // Fast path: copy the run of ordinary bytes up to the next CR or LF.
          let j = i;
          while (j < n && chunk[j] !== CR && chunk[j] !== LF) {
            if (chunk[j] === NUL) this.nulBytes++;
            j++;
          }
          if (j > i) {
            this.emitRun(chunk, i, j);
            i = j;
            continue;
          }
          if (b === CR) this.state = State.Cr;
          else this.endLine(true, State.Mid); // bare LF
          i++;
          continue;
        }
        case State.LineStart:
          if (b === DOT) {
            this.state = State.Dot;
            i++;
          } else {
            this.state = State.Mid;
          }
          continue;
        case State.Dot:
          if (b === CR) {
            this.state = State.DotCr;
            i++;
          } else if (b === LF) {
            // "<CRLF>.<LF>": a lone dot ended by a bare LF; kept as text.
            this.emitByte(DOT);
            this.endLine(true, State.Mid);
            i++;
          } else {
            // Transparency dot before other characters: removed (RFC 5321 §4.5.2).
            this.state = State.Mid;
          }
          continue;
        case State.DotCr:
          if (b === LF) {
            this.state = State.Done;
            i++;
            this.flush();
            return Buffer.from(chunk.subarray(i));
          }
          // "<CRLF>.<CR>" not followed by LF: a lone dot ended by a bare CR; kept as text.
          this.emitByte(DOT);
          this.endLine(true, State.Mid);
          continue; // the byte after the bare CR is looked at again from Mid
        case State.Cr:
          if (b === LF) {
            this.endLine(false, State.LineStart);
            i++;
          } else {
            this.endLine(true, State.Mid); // the CR was bare; this byte starts the next line
          }
          continue;
        default:
          throw new Error("DataReader: unreachable state");
      }
    }
    this.flush();
    return null;
  }

  /** The message; call once `push` has returned non-null. */
  result(): DataResult {
    if (this.state !== State.Done) throw new Error("DataReader: end-of-data not seen yet");
    return {
      body: Buffer.concat(this.chunks, this.stored),
      tooBig: this.size > this.maxMessageBytes,
      size: this.size,
      bareLineEnds: this.bareLineEnds,
      nulBytes: this.nulBytes,
      overlongLines: this.overlongLines,
    };
  }

  private emitRun(src: Uint8Array, from: number, to: number): void {
    this.out.set(src.subarray(from, to), this.outLen);
    this.outLen += to - from;
    this.lineLength += to - from;
  }

  private emitByte(b: number): void {
    this.out[this.outLen++] = b;
    this.lineLength++;
  }

  private endLine(bare: boolean, next: State): void {
    if (bare) this.bareLineEnds++;
    if (this.lineLength > MAX_TEXT_LINE_OCTETS) this.overlongLines++;
    this.lineLength = 0;
    this.out[this.outLen++] = CR;
    this.out[this.outLen++] = LF;
    this.state = next;
  }

  /** Moves this push's decoded bytes into the message, storing only up to the bound. */
  private flush(): void {
    const len = this.outLen;
    if (len === 0) return;
    this.size += len;
    const room = this.maxMessageBytes - this.stored;
    if (room > 0) {
      const take = Math.min(room, len);
      this.chunks.push(Buffer.from(this.out.subarray(0, take)));
      this.stored += take;
    }
    this.outLen = 0;
  }
}

/**
 * Re-encodes a message for relaying after DATA: every CRLF, bare CR and bare LF becomes CRLF, a
 * line starting with "." gets a second "." (RFC 5321 §4.5.2), the last line is ended with CRLF if
 * it was not, and ".\r\n" follows. Incremental (`push` any split, then `end`), so it can stream
 * the daemon's rewritten mail, which may use bare LF line endings.
 */
export class RelayEncoder {
  private atLineStart = true;
  private pendingCr = false;
  private ended = false;

  push(chunk: Uint8Array): Buffer {
    if (this.ended) throw new Error("RelayEncoder: push after end");
    // Worst case: every byte is "." at a line start (2x) or a bare CR/LF (2x); plus a pending CR.
    const out = Buffer.alloc(chunk.length * 2 + 2);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.pendingCr) {
        this.pendingCr = false;
        out[o++] = CR;
        out[o++] = LF;
        this.atLineStart = true;
        if (b === LF) continue; // CRLF
      }
      if (b === CR) {
        this.pendingCr = true;
      } else if (b === LF) {
        out[o++] = CR;
        out[o++] = LF;
        this.atLineStart = true;
      } else {
        if (this.atLineStart && b === DOT) out[o++] = DOT;
        out[o++] = b;
        this.atLineStart = false;
      }
    }
    return out.subarray(0, o);
  }

  /** The remaining bytes: a pending line end, a final CRLF if needed, and ".\r\n". */
  end(): Buffer {
    if (this.ended) throw new Error("RelayEncoder: end called twice");
    this.ended = true;
    const tail: number[] = [];
    if (this.pendingCr || !this.atLineStart) tail.push(CR, LF);
    tail.push(DOT, CR, LF);
    return Buffer.from(tail);
  }
}

/** The whole relay encoding of one message at once. */
export function encodeForRelay(body: Uint8Array): Buffer {
  const e = new RelayEncoder();
  return Buffer.concat([e.push(body), e.end()]);
}
