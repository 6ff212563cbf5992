/**
 * parseMail: one raw mail to the ParsedMail that the spam tokenizer and rules read (SPEC §6).
 * Headers unfolded and decoded (RFC 5322, RFC 2047), the MIME tree walked (RFC 2046:
 * multiparts, nested, message/rfc822 parsed as parts), bodies decoded from base64 /
 * quoted-printable and their charset, HTML reduced to visible text, URIs and attachments
 * listed. The raw bytes are viewed once as a latin1 string, so a string index is a byte
 * index and every search is an indexOf; decoding reads the Buffer directly.
 *
 * Never throws and never runs unbounded: every amplifying step stops at a named limit below
 * and sets `truncated`. Malformed structure is read the way mail clients read it (a missing
 * boundary makes the body text, a missing close delimiter ends the part at the end).
 */
import { decodeBase64 } from "../unpack/base64.js";
import { cleanAttachmentName, parseHeaderValue } from "../unpack/mime-params.js";
import { decodeQuotedPrintable } from "../unpack/qp.js";
import { htmlToText } from "./html-text.js";
import { decodeHeaderValue, decodeText } from "./text-decode.js";
import type { MailHeader, ParsedMail } from "./types.js";
import { findTextUris } from "./uris.js";

/** MIME entities (containers and leaves) visited per mail. Real mail has fewer than 20
 *  (ham with signatures and forwards rarely passes 10); each costs a header parse and a
 *  boundary scan, so 100 keeps a nested-part bomb's cost near that of a normal mail. */
export const MAX_PARTS = 100;
/** Nesting depth of multiparts and attached messages. Forward-of-a-forward-in-a-digest is
 *  about 6 deep; every level rescans its body for its boundary, so depth multiplies work. */
export const MAX_DEPTH = 20;
/** Decoded text (plain + HTML, before tag removal) kept per mail. The corpus mean is 5.4 KB
 *  and p95 16 KB; what decides a statistical verdict is in the first pages, and the
 *  tokenizer caps features anyway, while decoding and charset conversion cost time per
 *  byte: 256 KiB keeps a mail's parse within about a millisecond on one core. */
export const MAX_TEXT_BYTES = 256 * 1024;
/** Header fields kept per header block. Long Received chains of list mail reach ~40; a
 *  million-header bomb must not become a million objects. */
export const MAX_HEADER_FIELDS = 500;
/** Bytes of one header field's value kept. The longest real ones (References, long
 *  Received, DKIM-Signature) stay under 8 KiB; a 10 MB header line must not be decoded. */
export const MAX_HEADER_FIELD_BYTES = 16 * 1024;
/** Distinct URIs kept. Newsletters carry up to ~100 links; the URI rules and tokens gain
 *  nothing from more, and each may cost a DNS query in the URI blocklist checks. */
export const MAX_URIS = 200;

interface Walk {
  mail: ParsedMail;
  parts: number;
  textBudget: number;
  uriSet: Set<string>;
}

interface Entity {
  /** latin1 view of `buf` (index = byte offset) */
  s: string;
  buf: Buffer;
}

/** Parse one raw mail. Never throws. */
export function parseMail(raw: Buffer): ParsedMail {
  const mail = emptyMail(raw.length);
  try {
    parseInto(mail, raw);
  } catch {
    // a bug on some unforeseen input must not cost the verdict: keep what was parsed
    mail.truncated = true;
  }
  return mail;
}

/** parseMail without the safety net, so tests see any exception the parser would swallow. */
export function parseMailStrict(raw: Buffer): ParsedMail {
  const mail = emptyMail(raw.length);
  parseInto(mail, raw);
  return mail;
}

function emptyMail(size: number): ParsedMail {
  return {
    headers: [], subject: "", textParts: [], htmlParts: [], htmlText: [], uris: [], attachments: [], size, truncated: false,
  };
}

function parseInto(mail: ParsedMail, raw: Buffer): void {
  const walk: Walk = { mail, parts: 0, textBudget: MAX_TEXT_BYTES, uriSet: new Set() };
  const s = raw.toString("latin1");
  // an mbox "From " separator line is not a header field
  const start = s.startsWith("From ") ? lineEnd(s, 0, s.length) : 0;
  parseEntity(walk, { s, buf: raw }, start, s.length, 0, "text/plain", true);
  const sink = (u: string) => addUri(walk, u);
  for (const t of mail.textParts) findTextUris(t, sink);
  for (const t of mail.htmlText) findTextUris(t, sink);
}

function addUri(walk: Walk, uri: string): boolean {
  if (walk.uriSet.size >= MAX_URIS) {
    walk.mail.truncated = true;
    return false;
  }
  if (!walk.uriSet.has(uri)) {
    walk.uriSet.add(uri);
    walk.mail.uris.push(uri);
  }
  return true;
}

