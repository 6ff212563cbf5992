/**
 * Bytes to text for the spam parser (message.ts): MIME charsets through cached TextDecoders,
 * RFC 2047 encoded-words in header values, and the HTML character references that spam uses
 * to hide words from naive filters. Nothing here throws on bad input: an unknown charset is
 * read as latin1 (one character per byte, so no byte is lost and words stay tokenizable),
 * bytes that are invalid in their declared charset become U+FFFD or fall back to latin1.
 */
import { isAscii, isUtf8 } from "node:buffer";

/** TextDecoders by normalised label; null = the label is unknown to the runtime (ICU). */
const decoders = new Map<string, TextDecoder | null>();

function decoderFor(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      d = null;
    }
    // the label set is small (charsets seen in mail), but a hostile mail can name many: cap it
    if (decoders.size < MAX_CACHED_DECODERS) decoders.set(label, d);
  }
  return d;
}

/** Distinct charset labels remembered; real mail uses a few dozen, each entry is one object. */
const MAX_CACHED_DECODERS = 256;

function asBuf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decode `bytes` declared as `charset` ("" = not declared). ASCII-only data skips the decoder.
 * UTF-8 (declared or not) that is not valid UTF-8 is read as windows-1252, which is what
 * undeclared 8-bit mail of the corpus era almost always is.
 */
export function decodeText(bytes: Uint8Array, charset: string): string {
  const buf = asBuf(bytes);
  if (buf.length === 0) return "";
  if (isAscii(buf)) return buf.toString("latin1");
  const label = normaliseCharset(charset);
  if (label === "" || label === "utf-8" || label === "us-ascii") {
    if (isUtf8(buf)) return buf.toString("utf8");
    return windows1252(buf);
  }
  if (WINDOWS_1252_LABELS.has(label)) return windows1252(buf);
  const d = decoderFor(label);
  if (d === null) return buf.toString("latin1");
  return d.decode(buf);
}

/** Labels that WHATWG decodes as windows-1252 (mail says iso-8859-1 and means 1252). */
const WINDOWS_1252_LABELS = new Set(["windows-1252", "cp1252", "iso-8859-1", "iso8859-1", "latin1", "l1", "x-cp1252", "ascii", "iso_8859-1"]);

/** Characters of bytes 0x80..0x9F in windows-1252 (the rest is latin1). Node's own
 *  TextDecoder("windows-1252") decodes as plain latin1, losing quotes, dashes and the euro. */
const CP1252_HIGH =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";
const C1_CONTROL = /[\x80-\x9f]/g;
const HAS_C1_CONTROL = /[\x80-\x9f]/;

function windows1252(buf: Buffer): string {
  const s = buf.toString("latin1");
  return HAS_C1_CONTROL.test(s) ? s.replace(C1_CONTROL, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]) : s;
}

