/**
 * SpamAssassin's spamd protocol, request side (spamd/PROTOCOL of SpamAssassin; what Debian's
 * spamc 4.0 sends, checked byte for byte against it): an HTTP-like request
 *
 *   CHECK SPAMC/1.5\r\n            (CHECK SYMBOLS REPORT REPORT_IFSPAM SKIP PING PROCESS HEADERS TELL)
 *   User: name\r\n                 (optional, ignored: Bulwark has no per-user settings here)
 *   Compress: zlib\r\n             (optional, spamc -z: the body is zlib-compressed)
 *   Message-class: spam|ham\r\n    (TELL)
 *   Set: local[,remote]\r\n        (TELL: learn)       Remove: local[,remote]\r\n (TELL: forget)
 *   Content-length: N\r\n
 *   \r\n
 *   N bytes of message
 *
 * RequestReader parses it incrementally (bytes may be split at any offset) and bounded: the
 * header block is refused past MAX_HEADER_BYTES or MAX_HEADER_LINES, the body past `maxBody`
 * (max_file_size) before any of it is stored, a zlib body inflates to at most `maxBody`. Bodies
 * are stored as they arrive (never preallocated from the client's Content-length). A request
 * that breaks a rule gives a SpamdError with the sysexits code and text of the error reply.
 */
import zlib from "node:zlib";

/** The sysexits.h codes spamd replies with (and spamc exits with). */
export const EX = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  IOERR: 74,
  TEMPFAIL: 75,
  PROTOCOL: 76,
  NOPERM: 77,
} as const;

export const EX_NAMES: Record<number, string> = {
  0: "EX_OK", 64: "EX_USAGE", 65: "EX_DATAERR", 69: "EX_UNAVAILABLE", 70: "EX_SOFTWARE", 74: "EX_IOERR", 75: "EX_TEMPFAIL", 76: "EX_PROTOCOL", 77: "EX_NOPERM",
};

export const COMMANDS = ["CHECK", "SYMBOLS", "REPORT", "REPORT_IFSPAM", "SKIP", "PING", "PROCESS", "HEADERS", "TELL"] as const;
export type SpamdCommand = (typeof COMMANDS)[number];

/** Longest header block (request line, headers, blank line). spamc composes its whole header
 *  in an 8 KiB buffer, so no real client sends more; twice that leaves room for other clients'
 *  extra headers while a garbage stream without a blank line is refused after 16 KiB. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Most header lines. spamc sends at most 6 (Message-class, Set, Remove, User, Compress,
 *  Content-length); spamd itself stops at 255, which is far more than any client needs. */
export const MAX_HEADER_LINES = 64;

/** A request refused: `code` and `message` make the error reply (`SPAMD/1.0 code message`). */
export class SpamdError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "SpamdError";
  }
}

/** spamd's own wording for header errors ("Bad header line: ..."), so logs read alike. */
const badHeader = (what: string) => new SpamdError(EX.PROTOCOL, `Bad header line: ${what}`);

export type TellTarget = "local" | "remote";

export interface SpamdRequest {
  command: SpamdCommand;
  /** the SPAMC/x.y version as sent */
  version: string;
  user?: string;
  compress?: "zlib";
  messageClass?: "spam" | "ham";
  set: Set<TellTarget>;
  remove: Set<TellTarget>;
  contentLength?: number;
  /** the message (inflated when Compress: zlib) */
  body: Buffer;
}

/** Commands that carry no message: answered once their request line is read (spamc before
 *  1.5 sent PING without the blank line, and spamd answers it all the same). */
const NO_BODY: ReadonlySet<SpamdCommand> = new Set(["PING", "SKIP"]);

const REQUEST_LINE = /^([A-Z_]+) SPAMC\/(\d{1,3}\.\d{1,3})$/;

