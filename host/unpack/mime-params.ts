/**
 * Parsing of structured MIME header values: `type/subtype; name=value; ...` (RFC 2045),
 * parameter continuations and charsets (RFC 2231), encoded-words (RFC 2047), and the
 * clean-up of attachment names for display. Tolerant the way mail clients are: quoted or
 * bare values, unquoted values containing '=', comments in parentheses, 8-bit UTF-8.
 * Work is linear in the header length; the number of parameters is capped.
 */

/** Max parameters parsed in one header. ClamAV HEURISTIC_EMAIL_MAX_ARGUMENTS_PER_HEADER is
 *  256; real headers carry fewer than 10, and each one costs a map entry. */
export const MAX_HEADER_PARAMS = 256;

/** Max characters of an attachment name we keep: NTFS/ext4 limit file names to 255, and
 *  the name is only shown in verdict paths. */
const MAX_NAME_CHARS = 255;

export interface HeaderValue {
  /** the part before the first ';', lowercased, comments removed (e.g. "multipart/mixed") */
  value: string;
  /** parameters by lowercase name; a name given several times keeps every value, in order,
   *  with an RFC 2231 value (name*=, name*0=...) first */
  params: Map<string, string[]>;
  /** more than MAX_HEADER_PARAMS parameters: the rest were ignored */
  tooManyParams: boolean;
}

/** Split a header value on ';' outside quotes and comments; quotes keep backslash escapes.
 *  Plain runs are copied as slices, so a 256 KiB value costs one pass, not a char-by-char build. */
function splitSegments(raw: string): string[] {
  const segments: string[] = [];
  let cur = "";
  let runStart = 0; // start of the plain run not yet copied into cur
  let inQuote = false;
  let commentDepth = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++; // backslash: the next character is literal
      else if (c === 0x22) inQuote = false;
    } else if (commentDepth > 0) {
      if (c === 0x5c) i++;
      else if (c === 0x28) commentDepth++;
      else if (c === 0x29 && --commentDepth === 0) runStart = i + 1;
    } else if (c === 0x28) {
      cur += raw.slice(runStart, i); // comments are dropped
      commentDepth = 1;
    } else if (c === 0x22) {
      inQuote = true;
    } else if (c === 0x3b) {
      segments.push(cur + raw.slice(runStart, i));
      cur = "";
      runStart = i + 1;
      if (segments.length > MAX_HEADER_PARAMS) return segments;
    }
  }
  segments.push(commentDepth > 0 ? cur : cur + raw.slice(runStart));
  return segments;
}

/** A parameter value: the content of the first quoted string if it starts with one,
 *  else the bare text, trimmed. */
function unquote(v: string): string {
  const t = v.trim();
  if (!t.startsWith('"')) return t;
  let out = "";
  let runStart = 1;
  for (let i = 1; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x5c && i + 1 < t.length) {
      out += t.slice(runStart, i);
      runStart = ++i; // keep the escaped character, drop the backslash
    } else if (c === 0x22) {
      return out + t.slice(runStart, i);
    }
  }
  return out + t.slice(runStart); // unterminated quote: keep what we have
}

interface Rfc2231Piece {
  index: number;
  encoded: boolean;
  value: string;
}

/** Parse `type/subtype; a=b; ...`. */
export function parseHeaderValue(raw: string): HeaderValue {
  const segments = splitSegments(raw);
  const tooManyParams = segments.length > MAX_HEADER_PARAMS;
  const params = new Map<string, string[]>();
  const extended = new Map<string, Rfc2231Piece[]>();
  for (const seg of segments.slice(1, MAX_HEADER_PARAMS + 1)) {
    const eq = seg.indexOf("=");
    if (eq <= 0) continue;
    const name = seg.slice(0, eq).trim().toLowerCase();
    const value = unquote(seg.slice(eq + 1));
    const star = /^([^*]+)\*(?:(\d{1,3})(\*)?)?$/.exec(name);
    if (star) {
      // name*=, name*N=, name*N*= (RFC 2231 sections 3-4)
      const pieces = extended.get(star[1]) ?? [];
      const encoded = star[2] === undefined || star[3] === "*";
      pieces.push({ index: star[2] === undefined ? 0 : Number(star[2]), encoded, value });
      extended.set(star[1], pieces);
    } else {
      const list = params.get(name) ?? [];
      list.push(value);
      params.set(name, list);
    }
  }
  for (const [name, pieces] of extended) {
    params.set(name, [joinRfc2231(pieces), ...(params.get(name) ?? [])]);
  }
  return { value: segments[0].trim().toLowerCase(), params, tooManyParams };
}