/** Position after the line end at or after pos (or `end`). */
function lineEnd(s: string, pos: number, end: number): number {
  const lf = s.indexOf("\n", pos);
  return lf < 0 || lf >= end ? end : lf + 1;
}

interface RawField {
  name: string;
  /** unfolded, not decoded, trimmed */
  raw: string;
}

/** Read the header block at [pos, end): its fields and where the body starts. */
function readHeaders(walk: Walk, s: string, pos: number, end: number): { fields: RawField[]; body: number } {
  const fields: RawField[] = [];
  let fieldStart = -1;
  let colon = -1;
  const close = (fieldEnd: number) => {
    if (fieldStart < 0) return;
    if (fields.length >= MAX_HEADER_FIELDS) {
      walk.mail.truncated = true;
    } else {
      let valueEnd = fieldEnd;
      if (valueEnd - colon > MAX_HEADER_FIELD_BYTES) {
        valueEnd = colon + 1 + MAX_HEADER_FIELD_BYTES;
        walk.mail.truncated = true;
      }
      const name = s.slice(fieldStart, colon).trim();
      const raw = s.slice(colon + 1, valueEnd).replace(/\r?\n/g, "").trim();
      fields.push({ name, raw });
    }
    fieldStart = -1;
  };
  while (pos < end) {
    const c = s.charCodeAt(pos);
    if (c === 0x0a || (c === 0x0d && s.charCodeAt(pos + 1) === 0x0a)) {
      close(pos);
      return { fields, body: Math.min(end, pos + (c === 0x0a ? 1 : 2)) };
    }
    const next = lineEnd(s, pos, end);
    if (c === 0x20 || c === 0x09) {
      pos = next; // continuation: the open field (if any) grows
      continue;
    }
    close(pos);
    const col = s.indexOf(":", pos);
    if (col >= 0 && col < next && col > pos) {
      fieldStart = pos;
      colon = col;
    }
    // a line with no colon is not a field: skipped, as clients do
    pos = next;
  }
  close(end);
  return { fields, body: end };
}

function paramOf(params: Map<string, string[]>, name: string): string {
  return params.get(name)?.[0] ?? "";
}

/** Parse the entity at [start, end) of `e`: headers, then its body by content type. */
function parseEntity(walk: Walk, e: Entity, start: number, end: number, depth: number, defaultType: string, top: boolean): void {
  const { mail } = walk;
  if (++walk.parts > MAX_PARTS || depth > MAX_DEPTH) {
    mail.truncated = true;
    return;
  }
  const { fields, body } = readHeaders(walk, e.s, start, end);
  let ctype = "";
  let cte = "";
  let disposition = "";
  for (const f of fields) {
    const l = f.name.toLowerCase();
    if (top) mail.headers.push(header(f, l));
    if (l === "content-type" && ctype === "") ctype = f.raw;
    else if (l === "content-transfer-encoding" && cte === "") cte = f.raw.toLowerCase();
    else if (l === "content-disposition" && disposition === "") disposition = f.raw;
    else if (l === "subject" && !top) {
      pushText(walk, decodeHeaderValue(f.raw)); // an attached message's subject is its text too
    }
  }
  if (top) mail.subject = mail.headers.find((h) => h.lname === "subject")?.value ?? "";
  const ct = parseHeaderValue(ctype);
  let type = ct.value.includes("/") ? ct.value : defaultType;
  if (type.startsWith("multipart/")) {
    const boundary = paramOf(ct.params, "boundary");
    if (boundary !== "" && parseMultipart(walk, e, body, end, depth, boundary, type === "multipart/digest" ? "message/rfc822" : "text/plain")) return;
    type = "text/plain"; // no boundary, or it never occurs: clients show the body as text
  }
  if (type === "message/rfc822" || type === "message/global") {
    if (cte.startsWith("base64") || cte.startsWith("quoted-printable")) {
      // rare (RFC 2046 forbids it) but seen: decode to a buffer of its own and parse that
      const inner = decodeBody(e.buf, body, end, cte, Infinity);
      parseEntity(walk, { s: inner.toString("latin1"), buf: inner }, 0, inner.length, depth + 1, "text/plain", false);
    } else {
      parseEntity(walk, e, body, end, depth + 1, "text/plain", false);
    }
    return;
  }
  const filename = cleanAttachmentName(paramOf(parseHeaderValue(disposition).params, "filename") || paramOf(ct.params, "name"));
  const isText = type === "text/plain" || type === "text/html" || type === "text/enriched";
  if (!isText || (filename !== "" && disposition.toLowerCase().startsWith("attachment") && type !== "text/html")) {
    mail.attachments.push({ contentType: type, filename, size: encodedSize(end - body, cte) });
    return;
  }
  if (walk.textBudget <= 0) {
    mail.truncated = true;
    return;
  }
  const bytes = decodeBody(e.buf, body, end, cte, walk.textBudget);
  const text = decodeText(bytes.subarray(0, walk.textBudget), paramOf(ct.params, "charset"));
  if (bytes.length > walk.textBudget) mail.truncated = true;
  walk.textBudget -= bytes.length;
  if (type === "text/html" || (type === "text/plain" && ctype === "" && looksLikeHtml(text))) {
    mail.htmlParts.push(text);
    mail.htmlText.push(htmlToText(text, (u) => addUri(walk, u)));
  } else {
    mail.textParts.push(text);
  }
}