/** Printable, bounded text of a client's line for an error reply or a log line. */
export function quoteLine(s: string, max = 80): string {
  const clean = s.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function parseTargets(value: string, header: string): Set<TellTarget> {
  const out = new Set<TellTarget>();
  for (const part of value.split(",")) {
    const t = part.trim().toLowerCase();
    if (t !== "local" && t !== "remote") throw badHeader(`(${header} header contains invalid target ${JSON.stringify(quoteLine(t, 20))})`);
    out.add(t);
  }
  return out;
}

export type ReaderState =
  | { kind: "more" }
  | { kind: "request"; request: SpamdRequest };

/**
 * One request of one connection. push() each read and end() at the peer's FIN; both return
 * "more" until the request is whole, and throw a SpamdError when it breaks a rule. A request is
 * whole at the end of its Content-length bytes (later bytes are ignored, as spamd does), or at
 * end() when it has no Content-length; PING and SKIP are whole at their request line.
 */
export class RequestReader {
  private headBuf: Buffer = Buffer.alloc(MAX_HEADER_BYTES);
  private headBytes = 0;
  private firstBreak = -1;
  private req: SpamdRequest | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private done = false;

  constructor(
    /** most message bytes (max_file_size) */
    private readonly maxBody: number,
    /** called before storing each piece of the body; false refuses the request (the
     *  process-wide memory budget is exhausted) */
    private readonly charge: (n: number) => boolean = () => true,
  ) {}

  /** message bytes stored so far (what the caller must give back to its budget) */
  get stored(): number {
    return this.bodyBytes;
  }

  push(data: Buffer): ReaderState {
    if (this.done) return { kind: "more" };
    if (this.req === undefined) {
      const r = this.pushHead(data);
      if (r.kind !== "body") return r;
      data = r.rest;
    }
    return this.pushBody(data);
  }

  /** The peer finished sending. */
  end(): ReaderState {
    if (this.done) return { kind: "more" };
    if (this.req === undefined) {
      if (this.headBytes === 0) throw new SpamdError(EX.PROTOCOL, "Bad header line: (closed before headers)");
      // a request line alone, without its blank line, is a whole PING/SKIP (handled in push);
      // anything else cut here never said where its headers end
      throw badHeader("(EOF during headers)");
    }
    if (this.req.contentLength !== undefined) {
      throw badHeader(`(Content-Length mismatch: Expected ${this.req.contentLength} bytes, got ${this.bodyBytes} bytes)`);
    }
    return this.finish();
  }

  private pushHead(data: Buffer): { kind: "more" } | { kind: "request"; request: SpamdRequest } | { kind: "body"; rest: Buffer } {
    const before = this.headBytes;
    // one fixed buffer, scanned only where new bytes came: a client that sends one byte per
    // write costs O(n), not O(n^2), up to MAX_HEADER_BYTES
    const room = this.headBuf.length - before;
    const copied = Math.min(room, data.length);
    data.copy(this.headBuf, before, 0, copied);
    this.headBytes += copied;
    const all = this.headBuf.subarray(0, this.headBytes);
    if (this.firstBreak < 0) {
      const nl = all.indexOf(0x0a, before);
      if (nl >= 0) {
        this.firstBreak = nl;
        const line = all.subarray(0, nl).toString("latin1").replace(/\r$/, "");
        const { command, version } = this.checkRequestLine(line);
        // a PING or SKIP is answered at its request line
        if (NO_BODY.has(command)) {
          this.done = true;
          return { kind: "request", request: { command, version, set: new Set(), remove: new Set(), body: Buffer.alloc(0) } };
        }
      }
    }
    // the end of the headers: the first empty line (CRLF CRLF; bare LF accepted too)
    const from = Math.max(0, before - 2);
    const a = all.indexOf("\n\r\n", from, "latin1");
    const b = all.indexOf("\n\n", from, "latin1");
    const at = a < 0 ? b : b < 0 ? a : Math.min(a, b);
    if (at < 0) {
      if (copied < data.length || this.headBytes >= MAX_HEADER_BYTES) throw badHeader(`(headers longer than ${MAX_HEADER_BYTES} bytes)`);
      return { kind: "more" };
    }
    const end = at + (at === a ? 3 : 2);
    this.req = this.parseHead(all.subarray(0, end).toString("latin1"));
    // what followed the blank line: in the buffer, and in `data` past what was copied
    const rest = Buffer.concat([all.subarray(end), data.subarray(copied)]);
    this.headBuf = Buffer.alloc(0);
    return { kind: "body", rest };
  }

  /** Refuse a bad request line as soon as it is complete, not only once the headers are. */
  private checkRequestLine(line: string): { command: SpamdCommand; version: string } {
    const m = REQUEST_LINE.exec(line);
    if (!m || !(COMMANDS as readonly string[]).includes(m[1])) throw badHeader(quoteLine(line));
    return { command: m[1] as SpamdCommand, version: m[2] };
  }

  private parseHead(text: string): SpamdRequest {
    const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
    // the last two entries are the empty line and what follows its LF ("")
    const headerLines = lines.slice(1, -2);
    const { command, version } = this.checkRequestLine(lines[0]);
    if (headerLines.length > MAX_HEADER_LINES) throw badHeader("(too many headers)");
    const req: SpamdRequest = { command, version, set: new Set(), remove: new Set(), body: Buffer.alloc(0) };
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw badHeader("(header not in 'Name: value' format)");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      switch (name) {
        case "content-length": {
          if (!/^\d{1,15}$/.test(value)) throw badHeader("(Content-Length contains non-numeric bytes)");
          const n = Number(value);
          if (req.contentLength !== undefined && req.contentLength !== n) throw badHeader("(two different Content-length headers)");
          if (n > this.maxBody) throw new SpamdError(EX.DATAERR, `Message too big: Content-length ${n} is over the limit of ${this.maxBody} bytes (max_file_size)`);
          req.contentLength = n;
          break;
        }
        case "user":
          if (/[\x00-\x1f\x7f]/.test(value)) throw badHeader("(User header contains control chars)");
          req.user = value;
          break;
        case "compress":
          if (value.toLowerCase() !== "zlib") throw badHeader(`(compression type not supported: ${quoteLine(value, 20)})`);
          req.compress = "zlib";
          break;
        case "message-class": {
          const v = value.toLowerCase();
          if (v !== "spam" && v !== "ham") throw badHeader("(Message-class header contains invalid class)");
          req.messageClass = v;
          break;
        }
        case "set":
          for (const t of parseTargets(value, "Set")) req.set.add(t);
          break;
        case "remove":
          for (const t of parseTargets(value, "Remove")) req.remove.add(t);
          break;
        default:
          // "As-yet-undefined headers should not be treated as errors" (spamd/PROTOCOL)
          break;
      }
    }
    if (req.compress && req.contentLength === undefined) throw new SpamdError(EX.UNAVAILABLE, "Service Unavailable: Compress requires Content-length header");
    return req;
  }

  private pushBody(data: Buffer): ReaderState {
    const req = this.req!;
    const want = req.contentLength ?? this.maxBody + 1;
    const take = Math.min(data.length, want - this.bodyBytes);
    if (take > 0) {
      if (req.contentLength === undefined && this.bodyBytes + take > this.maxBody) {
        throw new SpamdError(EX.DATAERR, `Message too big: more than ${this.maxBody} bytes (max_file_size)`);
      }
      if (!this.charge(take)) throw new SpamdError(EX.TEMPFAIL, "Temporary failure: too many messages are being received at once; try again later");
      // a copy: the socket's read buffers are not kept alive by a slice
      this.body.push(Buffer.from(data.subarray(0, take)));
      this.bodyBytes += take;
    }
    if (req.contentLength !== undefined && this.bodyBytes === req.contentLength) return this.finish();
    return { kind: "more" };
  }

  private finish(): ReaderState {
    const req = this.req!;
    this.done = true;
    let body = Buffer.concat(this.body, this.bodyBytes);
    this.body = [];
    if (req.compress === "zlib") {
      try {
        // maxOutputLength bounds the inflation: a small bomb cannot expand past max_file_size
        body = zlib.inflateSync(body, { maxOutputLength: this.maxBody });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "ERR_BUFFER_TOO_LARGE") throw new SpamdError(EX.DATAERR, `Message too big: inflates to more than ${this.maxBody} bytes (max_file_size)`);
        throw badHeader(`(zlib: ${quoteLine(err.message)})`);
      }
    }
    req.body = body;
    return { kind: "request", request: req };
  }
}
