/**
 * The MIME structure of one message as byte offsets into the ORIGINAL bytes, for the two
 * modules that rewrite mail (clean.ts, footnote.ts): each keeps every byte it does not
 * change, so it needs to know exactly where each entity, body and delimiter lies.
 *
 * The unpacker (host/unpack/mime.ts) decodes parts for scanning and forgets where they were;
 * this parser reuses its header reading (mime-headers.ts, mime-params.ts) and finds each
 * multipart's delimiters top-down inside the multipart's own byte range, so a broken inner
 * multipart cannot swallow its parent's parts. Pure: no I/O, never throws on bad input;
 * what it could not make sense of is listed in `problems`.
 *
 * Bounds: MAX_MIME_NESTING levels and MAX_MIME_NODES entities. Each level searches its own
 * range for its boundary once, so work is at most MAX_MIME_NESTING passes over the bytes.
 */
import { readHeaderBlock, lineEndOf } from "../unpack/mime-headers.js";
import { cleanAttachmentName, parseHeaderValue } from "../unpack/mime-params.js";

/** Deepest nesting of multiparts and message/rfc822 parts followed. Real mail nests a few
 *  levels (mixed > alternative > related, plus a few per forwarded message); 32 is far above
 *  that, and since every level re-searches its byte range for its boundary it bounds the work
 *  to 32 passes over the message. A deeper entity is kept whole, as one opaque leaf. */
export const MAX_MIME_NESTING = 32;

/** Most entities (parts at any level) in one message. The engine stops at 1024 parts
 *  (DEFAULT_LIMITS.maxMimeParts, ClamAV's HEURISTIC_EMAIL_MAX_MIME_PARTS_PER_MESSAGE), so a
 *  message with more is "not scanned" anyway; past it the rest is kept as it is, unexamined. */
export const MAX_MIME_NODES = 1024;

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const SP = 0x20;
const TAB = 0x09;

export interface MimeNode {
  /** IMAP-style part number: "" for the message itself, "2", "2.1" ... */
  path: string;
  /** first byte of the entity (its header block) */
  start: number;
  /** first byte of the body (after the blank line) */
  bodyStart: number;
  /** end of the entity (exclusive): the line break before the next delimiter is not in it */
  end: number;
  /** lowercased "type/subtype"; the RFC 2045/2046 default when absent or invalid */
  type: string;
  /** true when the entity has its own valid Content-Type field */
  typeGiven: boolean;
  /** Content-Type parameters, lowercase names (see parseHeaderValue) */
  params: Map<string, string[]>;
  /** lowercased Content-Transfer-Encoding token, "" when absent */
  encoding: string;
  /** lowercased Content-Disposition value ("attachment", "inline"), "" when absent */
  disposition: string;
  /** file name from Content-Disposition filename= or Content-Type name=, cleaned for display */
  filename: string;
  /** multipart: its parts in order; message/rfc822 (not encoded): the one embedded message */
  children: MimeNode[];
  kind: "leaf" | "multipart" | "message";
  /** multipart: the boundary bytes (without the leading "--") */
  boundary?: Buffer;
  /** multipart: offset of the line break before the close delimiter (a new last part goes
   *  here), or -1 when the close delimiter is missing */
  closeAt: number;
}

export interface MimeStructure {
  root: MimeNode;
  /** what was not understood or not followed (limits, missing delimiters); [] for clean MIME */
  problems: string[];
  /** the line ending the message uses (from its first line break) */
  eol: "\r\n" | "\n";
}

/** The line ending style of a message: that of its first line break (CRLF when none). */
export function eolOf(buf: Buffer): "\r\n" | "\n" {
  const lf = buf.indexOf(LF);
  return lf > 0 && buf[lf - 1] === CR ? "\r\n" : lf === -1 ? "\r\n" : "\n";
}

interface Delimiter {
  /** where the content before it ends (its preceding line break belongs to the delimiter) */
  contentEnd: number;
  close: boolean;
  /** start of the line after the delimiter line */
  next: number;
}

/** The next "--boundary" line of this multipart in [from, end), or null. */
function nextDelimiter(buf: Buffer, from: number, end: number, boundary: Buffer): Delimiter | null {
  let p = from;
  while (p < end) {
    const cand = buf.indexOf("--", p);
    if (cand === -1 || cand >= end) return null;
    if (cand === from || buf[cand - 1] === LF) {
      const s = cand + 2;
      if (s + boundary.length <= end && buf.compare(boundary, 0, boundary.length, s, s + boundary.length) === 0) {
        let q = s + boundary.length;
        const close = q + 1 < end && buf[q] === DASH && buf[q + 1] === DASH;
        if (close) q += 2;
        // only transport padding may follow, so "--ab" is not a delimiter of boundary "a"
        while (q < end && (buf[q] === SP || buf[q] === TAB)) q++;
        if (close || q >= end || buf[q] === LF || buf[q] === CR) {
          const contentEnd = cand === from ? from : cand - 2 >= from && buf[cand - 2] === CR ? cand - 2 : cand - 1;
          return { contentEnd, close, next: Math.min(end, lineEndOf(buf, q, end) + 1) };
        }
      }
    }
    const lf = buf.indexOf(LF, cand);
    if (lf === -1) return null;
    p = lf + 1;
  }
  return null;
}

/** Whether a header block that runs to `end` was still ended properly: by a blank line, or,
 *  for a part, by a line break that the following delimiter's line break makes a blank line. */