/** Join RFC 2231 continuation pieces and decode charset'language'%XX values. */
function joinRfc2231(pieces: Rfc2231Piece[]): string {
  pieces.sort((a, b) => a.index - b.index);
  let charset = "";
  const bytes: number[] = [];
  pieces.forEach((p, i) => {
    let v = p.value;
    if (p.encoded && i === 0) {
      const m = /^([^']*)'[^']*'(.*)$/s.exec(v);
      if (m) {
        charset = m[1];
        v = m[2];
      }
    }
    if (p.encoded) {
      for (let j = 0; j < v.length; j++) {
        const hex = v[j] === "%" ? /^[0-9a-fA-F]{2}$/.exec(v.slice(j + 1, j + 3)) : null;
        if (hex) {
          bytes.push(parseInt(hex[0], 16));
          j += 2;
        } else {
          bytes.push(v.charCodeAt(j) & 0xff);
        }
      }
    } else {
      for (let j = 0; j < v.length; j++) bytes.push(v.charCodeAt(j) & 0xff);
    }
  });
  return decodeCharset(Uint8Array.from(bytes), charset || "utf-8");
}

/** Decode bytes in a MIME charset; unknown charsets fall back to UTF-8, then latin1. */
export function decodeCharset(bytes: Uint8Array, charset: string): string {
  const label = charset.trim().toLowerCase();
  for (const l of [label, "utf-8"]) {
    try {
      return new TextDecoder(l, { fatal: true }).decode(bytes);
    } catch {
      // unknown label or invalid bytes for it: try the next one
    }
  }
  return Buffer.from(bytes).toString("latin1");
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** Decode RFC 2047 encoded-words; whitespace between adjacent words is dropped, and the
 *  bytes of adjacent words in one charset are joined first (a UTF-8 character may be
 *  split across words). */
export function decodeEncodedWords(s: string): string {
  if (!s.includes("=?")) return s;
  let out = "";
  let last = 0;
  let pending: { charset: string; bytes: number[] } | null = null;
  const flush = () => {
    if (pending) out += decodeCharset(Uint8Array.from(pending.bytes), pending.charset);
    pending = null;
  };
  for (const m of s.matchAll(ENCODED_WORD)) {
    const gap = s.slice(last, m.index);
    const charset = m[1].split("*")[0].toLowerCase(); // RFC 2231 section 5: charset*lang
    if (!(pending && /^\s*$/.test(gap))) {
      flush();
      out += gap;
    }
    const bytes = m[2].toLowerCase() === "b" ? Buffer.from(m[3], "base64") : decodeQWord(m[3]);
    if (pending && pending.charset !== charset) flush();
    pending ??= { charset, bytes: [] };
    for (const b of bytes) pending.bytes.push(b);
    last = m.index + m[0].length;
  }
  flush();
  return out + s.slice(last);
}

function decodeQWord(text: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const hex = c === "=" ? /^[0-9a-fA-F]{2}$/.exec(text.slice(i + 1, i + 3)) : null;
    if (hex) {
      bytes.push(parseInt(hex[0], 16));
      i += 2;
    } else {
      bytes.push(c === "_" ? 0x20 : c.charCodeAt(0) & 0xff);
    }
  }
  return bytes;
}

/** Header text arrives as latin1 (one char per byte); reinterpret it as UTF-8 when it is
 *  valid UTF-8 (RFC 6532 8-bit headers), else keep latin1. */
export function headerBytesToText(latin1: string): string {
  if (!/[\x80-\xff]/.test(latin1)) return latin1;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(latin1, "latin1"));
  } catch {
    return latin1;
  }
}

/** Make an attachment name safe to show: encoded-words decoded, directory part dropped
 *  (as mail clients do), control characters replaced, length capped. "" if nothing is left. */
export function cleanAttachmentName(raw: string): string {
  const decoded = decodeEncodedWords(headerBytesToText(raw));
  const base = decoded.slice(Math.max(decoded.lastIndexOf("/"), decoded.lastIndexOf("\\")) + 1);
  // eslint-disable-next-line no-control-regex
  return base.replace(/[\u0000-\u001f\u007f]/g, "_").trim().slice(0, MAX_NAME_CHARS);
}
