/**
 * The body footnote (av_footnote_enabled, av_footnote_text): a short text added to the visible
 * body of a scanned mail without breaking its MIME structure.
 *
 * Pure: bytes in, bytes out, never throws. Where the footnote goes:
 * - single-part text/plain in 7bit, 8bit, binary or quoted-printable: appended at the end
 *   (quoted-printable-encoded for quoted-printable); in base64: the body is decoded, the text
 *   appended and the body re-encoded;
 * - single-part text/html: inserted before the last `</body>` when there is one, else
 *   appended, HTML-escaped (quoted-printable and base64 bodies are decoded and re-encoded);
 * - multipart/mixed: a new text/plain part before the closing delimiter;
 * - multipart/alternative: appended to each text/plain and text/html alternative (and to the
 *   root part of a multipart/related alternative, the usual shape of HTML with images);
 * - multipart/related: appended to its root (first) part when that is HTML or alternative;
 * - anything else — multipart/signed and encrypted, application/pkcs7-mime (a footnote would
 *   break the signature), other types, a text part in a charset that is not ASCII-compatible,
 *   a structure that could not be parsed cleanly — is left as it is: `{ mail, added: false }`.
 * Everything not changed is kept byte for byte; new lines use the mail's own line ending.
 * Header fields are never touched (Content-Length, DKIM-Signature: the footnote breaks DKIM
 * body hashes, which is why the option is off by default).
 */
import { decodeQuotedPrintable } from "../unpack/qp.js";
import { parseMimeStructure, type MimeNode } from "./mime-structure.js";

/** Most characters of footnote text kept (after sanitizing). A footnote is a line or two; the
 *  cap also keeps every line far below RFC 5322's 998-character limit without wrapping. */
export const MAX_FOOTNOTE_CHARS = 900;
/** Quoted-printable lines are at most 76 characters (RFC 2045 6.7 rule 5), "=" included. */
const QP_LINE = 76;
/** base64 lines: 76 characters (RFC 2045 6.8). */
const BASE64_LINE = 76;

/** Charsets in which the ASCII bytes of the footnote would not read as that text. */
const NOT_ASCII_COMPATIBLE = /^(utf-?16|utf-?32|ucs-?2|ucs-?4|unicode)/;

interface Edit {
  start: number;
  end: number;
  bytes: Buffer;
}

/** The footnote as lines of printable ASCII: `\n` (a real line break or the two characters
 *  backslash-n) starts a new line; tabs become spaces, other control and non-ASCII
 *  characters are dropped or replaced by "?"; blank lines at the ends are removed. */
export function footnoteLines(text: string): string[] {
  const lines = String(text ?? "")
    .slice(0, MAX_FOOTNOTE_CHARS * 2)
    .split(/\r\n|\r|\n|\\n/)
    .map((line) =>
      // eslint-disable-next-line no-control-regex
      line.replace(/\t/g, " ").replace(/[\u0000-\u001f\u007f-\u009f]/g, "").replace(/[^\x20-\x7e]/g, "?").trimEnd(),
    );
  let total = 0;
  const kept: string[] = [];
  for (const line of lines) {
    if (total >= MAX_FOOTNOTE_CHARS) break;
    const piece = line.slice(0, MAX_FOOTNOTE_CHARS - total);
    kept.push(piece);
    total += piece.length + 1;
  }
  while (kept.length && kept[0].trim() === "") kept.shift();
  while (kept.length && kept[kept.length - 1].trim() === "") kept.pop();
  return kept;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Quoted-printable encoding of bytes (RFC 2045 6.7); decoded line breaks (LF or CRLF) become
 *  `eol`, long lines get soft breaks. */
export function encodeQuotedPrintable(data: Buffer, eol: string): string {
  const out: string[] = [];
  let line = "";
  const flushSoft = (next: string) => {
    if (line.length + next.length > QP_LINE - 1) {
      out.push(line + "=" + eol);
      line = "";
    }
    line += next;
  };
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === 0x0a || (c === 0x0d && data[i + 1] === 0x0a)) {
      if (c === 0x0d) i++;
      out.push(line + eol);
      line = "";
      continue;
    }
    const atLineEnd = i + 1 === data.length || data[i + 1] === 0x0a || (data[i + 1] === 0x0d && data[i + 2] === 0x0a);
    const literal = (c >= 0x21 && c <= 0x7e && c !== 0x3d) || ((c === 0x20 || c === 0x09) && !atLineEnd);
    flushSoft(literal ? String.fromCharCode(c) : "=" + c.toString(16).toUpperCase().padStart(2, "0"));
  }
  out.push(line);
  return out.join("");
}

function encodeBase64(data: Buffer, eol: string): string {
  const b64 = data.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += BASE64_LINE) lines.push(b64.slice(i, i + BASE64_LINE));
  return lines.join(eol);
}

function endsWithLineBreak(buf: Buffer): boolean {
  return buf.length > 0 && buf[buf.length - 1] === 0x0a;
}

/** The line ending used inside decoded text: its first one, else CRLF (MIME canonical form). */
function textEol(decoded: Buffer): string {
  const lf = decoded.indexOf(0x0a);
  return lf > 0 && decoded[lf - 1] === 0x0d ? "\r\n" : lf === -1 ? "\r\n" : "\n";
}

type Edit1 = (decoded: Buffer, eol: string) => Buffer;

/** Append plain lines after `decoded`, one blank line between, keeping a final line break. */
function appendText(lines: string[]): Edit1 {
  return (decoded, eol) => {
    const ends = endsWithLineBreak(decoded);
    const add = (decoded.length && !ends ? eol : "") + (decoded.length ? eol : "") + lines.join(eol) + (ends ? eol : "");
    return Buffer.concat([decoded, Buffer.from(add, "latin1")]);
  };
}

