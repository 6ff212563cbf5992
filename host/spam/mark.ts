/**
 * How a classified mail is marked (SPEC §6): the X-Bulwark-Spam-* header fields and the subject
 * template (`as_eml_subject_template`, "%asstatus%" -> SPAM or PROBABLE SPAM). The mail service
 * hands these to the agents in its result (fields to add, the new Subject value), and the spamd
 * listener's PROCESS/HEADERS apply them to the message with `markMail`.
 *
 * Byte rule: marking never re-encodes the mail. New fields go in front of the header; the Subject
 * field is replaced as a whole (its original value kept after the tag); every other byte is kept.
 */
import { type HeaderField, sanitizeHeaderValue } from "../policy/headers.js";
import { headerBlockEnd } from "../unpack/mime-headers.js";
import type { SpamReason, SpamResult, SpamStatus } from "./types.js";

export const HEADER_SPAM_STATUS = "X-Bulwark-Spam-Status";
export const HEADER_SPAM_SCORE = "X-Bulwark-Spam-Score";
export const HEADER_SPAM_REASONS = "X-Bulwark-Spam-Reasons";

/** Reasons named in the reasons field, strongest first; the rest are counted. The field stays
 *  one line well under RFC 5322's 998 characters (MAX_HEADER_VALUE cuts it anyway). */
const MAX_LISTED_REASONS = 20;
/** Longest Subject value written back: past it the tag is not added (a longer line would need
 *  folding, and a subject this long is not read by anyone). RFC 5322's line limit is 998. */
export const MAX_SUBJECT_VALUE = 900;
/** Bytes of the header section searched for Subject: an MTA's own limit is far lower (Postfix
 *  header_size_limit 100 KiB); a longer "header" is a body without a blank line. */
const MAX_HEADER_SCAN = 1024 * 1024;

/** Longest subject tag: a template is one short word in brackets; a long one would push the
 *  real subject out of a mail client's column. */
const MAX_TAG_CHARS = 200;

/** "12.3": SpamAssassin prints one decimal; -0.0 becomes 0.0. */
export const formatScore = (n: number): string => (Math.round(n * 10) / 10 || 0).toFixed(1);

/** The text %asstatus% stands for. */
export function statusText(status: SpamStatus): string {
  return status === "spam" ? "SPAM" : status === "probable" ? "PROBABLE SPAM" : "HAM";
}

function reasonsText(reasons: readonly SpamReason[]): string {
  if (reasons.length === 0) return "none";
  const sorted = [...reasons].sort((a, b) => Math.abs(b.score) - Math.abs(a.score));
  const shown = sorted.slice(0, MAX_LISTED_REASONS).map((r) => `${r.name}=${formatScore(r.score)}`).join(", ");
  return sorted.length > MAX_LISTED_REASONS ? `${shown} (+${sorted.length - MAX_LISTED_REASONS} more)` : shown;
}

/** The three fields for a classified mail, like SpamAssassin's X-Spam-Status/-Level/-Report. */
export function spamHeaderFields(result: SpamResult): HeaderField[] {
  const word = result.status === "spam" ? "Yes" : result.status === "probable" ? "Probable" : "No";
  const status = result.skipped
    ? `No, skipped (${result.skipped})`
    : `${word}, score=${formatScore(result.score)} required=${formatScore(result.required)}`;
  return [
    { name: HEADER_SPAM_STATUS, value: sanitizeHeaderValue(status) },
    { name: HEADER_SPAM_SCORE, value: formatScore(result.score) },
    { name: HEADER_SPAM_REASONS, value: sanitizeHeaderValue(reasonsText(result.reasons)) },
  ];
}

/** The subject tag for this result, or "" when none applies (ham, skipped, empty template). */
export function subjectTag(result: SpamResult, template: string): string {
  if (result.skipped || result.status === "ham" || template === "") return "";
  return sanitizeHeaderValue(template.replaceAll("%asstatus%", statusText(result.status)), MAX_TAG_CHARS);
}

/** Where the header section ends: the index of the blank line's first byte, or -1. */
function headerEnd(mail: Buffer): number {
  const after = headerBlockEnd(mail, Math.min(mail.length, MAX_HEADER_SCAN + 2));
  if (after < 0) return -1;
  return mail[after - 2] === 0x0d ? after - 2 : after - 1;
}

export interface SubjectField {
  /** byte range of the whole field, folded lines and the final line end included */
  start: number;
  end: number;
  /** the value unfolded (CR/LF removed, as RFC 5322 §2.2.3 says), leading space trimmed */
  value: string;
}

/** The first Subject field of the header, or undefined. The value is read as latin1 so bytes
 *  are kept one for one (8-bit subjects survive the round trip). */
export function findSubject(mail: Buffer): SubjectField | undefined {
  const end = headerEnd(mail);
  const header = mail.subarray(0, end < 0 ? Math.min(mail.length, MAX_HEADER_SCAN) : end).toString("latin1");
  const m = /(^|\n)subject[ \t]*:/i.exec(header);
  if (!m) return undefined;
  const start = m.index + m[1].length;
  let stop = header.indexOf("\n", start);
  while (stop >= 0 && (header[stop + 1] === " " || header[stop + 1] === "\t")) stop = header.indexOf("\n", stop + 1);
  const fieldEnd = stop < 0 ? header.length : stop + 1;
  const value = header.slice(m.index + m[0].length, fieldEnd).replace(/\r?\n/g, "").replace(/^[ \t]+/, "").replace(/\r$/, "");
  return { start, end: fieldEnd, value };
}