function headerBlockEnds(buf: Buffer, start: number, end: number, isPart: boolean): boolean {
  if (end <= start || buf[end - 1] !== LF) return false;
  if (isPart) return true;
  const before = end >= 2 && buf[end - 2] === CR ? end - 2 : end - 1;
  return before > start && buf[before - 1] === LF;
}

class StructureParser {
  readonly problems: string[] = [];
  private nodes = 0;

  constructor(private readonly buf: Buffer) {}

  private problem(p: string): void {
    if (!this.problems.includes(p)) this.problems.push(p);
  }

  /** True while another entity may be created. */
  take(): boolean {
    if (this.nodes >= MAX_MIME_NODES) {
      this.problem(`more than ${MAX_MIME_NODES} MIME parts; the rest were not examined`);
      return false;
    }
    this.nodes++;
    return true;
  }

  /** Parse the entity [start, end); `headerStart` skips an mbox envelope line at the root. */
  entity(path: string, start: number, headerStart: number, end: number, depth: number, defaultType: string): MimeNode {
    const { buf } = this;
    const header = readHeaderBlock(buf, headerStart, end, (limit) => this.problem(`header limit ${limit}`));
    if (header.hasHeaders && header.bodyStart >= end && !headerBlockEnds(buf, start, end, path !== "")) {
      this.problem(`header block without the blank line that ends it (part "${path}")`);
    }
    const ct = parseHeaderValue(header.fields.get("content-type") ?? "");
    const cd = parseHeaderValue(header.fields.get("content-disposition") ?? "");
    // the engine's rule (host/unpack/mime.ts describeEntity), so both read the same structure
    const typeGiven = ct.value.includes("/");
    const node: MimeNode = {
      path,
      start,
      bodyStart: header.bodyStart,
      end,
      type: typeGiven ? ct.value : defaultType,
      typeGiven,
      params: typeGiven ? ct.params : new Map(),
      encoding: /^[^\s;(]*/.exec((header.fields.get("content-transfer-encoding") ?? "").trim())![0].toLowerCase(),
      disposition: cd.value,
      filename: cleanAttachmentName(cd.params.get("filename")?.[0] ?? ct.params.get("name")?.[0] ?? ""),
      children: [],
      kind: "leaf",
      closeAt: -1,
    };
    const isMultipart = node.type.startsWith("multipart/");
    const isMessage = node.type === "message/rfc822" && ["", "7bit", "8bit", "binary"].includes(node.encoding);
    if ((isMultipart || isMessage) && depth >= MAX_MIME_NESTING) {
      this.problem(`MIME nesting deeper than ${MAX_MIME_NESTING}; the inner entity was kept whole`);
      return node;
    }
    if (isMultipart) this.multipart(node, depth);
    else if (isMessage && this.take()) {
      node.kind = "message";
      // IMAP numbering: the parts of a forwarded message are numbered under the message part
      node.children.push(this.entity(path, node.bodyStart, node.bodyStart, end, depth + 1, "text/plain"));
    }
    return node;
  }

  private multipart(node: MimeNode, depth: number): void {
    const { buf } = this;
    const raw = node.params.get("boundary")?.[0] ?? "";
    if (raw.length === 0) {
      this.problem(`${node.type} without a boundary (part "${node.path}")`);
      return;
    }
    const boundary = Buffer.from(raw, /^[\0-\xff]*$/.test(raw) ? "latin1" : "utf8");
    let d = nextDelimiter(buf, node.bodyStart, node.end, boundary);
    if (!d || d.close) {
      this.problem(`${node.type} whose boundary never opens a part (part "${node.path}")`);
      return;
    }
    node.kind = "multipart";
    node.boundary = boundary;
    const childType = node.type === "multipart/digest" ? "message/rfc822" : "text/plain";
    for (let n = 1; d && !d.close; n++) {
      const partStart = d.next;
      const after = nextDelimiter(buf, partStart, node.end, boundary);
      if (!this.take()) return;
      const partEnd = after ? after.contentEnd : node.end;
      const path = node.path ? `${node.path}.${n}` : String(n);
      node.children.push(this.entity(path, partStart, partStart, Math.max(partStart, partEnd), depth + 1, childType));
      if (!after) this.problem(`${node.type} without its closing boundary (part "${node.path}")`);
      else if (after.close) node.closeAt = after.contentEnd;
      d = after;
    }
  }
}

/** Parse a message's MIME structure. */
export function parseMimeStructure(buf: Buffer): MimeStructure {
  const parser = new StructureParser(buf);
  parser.take();
  // an mbox "From " envelope line is not a header field; the entity still starts at 0
  const headerStart = buf.toString("latin1", 0, 5) === "From " ? Math.min(buf.length, lineEndOf(buf, 0, buf.length) + 1) : 0;
  const root = parser.entity("", 0, headerStart, buf.length, 0, "text/plain");
  return { root, problems: parser.problems, eol: eolOf(buf) };
}

/** The leaves a cleaner looks at: each leaf, and each message/rfc822 part whose message is
 *  not itself multipart (the whole forwarded message is then the unit to keep or remove). */
export function cleanableLeaves(node: MimeNode, out: MimeNode[] = []): MimeNode[] {
  if (node.kind === "multipart") {
    for (const c of node.children) cleanableLeaves(c, out);
  } else if (node.kind === "message" && node.children[0]?.kind === "multipart") {
    cleanableLeaves(node.children[0], out);
  } else {
    out.push(node);
  }
  return out;
}
