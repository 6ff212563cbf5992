/**
 * RFC 822 / MIME mail: detection and unpacking into the decoded body of every leaf part.
 *
 * One pass over the bytes, no per-byte JS loop on the hot path: the parser keeps a stack of
 * open multiparts and looks for the next line starting with "--" (Buffer.indexOf; '-' never
 * occurs in base64, so a big attachment is skipped at memchr speed), then checks it against
 * the open boundaries, innermost first. Each leaf body is decoded (base64.ts, qp.ts) and
 * yielded at once. Because nesting is a stack and not recursion, depth costs no JS stack,
 * and maxMimeDepth / maxMimeParts stop bombs after a bounded amount of work.
 *
 * A message/rfc822 part is yielded raw (decoded from its transfer encoding): the
 * orchestrator recognises it as mail and recurses, counting depth. Text parts are yielded
 * too and searched for uuencoded and BinHex blocks, which become extra children. mbox
 * splitting lives in mbox.ts and is re-exported here.
 */
import { LimitExceeded } from "../limits.js";
import { asBuffer, decodeBase64, throwOverflow } from "./base64.js";
import { binhexBlocks } from "./binhex.js";
import { headerColon, lineEndOf, readHeaderBlock, type HeaderLimit } from "./mime-headers.js";
import { cleanAttachmentName, parseHeaderValue } from "./mime-params.js";
import { decodeQuotedPrintable } from "./qp.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";
import { uudecodeBlocks } from "./uuencode.js";

export { looksLikeMbox, unpackMbox } from "./mbox.js";

/** Header names that make a block of `Name: value` lines mail rather than any text. */
const MAIL_HEADER_NAMES = new Set([
  "from", "to", "subject", "date", "received", "return-path", "message-id", "mime-version", "content-type",
]);

/** looksLikeMail reads at most this many header lines / bytes: real mail shows one of the
 *  names above within a few lines; long Received chains come first but are themselves one. */
const SNIFF_LINES = 64;
const SNIFF_BYTES = 16 * 1024;

/** Delimiter candidates examined between two time checks (each costs two indexOf calls). */
const CANDIDATES_PER_TIME_CHECK = 4096;

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const SP = 0x20;
const TAB = 0x09;

/** Offset after an mbox "From " envelope line at pos, or pos if there is none. */
function skipEnvelopeLine(buf: Buffer, pos: number): number {
  if (buf.toString("latin1", pos, pos + 5) !== "From ") return pos;
  return Math.min(buf.length, lineEndOf(buf, pos, buf.length) + 1);
}

export function looksLikeMail(data: Uint8Array): boolean {
  const buf = asBuffer(data);
  const end = Math.min(buf.length, SNIFF_BYTES);
  let pos = skipEnvelopeLine(buf, 0);
  for (let line = 0; line < SNIFF_LINES && pos < end; line++) {
    const c = buf[pos];
    if (c === LF || c === CR) return false; // blank line: the header block ended without one
    const lineEnd = lineEndOf(buf, pos, end);
    if (c === SP || c === TAB) {
      if (line === 0) return false;
    } else {
      const colon = headerColon(buf, pos, lineEnd);
      if (colon === -1) return false;
      if (MAIL_HEADER_NAMES.has(buf.toString("latin1", pos, colon).trimEnd().toLowerCase())) return true;
    }
    pos = lineEnd + 1;
  }
  return false;
}

/** An open multipart: the boundaries that delimit its parts. */
interface Frame {
  boundaries: Buffer[];
  /** multipart/digest: parts without Content-Type default to message/rfc822 (RFC 2046 5.1.5) */
  digest: boolean;
}

interface Delimiter {
  /** index in the frame stack of the multipart it belongs to */
  frame: number;
  close: boolean;
  /** end of the content before it (its preceding line break belongs to the delimiter) */
  contentEnd: number;
  /** start of the line after it */
  next: number;
}

/** What the headers say about one entity. */
interface Entity {
  type: string;
  boundaries: Buffer[];
  encoding: string;
  filename: string;
}