/** Insert an HTML paragraph before the last `</body>`, or append it. */
function insertHtml(lines: string[]): Edit1 {
  return (decoded, eol) => {
    const html = `<p>${lines.map(escapeHtml).join("<br>")}</p>`;
    // latin1 keeps one character per byte, so the index is a byte offset in any ASCII-compatible charset
    const at = decoded.toString("latin1").toLowerCase().lastIndexOf("</body");
    if (at === -1) return appendText([html])(decoded, eol);
    return Buffer.concat([decoded.subarray(0, at), Buffer.from(html + eol, "latin1"), decoded.subarray(at)]);
  };
}

/** The edit that puts the footnote into one text leaf, or null if it cannot safely. */
function editLeaf(mail: Buffer, node: MimeNode, eol: string, lines: string[]): Edit | null {
  if (node.kind !== "leaf" || node.disposition === "attachment" || node.filename !== "") return null;
  const charset = (node.params.get("charset")?.[0] ?? "us-ascii").trim().toLowerCase();
  if (NOT_ASCII_COMPATIBLE.test(charset)) return null;
  const edit = node.type === "text/plain" ? appendText(lines) : node.type === "text/html" ? insertHtml(lines) : null;
  if (!edit) return null;
  const body = mail.subarray(node.bodyStart, node.end);
  switch (node.encoding) {
    case "":
    case "7bit":
    case "8bit":
    case "binary":
      return { start: node.bodyStart, end: node.end, bytes: edit(body, eol) };
    case "quoted-printable": {
      if (node.type === "text/plain") {
        // append encoded lines; the existing encoded bytes stay as they are
        const ends = endsWithLineBreak(body);
        const encoded = encodeQuotedPrintable(Buffer.from(lines.join("\n"), "latin1"), eol);
        const add = (body.length && !ends ? eol : "") + (body.length ? eol : "") + encoded + (ends ? eol : "");
        return { start: node.end, end: node.end, bytes: Buffer.from(add, "latin1") };
      }
      const decoded = decodeQuotedPrintable(body, 0, body.length);
      // a final line break of the body decodes to one and is encoded again
      const encoded = encodeQuotedPrintable(edit(decoded, textEol(decoded)), eol);
      return { start: node.bodyStart, end: node.end, bytes: Buffer.from(encoded, "latin1") };
    }
    case "base64": {
      const decoded = Buffer.from(body.toString("latin1"), "base64");
      const encoded = encodeBase64(edit(decoded, textEol(decoded)), eol);
      return { start: node.bodyStart, end: node.end, bytes: Buffer.from(encoded + (endsWithLineBreak(body) ? eol : ""), "latin1") };
    }
    default:
      return null;
  }
}

/** The root part of a multipart/related (its first part; a `start` parameter naming another
 *  one is not followed, so then nothing is edited). */
function editRelated(mail: Buffer, node: MimeNode, eol: string, lines: string[]): Edit[] {
  if (node.params.has("start") || node.children.length === 0) return [];
  const root = node.children[0];
  if (root.kind === "multipart" && root.type === "multipart/alternative") return editAlternative(mail, root, eol, lines);
  if (root.type !== "text/html") return [];
  const e = editLeaf(mail, root, eol, lines);
  return e ? [e] : [];
}

function editAlternative(mail: Buffer, node: MimeNode, eol: string, lines: string[]): Edit[] {
  const edits: Edit[] = [];
  for (const child of node.children) {
    if (child.kind === "multipart" && child.type === "multipart/related") edits.push(...editRelated(mail, child, eol, lines));
    else {
      const e = editLeaf(mail, child, eol, lines);
      if (e) edits.push(e);
    }
  }
  return edits;
}

function newMixedPart(node: MimeNode, eol: string, lines: string[]): Edit[] {
  if (node.closeAt < 0 || !node.boundary) return [];
  const part = [
    "",
    `--${node.boundary.toString("latin1")}`,
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
    "Content-Disposition: inline",
    "",
    ...lines,
  ].join(eol);
  return [{ start: node.closeAt, end: node.closeAt, bytes: Buffer.from(part, "latin1") }];
}

export function addFootnote(mail: Buffer, text: string): { mail: Buffer; added: boolean } {
  const unchanged = { mail, added: false };
  try {
    const lines = footnoteLines(text);
    if (lines.length === 0) return unchanged;
    const { root, problems, eol } = parseMimeStructure(mail);
    if (problems.length > 0) return unchanged; // unsure where parts end: do not guess
    let edits: Edit[] = [];
    if (root.kind === "leaf") {
      const e = editLeaf(mail, root, eol, lines);
      if (e) edits = [e];
    } else if (root.kind === "multipart") {
      if (root.type === "multipart/mixed") edits = newMixedPart(root, eol, lines);
      else if (root.type === "multipart/alternative") edits = editAlternative(mail, root, eol, lines);
      else if (root.type === "multipart/related") edits = editRelated(mail, root, eol, lines);
    }
    if (edits.length === 0) return unchanged;
    edits.sort((a, b) => a.start - b.start);
    const pieces: Buffer[] = [];
    let at = 0;
    for (const e of edits) {
      pieces.push(mail.subarray(at, e.start), e.bytes);
      at = e.end;
    }
    pieces.push(mail.subarray(at));
    return { mail: Buffer.concat(pieces), added: true };
  } catch {
    return unchanged; // a footnote is never worth losing or breaking a mail
  }
}