function pushText(walk: Walk, text: string): void {
  if (text !== "") walk.mail.textParts.push(text);
}

function header(f: RawField, lname: string): MailHeader {
  return { name: f.name, lname, value: decodeHeaderValue(f.raw), raw: f.raw };
}

/** A body with no Content-Type that starts like an HTML document is rendered as HTML by
 *  many clients; spam relies on that. */
function looksLikeHtml(text: string): boolean {
  const head = text.slice(0, 256).trimStart().slice(0, 9).toLowerCase();
  return head.startsWith("<html") || head.startsWith("<!doctype") || head.startsWith("<body") || head.startsWith("<head");
}

/** Decoded size of an attachment without decoding it: base64 lines are 76 chars + CRLF for
 *  57 bytes. Only reported, so an estimate is enough. */
function encodedSize(len: number, cte: string): number {
  return cte.startsWith("base64") ? Math.floor((len * 57) / 78) : len;
}

/** The body bytes [start, end) decoded from their transfer encoding, at most about `max`
 *  bytes (one more than max when there was more, so the caller can tell). */
function decodeBody(buf: Buffer, start: number, end: number, cte: string, max: number): Buffer {
  if (cte.startsWith("base64")) {
    const cap = Number.isFinite(max) ? max + 1 : Math.ceil(((end - start) * 3) / 4) + 3;
    return decodeBase64(buf, start, end, cap).data;
  }
  if (cte.startsWith("quoted-printable")) {
    // QP output is at least a third of its input: 3*max+3 input bytes give more than max
    const qpEnd = Number.isFinite(max) ? Math.min(end, start + 3 * max + 3) : end;
    return decodeQuotedPrintable(buf, start, qpEnd);
  }
  return Number.isFinite(max) && end - start > max ? buf.subarray(start, start + max + 1) : buf.subarray(start, end);
}

/** Walk the parts of a multipart body [start, end). False when the boundary never occurs. */
function parseMultipart(walk: Walk, e: Entity, start: number, end: number, depth: number, boundary: string, partType: string): boolean {
  const { s } = e;
  const delim = "--" + boundary;
  let at = findDelimiter(s, delim, start, end);
  if (at < 0) return false;
  while (at >= 0) {
    const afterDelim = at + delim.length;
    if (s.startsWith("--", afterDelim)) return true; // close delimiter: the epilogue is ignored
    const partStart = lineEnd(s, afterDelim, end);
    const nextAt = findDelimiter(s, delim, partStart, end);
    let partEnd = nextAt < 0 ? end : nextAt;
    // the line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1)
    if (nextAt >= 0 && partEnd > partStart && s.charCodeAt(partEnd - 1) === 0x0a) partEnd--;
    if (nextAt >= 0 && partEnd > partStart && s.charCodeAt(partEnd - 1) === 0x0d) partEnd--;
    parseEntity(walk, e, partStart, Math.max(partStart, partEnd), depth + 1, partType, false);
    if (walk.parts > MAX_PARTS) {
      walk.mail.truncated = true;
      return true;
    }
    at = nextAt;
  }
  return true;
}

/** Next `delim` at a line start in [pos, end), else -1. */
function findDelimiter(s: string, delim: string, pos: number, end: number): number {
  let at = s.indexOf(delim, pos);
  while (at >= 0 && at + delim.length <= end) {
    if ((at === 0 || s.charCodeAt(at - 1) === 0x0a) && endsDelimiter(s, at + delim.length, end)) return at;
    at = s.indexOf(delim, at + 1);
  }
  return -1;
}

/** A boundary ends at the line end, white space or "--" (so "--b1" does not match "--b10"). */
function endsDelimiter(s: string, pos: number, end: number): boolean {
  if (pos >= end) return true;
  const c = s.charCodeAt(pos);
  return c === 0x0d || c === 0x0a || c === 0x20 || c === 0x09 || (c === 0x2d && s.charCodeAt(pos + 1) === 0x2d);
}