/** The Subject value after tagging, or undefined when nothing changes: no tag, the subject
 *  already starts with the tag (a mail re-scanned after a forward), or the result would be too
 *  long for one line. */
export function taggedSubject(original: string | undefined, tag: string): string | undefined {
  if (tag === "") return undefined;
  const old = original ?? "";
  if (old.startsWith(tag)) return undefined;
  const next = old === "" ? tag : `${tag} ${old}`;
  return next.length > MAX_SUBJECT_VALUE ? undefined : next;
}

/** The mail with its Subject field set to `value` (added after the other header fields when it
 *  had none). The line end of the mail's own header is used. */
export function setSubject(mail: Buffer, value: string): Buffer {
  const eol = mail.indexOf("\r\n") >= 0 && mail.indexOf("\r\n") <= mail.indexOf("\n") ? "\r\n" : "\n";
  const line = Buffer.from(`Subject: ${value}${eol}`, "latin1");
  const field = findSubject(mail);
  if (field) return Buffer.concat([mail.subarray(0, field.start), line, mail.subarray(field.end)]);
  const end = headerEnd(mail);
  if (end < 0) return Buffer.concat([line, mail]);
  return Buffer.concat([mail.subarray(0, end), line, mail.subarray(end)]);
}

/** Header fields Bulwark writes start with this; the same names arriving in a mail are forged
 *  (or left by an earlier hop) and are removed before ours are added, so that a Sieve or
 *  procmail rule reading them can trust them, as SpamAssassin removes incoming X-Spam-* fields. */
export const OWN_FIELD_PREFIX = "x-bulwark-";
/** Own fields removed from one mail at most; a header with more is hostile and the rest of
 *  them is left (each removal is one milter packet). */
export const MAX_OWN_FIELDS_REMOVED = 100;

interface FieldSpan {
  name: string;
  start: number;
  end: number;
}

/** Fields of the header section whose names start with OWN_FIELD_PREFIX, in order. */
function ownFieldSpans(mail: Buffer): FieldSpan[] {
  const end = headerEnd(mail);
  const header = mail.subarray(0, end < 0 ? Math.min(mail.length, MAX_HEADER_SCAN) : end).toString("latin1");
  const out: FieldSpan[] = [];
  const re = /(^|\n)(x-bulwark-[!-9;-~]*)[ \t]*:/gi;
  for (let m = re.exec(header); m && out.length < MAX_OWN_FIELDS_REMOVED; m = re.exec(header)) {
    const start = m.index + m[1].length;
    let stop = header.indexOf("\n", start);
    while (stop >= 0 && (header[stop + 1] === " " || header[stop + 1] === "\t")) stop = header.indexOf("\n", stop + 1);
    const fieldEnd = stop < 0 ? header.length : stop + 1;
    out.push({ name: m[2], start, end: fieldEnd });
    re.lastIndex = Math.max(fieldEnd - 1, re.lastIndex);
  }
  return out;
}

/** Each own field as (name, 1-based index among the fields of that name), for a milter's
 *  SMFIR_CHGHEADER with an empty value, which deletes it; last first, so that deleting one
 *  does not move the index of the next. */
export function ownFieldIndexes(mail: Buffer): Array<{ name: string; index: number }> {
  const seen = new Map<string, number>();
  const out = ownFieldSpans(mail).map((f) => {
    const key = f.name.toLowerCase();
    const index = (seen.get(key) ?? 0) + 1;
    seen.set(key, index);
    return { name: f.name, index };
  });
  return out.reverse();
}

/** The mail without incoming X-Bulwark-* fields (every other byte kept). */
export function stripOwnFields(mail: Buffer): Buffer {
  const spans = ownFieldSpans(mail);
  if (spans.length === 0) return mail;
  const parts: Buffer[] = [];
  let at = 0;
  for (const f of spans) {
    parts.push(mail.subarray(at, f.start));
    at = f.end;
  }
  parts.push(mail.subarray(at));
  return Buffer.concat(parts);
}

export interface MarkOptions {
  subjectTemplate: string;
  /** add the X-Bulwark-Spam-* fields */
  headers: boolean;
}

/** The mail as an agent delivers it: incoming X-Bulwark-* fields removed, ours in front,
 *  subject tagged (spamd PROCESS/HEADERS). */
export function markMail(raw: Buffer, result: SpamResult, opts: MarkOptions): Buffer {
  let out = stripOwnFields(raw);
  const subject = taggedSubject(findSubject(raw)?.value, subjectTag(result, opts.subjectTemplate));
  if (subject !== undefined) out = setSubject(out, subject);
  if (!opts.headers) return out;
  const eol = raw.indexOf("\r\n") >= 0 && raw.indexOf("\r\n") <= raw.indexOf("\n") ? "\r\n" : "\n";
  const fields = spamHeaderFields(result).map((f) => `${f.name}: ${f.value}${eol}`).join("");
  return Buffer.concat([Buffer.from(fields, "latin1"), out]);
}