/** Lower case, quotes and spaces removed, common aliases folded to WHATWG labels. */
export function normaliseCharset(charset: string): string {
  let c = charset.trim().toLowerCase();
  if (c.length > 40) return "latin1-unknown"; // no real label is this long
  if (c.startsWith('"') || c.startsWith("'")) c = c.replace(/["']/g, "");
  if (c === "utf8") return "utf-8";
  if (c === "ascii" || c === "us_ascii" || c === "ansi_x3.4-1968" || c === "default") return "us-ascii";
  return c;
}

/** HTML 4 Latin-1 entity names for U+00A0..U+00FF, in code point order. */
const LATIN1_ENTITIES = (
  "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn " +
  "sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave " +
  "Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml " +
  "ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN " +
  "szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute " +
  "icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml " +
  "yacute thorn yuml"
).split(" ");

const NAMED_ENTITIES = new Map<string, string>([
  ["amp", "&"], ["lt", "<"], ["gt", ">"], ["quot", '"'], ["apos", "'"],
  ["ndash", "\u2013"], ["mdash", "\u2014"], ["lsquo", "\u2018"], ["rsquo", "\u2019"],
  ["ldquo", "\u201c"], ["rdquo", "\u201d"], ["bull", "\u2022"], ["hellip", "\u2026"],
  ["euro", "\u20ac"], ["trade", "\u2122"], ["emsp", " "], ["ensp", " "], ["thinsp", " "],
  ["zwnj", ""], ["zwj", ""],
]);
LATIN1_ENTITIES.forEach((name, i) => NAMED_ENTITIES.set(name, String.fromCharCode(0xa0 + i)));

/** Longest entity name we look up (hellip, frac34 ...): bounds the scan after '&'. */
const MAX_ENTITY_NAME = 8;
/** Digits read in a numeric reference: &#1114111; is the largest code point (7 digits). */
const MAX_ENTITY_DIGITS = 8;

/** Replace character references (&amp; &#65; &#x41;, ';' optional as browsers allow). */
export function decodeEntities(s: string): string {
  let amp = s.indexOf("&");
  if (amp < 0) return s;
  let out = "";
  let last = 0;
  while (amp >= 0) {
    let i = amp + 1;
    let rep: string | undefined;
    if (s.charCodeAt(i) === 0x23) {
      // numeric
      i++;
      const hex = (s.charCodeAt(i) | 0x20) === 0x78;
      if (hex) i++;
      const start = i;
      let cp = 0;
      while (i < s.length && i - start < MAX_ENTITY_DIGITS) {
        const c = s.charCodeAt(i);
        const v = hex ? hexValue(c) : c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
        if (v < 0) break;
        cp = cp * (hex ? 16 : 10) + v;
        i++;
      }
      if (i > start) {
        rep = cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : "\ufffd";
        if (s.charCodeAt(i) === 0x3b) i++;
      }
    } else {
      const start = i;
      while (i < s.length && i - start <= MAX_ENTITY_NAME && isAlnum(s.charCodeAt(i))) i++;
      rep = NAMED_ENTITIES.get(s.slice(start, i)) ?? NAMED_ENTITIES.get(s.slice(start, i).toLowerCase());
      if (rep !== undefined && s.charCodeAt(i) === 0x3b) i++;
    }
    if (rep !== undefined) {
      out += s.slice(last, amp) + rep;
      last = i;
    }
    amp = s.indexOf("&", Math.max(i, amp + 1));
  }
  return out + s.slice(last);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

const ENCODED_WORD = /=\?([^?\s]{1,40})\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * Decode RFC 2047 encoded-words in an (unfolded) header value. Whitespace between two
 * adjacent encoded-words is dropped (RFC 2047 section 6.2); adjacent words in the same
 * charset are decoded together because encoders split multi-byte characters across them.
 * Header text arrives as latin1; 8-bit bytes outside encoded-words are read as UTF-8 when
 * valid (RFC 6532), else kept as latin1.
 */
export function decodeHeaderValue(latin1: string): string {
  const s = eightBitHeader(latin1);
  if (!s.includes("=?")) return s;
  let out = "";
  let last = 0;
  let pendingCharset = "";
  let pending: Buffer[] = [];
  const flush = () => {
    if (pending.length > 0) out += decodeText(pending.length === 1 ? pending[0] : Buffer.concat(pending), pendingCharset);
    pending = [];
  };
  for (const m of s.matchAll(ENCODED_WORD)) {
    const gap = s.slice(last, m.index);
    const charset = m[1].split("*")[0].toLowerCase(); // RFC 2231 section 5: charset*language
    const adjacent = pending.length > 0 && /^[ \t\r\n]*$/.test(gap);
    if (!adjacent || charset !== pendingCharset) {
      flush();
      if (!adjacent) out += gap;
    }
    pendingCharset = charset;
    const text = m[3];
    pending.push((m[2] === "b" || m[2] === "B") ? Buffer.from(text, "base64") : decodeQ(text));
    last = m.index + m[0].length;
  }
  flush();
  return out + s.slice(last);
}

function decodeQ(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3d && i + 2 < text.length && hexValue(text.charCodeAt(i + 1)) >= 0 && hexValue(text.charCodeAt(i + 2)) >= 0) {
      out[n++] = hexValue(text.charCodeAt(i + 1)) * 16 + hexValue(text.charCodeAt(i + 2));
      i += 2;
    } else {
      out[n++] = c === 0x5f ? 0x20 : c & 0xff;
    }
  }
  return out.subarray(0, n);
}

const EIGHT_BIT = /[\x80-\xff]/;

/** Latin1 header text as UTF-8 when its bytes are valid UTF-8 (RFC 6532), else unchanged. */
export function eightBitHeader(latin1: string): string {
  if (!EIGHT_BIT.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, "latin1");
  return isUtf8(bytes) ? bytes.toString("utf8") : latin1;
}