function describeEntity(fields: Map<string, string>, defaultType: string, ctx: UnpackCtx): Entity {
  const ct = parseHeaderValue(fields.get("content-type") ?? "");
  const cd = parseHeaderValue(fields.get("content-disposition") ?? "");
  if (ct.tooManyParams || cd.tooManyParams) ctx.heuristic("Heuristics.Limits.Exceeded.EmailMIMEArguments");
  const type = ct.value.includes("/") ? ct.value : defaultType;
  // some malformed mail puts the boundary in Content-Disposition; several boundaries are
  // all tried (a client may use any of them)
  const boundaries = [...(ct.params.get("boundary") ?? []), ...(cd.params.get("boundary") ?? [])]
    .filter((b) => b.length > 0)
    .map((b) => Buffer.from(b, /^[\0-\xff]*$/.test(b) ? "latin1" : "utf8"));
  const encoding = /^[^\s;(]*/.exec((fields.get("content-transfer-encoding") ?? "").trim())![0].toLowerCase();
  const filename = cleanAttachmentName(cd.params.get("filename")?.[0] ?? ct.params.get("name")?.[0] ?? "");
  return { type, boundaries, encoding, filename };
}

/** If a line starting at `cand` ("--" at a line start) is a delimiter of an open frame. */
function matchDelimiter(buf: Buffer, cand: number, from: number, frames: Frame[]): Delimiter | null {
  const len = buf.length;
  const s = cand + 2;
  for (let f = frames.length - 1; f >= 0; f--) {
    for (const b of frames[f].boundaries) {
      if (s + b.length > len || buf[s] !== b[0] || buf.compare(b, 0, b.length, s, s + b.length) !== 0) continue;
      let q = s + b.length;
      const close = q + 1 < len && buf[q] === DASH && buf[q + 1] === DASH;
      if (!close) {
        // only transport padding may follow, so "--ab" is not a delimiter of boundary "a"
        while (q < len && (buf[q] === SP || buf[q] === TAB)) q++;
        if (q < len && buf[q] !== LF && buf[q] !== CR) continue;
      }
      const contentEnd = cand === from ? from : cand - 2 >= from && buf[cand - 2] === CR ? cand - 2 : cand - 1;
      return { frame: f, close, contentEnd, next: Math.min(len, lineEndOf(buf, q, len) + 1) };
    }
  }
  return null;
}

/** The next delimiter of any open frame at or after `from` (a line start), or null. */
function findDelimiter(buf: Buffer, from: number, frames: Frame[], ctx: UnpackCtx): Delimiter | null {
  if (frames.length === 0) return null;
  let p = from;
  for (let n = 1; ; n++) {
    if (n % CANDIDATES_PER_TIME_CHECK === 0) ctx.checkTime();
    const cand = buf.indexOf("--", p);
    if (cand === -1) return null;
    if (cand === from || buf[cand - 1] === LF) {
      const d = matchDelimiter(buf, cand, from, frames);
      if (d) return d;
    }
    const lf = buf.indexOf(LF, cand); // only line starts matter: skip the rest of this line
    if (lf === -1) return null;
    p = lf + 1;
  }
}

/** Synthetic child name when the part has no file name. */
function partName(n: number, type: string): string {
  if (type === "text/html") return `part-${n}.html`;
  if (type.startsWith("text/")) return `part-${n}.txt`;
  if (type === "message/rfc822") return `part-${n}.eml`;
  return `part-${n}`;
}

function isUuencoding(encoding: string): boolean {
  return encoding === "x-uuencode" || encoding === "uuencode" || encoding === "x-uue" || encoding === "x-uu";
}

/** Decode body buf[start, end) per its Content-Transfer-Encoding and charge it. */
function decodeBody(buf: Buffer, start: number, end: number, encoding: string, ctx: UnpackCtx): Uint8Array {
  let body: Uint8Array;
  if (encoding === "base64") {
    const room = ctx.room();
    const r = decodeBase64(buf, start, end, room, ctx.alloc?.bind(ctx));
    if (r.overflow) throwOverflow(ctx, room);
    body = r.data;
  } else if (encoding === "quoted-printable") {
    body = decodeQuotedPrintable(buf, start, end); // never longer than its input
  } else {
    body = buf.subarray(start, end); // 7bit, 8bit, binary, unknown: the bytes as they are
  }
  ctx.charge(body.length);
  return body;
}

/** Walks one message; `leaves` numbers the synthetic part names. */
class MailWalker {
  private leaves = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly ctx: UnpackCtx,
  ) {}

  private readonly onHeaderLimit = (limit: HeaderLimit) =>
    this.ctx.heuristic(`Heuristics.Limits.Exceeded.${limit}`);

  *walk(): Generator<Child> {
    const { buf, ctx } = this;
    const frames: Frame[] = [];
    let parts = 0;
    let entityStart = skipEnvelopeLine(buf, 0);
    for (;;) {
      ctx.checkTime();
      const header = readHeaderBlock(buf, entityStart, buf.length, this.onHeaderLimit);
      const parentDigest = frames.length > 0 && frames[frames.length - 1].digest;
      const entity = describeEntity(header.fields, parentDigest ? "message/rfc822" : "text/plain", ctx);
      let d: Delimiter | null;
      if (entity.type.startsWith("multipart/") && entity.boundaries.length > 0) {
        if (frames.length >= ctx.limits.maxMimeDepth) {
          throw new LimitExceeded("EmailMIMEDepth", `more than ${ctx.limits.maxMimeDepth} nested multiparts`);
        }
        frames.push({ boundaries: entity.boundaries, digest: entity.type === "multipart/digest" });
        d = findDelimiter(buf, header.bodyStart, frames, ctx);
        const preambleEnd = d ? d.contentEnd : buf.length;
        if (!d || d.frame < frames.length - 1) {
          // its own boundary never occurs: keep the body as one part so nothing is lost
          yield* this.leaf(header.bodyStart, preambleEnd, { ...entity, type: "application/octet-stream" });
        } else {
          yield* this.embedded(buf.subarray(header.bodyStart, preambleEnd), "preamble");
        }
      } else {
        d = findDelimiter(buf, header.bodyStart, frames, ctx);
        yield* this.leaf(header.bodyStart, d ? d.contentEnd : buf.length, entity);
      }
      // step over close delimiters to the next part, if any
      for (;;) {
        if (!d) return; // end of message; a missing final boundary just ends the last part
        frames.length = d.frame + 1; // a delimiter of an outer multipart closes the inner ones
        if (!d.close) break;
        ctx.checkTime(); // a run of close lines does no other work per line
        // after a close, the same boundary may open more parts (a premature close some
        // clients read past); else the epilogue runs to the next outer delimiter
        const after = findDelimiter(buf, d.next, frames, ctx);
        if (after && after.frame === d.frame) {
          d = after;
          continue;
        }
        frames.pop();
        if (frames.length === 0) return; // the epilogue of the outermost multipart is ignored
        d = after;
      }
      if (++parts > ctx.limits.maxMimeParts) {
        throw new LimitExceeded("EmailMIMEPartsPerMessage", `more than ${ctx.limits.maxMimeParts} MIME parts`);
      }
      entityStart = d.next;
    }
  }

  /** One leaf part: its decoded body, then anything embedded in it if it is text. */
  private *leaf(start: number, end: number, entity: Entity): Generator<Child> {
    if (end <= start) return;
    const { buf, ctx } = this;
    if (isUuencoding(entity.encoding)) {
      let found = false;
      for (const child of uudecodeBlocks(buf, ctx, () => entity.filename || `part-${this.leaves + 1}`, start, end)) {
        found = true;
        this.leaves++;
        yield child;
      }
      if (found) return;
    }
    const body = decodeBody(buf, start, end, entity.encoding, ctx);
    if (body.length === 0) return;
    const n = ++this.leaves;
    const name = entity.filename || partName(n, entity.type);
    yield { name, data: body };
    if (entity.type.startsWith("text/")) yield* this.embedded(body, name);
  }

  /** uuencoded and BinHex blocks inside text. */
  private *embedded(text: Uint8Array, owner: string): Generator<Child> {
    if (text.length === 0) return;
    yield* uudecodeBlocks(text, this.ctx, (k) => `${owner}.uu-${k}`);
    yield* binhexBlocks(text, this.ctx, (k) => `${owner}.hqx-${k}`);
  }
}

/** True when the first line break is a bare CR (old Mac mail): such mail is converted. */
function isCrOnly(buf: Buffer): boolean {
  const cr = buf.indexOf(CR);
  if (cr === -1 || buf[cr + 1] === LF) return false;
  const lf = buf.indexOf(LF);
  return lf === -1 || cr < lf;
}

/** A copy with every bare CR turned into LF (CRLF pairs, if the mail mixes both, stay). */
function crToLf(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  for (let i = out.indexOf(CR); i !== -1; i = out.indexOf(CR, i + 1)) {
    if (out[i + 1] !== LF) out[i] = LF;
  }
  return out;
}

/** Every leaf part of one message, decoded; see the file comment. */
export const unpackMail: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx) {
  let buf = asBuffer(data);
  if (isCrOnly(buf)) buf = crToLf(buf);
  yield* new MailWalker(buf, ctx).walk();
};
