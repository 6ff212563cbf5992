/**
 * Built-in checks that `eval NAME function(args)` lines in a rules file can name: tests that a
 * single regex cannot express (ratios, counts, dates compared with each other, links whose text
 * names another domain). Each factory validates its arguments at load time (a bad argument is a
 * file:line error) and returns a test that never throws and reads only the bounded MailView.
 */
import type { MailView } from "./rules-context.js";

export type EvalTest = (v: MailView) => boolean;

interface EvalFunction {
  /** one line for the documentation and the "unknown function" error */
  usage: string;
  make(args: string[]): EvalTest;
}

/** Visible text shorter than this (characters) counts as "no text" for image_only. */
const DEFAULT_IMAGE_ONLY_TEXT = 200;
/** HTML shorter than this is too small for a meaningful text/markup ratio. */
const MIN_HTML_FOR_RATIO = 512;
/** Subjects with fewer letters than this are not judged for capitals ("RE: FW", "HI"). */
const MIN_SUBJECT_LETTERS = 10;
/** Characters of body text body_caps_ratio_above counts: a sample of 16 KiB decides "mostly
 *  capitals" as well as the whole text and keeps the per-character loop cheap. */
const MAX_CAPS_SCAN = 16 * 1024;
/** Anchors examined by uri_text_domain_mismatch: bounds work on link-stuffed HTML. */
const MAX_ANCHORS = 200;

function numberArg(args: string[], i: number, name: string, min = 0, max = Infinity): number {
  const a = args[i];
  if (a === undefined || !/^[+-]?\d+(\.\d+)?$/.test(a)) throw new Error(`argument ${i + 1} (${name}) must be a number`);
  const n = Number(a);
  if (n < min || n > max) throw new Error(`argument ${i + 1} (${name}) must be between ${min} and ${max}`);
  return n;
}

function argCount(args: string[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw new Error(min === max ? `takes ${min} argument(s), got ${args.length}` : `takes ${min} to ${max} arguments, got ${args.length}`);
  }
}

function totalLength(parts: readonly string[] | undefined): number {
  let n = 0;
  for (const p of parts ?? []) if (typeof p === "string") n += p.length;
  return n;
}

function visibleTextLength(v: MailView): number {
  let n = 0;
  for (const p of [...(v.mail.textParts ?? []), ...(v.mail.htmlText ?? [])]) if (typeof p === "string") n += p.trim().length;
  return n;
}

/** The date after the last ";" of the topmost Received field: when our side of the chain got it. */
function receivedTime(v: MailView): number {
  const r = v.fields("received")[0]?.value;
  if (typeof r !== "string") return NaN;
  const semi = r.lastIndexOf(";");
  return semi < 0 ? NaN : Date.parse(r.slice(semi + 1).trim().replace(/\s*\(.*\)\s*$/, ""));
}

function dateTime(v: MailView): number {
  const d = v.fields("date")[0]?.value;
  return typeof d === "string" ? Date.parse(d.replace(/\s*\(.*\)\s*$/, "")) : NaN;
}

/** Host of an http(s) URI or a bare "www.x.y" / "x.com" text, lower case, without "www.". */
export function hostOf(text: string): string | undefined {
  const m = /^\s*(?:[a-z][a-z0-9+.-]{0,15}:\/\/)?(?:[^@/\s]{0,64}@)?([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,10})(?=[:/?#\s]|$)/i.exec(text);
  return m ? m[1]!.toLowerCase().replace(/^www\./, "") : undefined;
}

/** The last two labels (last three under a two-letter country code with a short second level,
 *  e.g. co.uk): close enough to a registrable domain for comparing a link with its text. */
function baseDomain(host: string): string {
  const labels = host.split(".");
  const n = labels.length;
  if (n >= 3 && labels[n - 1]!.length === 2 && labels[n - 2]!.length <= 3) return labels.slice(-3).join(".");
  return labels.slice(-2).join(".");
}

const ANCHOR = /<a\s[^>]{0,500}?href\s*=\s*["']?([^"'\s>]{1,2048})[^>]{0,500}>([^<]{0,300})<\/a>/gi;

function linkTextMismatch(v: MailView): boolean {
  let seen = 0;
  for (const html of v.mail.htmlParts ?? []) {
    if (typeof html !== "string") continue;
    const text = html.length > 128 * 1024 ? html.slice(0, 128 * 1024) : html;
    ANCHOR.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = ANCHOR.exec(text)) !== null && seen++ < MAX_ANCHORS) {
      const href = m[1]!;
      const shown = m[2]!.trim();
      if (!/^https?:/i.test(href)) continue;
      // only link texts that look like an address: "http://...", "www....", "name.tld/..."
      if (!/^(https?:\/\/|www\.)/i.test(shown)) continue;
      const a = hostOf(href);
      const b = hostOf(shown);
      if (a && b && baseDomain(a) !== baseDomain(b)) return true;
    }
  }
  return false;
}

function boundaryProblem(v: MailView): boolean {
  const ct = v.header("content-type", true);
  if (!/^\s*multipart\//i.test(ct)) return false;
  const b = /boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;]{1,200}))/i.exec(ct);
  if (!b) return true;
  const boundary = b[1] ?? b[2]!;
  return !v.full().includes("--" + boundary);
}

function fromNameMismatch(v: MailView): boolean {
  const from = v.header("from");
  const m = /^\s*"?([^"<]{0,200}?)"?\s*<([^>]{1,256})>/.exec(from);
  if (!m) return false;
  const shown = /[a-z0-9._%+-]{1,64}@([a-z0-9.-]{1,255})/i.exec(m[1]!);
  const real = /@([a-z0-9.-]{1,255})/i.exec(m[2]!);
  return !!shown && !!real && baseDomain(shown[1]!.toLowerCase()) !== baseDomain(real[1]!.toLowerCase());
}

/** The Subject names the recipient's domain ("I visited example.com"): harvested addresses. */
function subjectNamesRecipientDomain(v: MailView): boolean {
  const subject = String(v.mail.subject ?? "").toLowerCase();
  if (subject === "") return false;
  const to = v.header("to").toLowerCase();
  const re = /@([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,10})/g;
  let m: RegExpExecArray | null;
  for (let n = 0; (m = re.exec(to)) !== null && n < 20; n++) {
    if (subject.includes(baseDomain(m[1]!))) return true;
  }
  return false;
}

function countAddresses(v: MailView): number {
  let n = 0;
  for (const name of ["to", "cc"]) {
    const s = v.header(name);
    for (let i = s.indexOf("@"); i >= 0; i = s.indexOf("@", i + 1)) n++;
  }
  return n;
}

export const EVAL_FUNCTIONS: ReadonlyMap<string, EvalFunction> = new Map<string, EvalFunction>([
  ["html_only", { usage: "html_only(): HTML parts but no non-empty text/plain part", make(args) {
    argCount(args, 0, 0);
    return (v) => totalLength(v.mail.htmlParts) > 0 && !(v.mail.textParts ?? []).some((t) => typeof t === "string" && t.trim() !== "");
  } }],
  ["html_text_ratio_below", { usage: "html_text_ratio_below(r): visible text / HTML size < r", make(args) {
    argCount(args, 1, 1);
    const r = numberArg(args, 0, "ratio", 0, 1);
    return (v) => {
      const html = totalLength(v.mail.htmlParts);
      return html >= MIN_HTML_FOR_RATIO && totalLength(v.mail.htmlText) / html < r;
    };
  } }],
  ["image_only", { usage: "image_only([n]): an image (attached or <img> in HTML) and under n characters of text", make(args) {
    argCount(args, 0, 1);
    const n = args.length ? numberArg(args, 0, "characters") : DEFAULT_IMAGE_ONLY_TEXT;
    return (v) => {
      const image = (v.mail.attachments ?? []).some((a) => /^image\//i.test(a?.contentType ?? "")) || /<img\s/i.test(v.rawBody());
      return image && visibleTextLength(v) < n;
    };
  } }],
  ["subject_all_caps", { usage: "subject_all_caps(): subject of 10+ letters, none lower case", make(args) {
    argCount(args, 0, 0);
    return (v) => {
      const s = String(v.mail.subject ?? "");
      const letters = s.replace(/[^\p{L}]/gu, "");
      return letters.length >= MIN_SUBJECT_LETTERS && letters === letters.toUpperCase() && letters !== letters.toLowerCase();
    };
  } }],
  ["subject_names_recipient_domain", { usage: "subject_names_recipient_domain(): the Subject names the To address's domain", make(args) {
    argCount(args, 0, 0);
    return subjectNamesRecipientDomain;
  } }],
  ["many_recipients", { usage: "many_recipients(n): n or more addresses in To and Cc", make(args) {
    argCount(args, 1, 1);
    const n = numberArg(args, 0, "count", 1);
    return (v) => countAddresses(v) >= n;
  } }],
  ["missing_header", { usage: "missing_header(Name): no field of that name", make(args) {
    argCount(args, 1, 1);
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(args[0]!)) throw new Error(`bad header name "${args[0]}"`);
    const lname = args[0]!.toLowerCase();
    return (v) => !v.has(lname);
  } }],
  ["date_in_future_hours", { usage: "date_in_future_hours(n): Date is n+ hours after the top Received date", make(args) {
    argCount(args, 1, 1);
    const ms = numberArg(args, 0, "hours", 0) * 3600_000;
    return (v) => dateTime(v) - receivedTime(v) >= ms; // NaN compares false
  } }],
  ["date_in_past_hours", { usage: "date_in_past_hours(n): Date is n+ hours before the top Received date", make(args) {
    argCount(args, 1, 1);
    const ms = numberArg(args, 0, "hours", 0) * 3600_000;
    return (v) => receivedTime(v) - dateTime(v) >= ms;
  } }],
  ["date_unparsable", { usage: "date_unparsable(): a Date field that does not parse", make(args) {
    argCount(args, 0, 0);
    return (v) => v.has("date") && Number.isNaN(dateTime(v));
  } }],
  ["uri_text_domain_mismatch", { usage: "uri_text_domain_mismatch(): an HTML link whose text shows another domain", make(args) {
    argCount(args, 0, 0);
    return linkTextMismatch;
  } }],
  ["mime_boundary_suspicious", { usage: "mime_boundary_suspicious(): multipart without a boundary, or one never used", make(args) {
    argCount(args, 0, 0);
    return boundaryProblem;
  } }],
  ["from_name_address_mismatch", { usage: "from_name_address_mismatch(): From's display name shows an address in another domain", make(args) {
    argCount(args, 0, 0);
    return fromNameMismatch;
  } }],
  ["body_caps_ratio_above", { usage: "body_caps_ratio_above(r, n): of n+ letters of visible text, more than r are capitals", make(args) {
    argCount(args, 2, 2);
    const r = numberArg(args, 0, "ratio", 0, 1);
    const min = numberArg(args, 1, "letters", 1);
    return (v) => {
      const s = v.body();
      let upper = 0;
      let letters = 0;
      const end = Math.min(s.length, MAX_CAPS_SCAN);
      for (let i = 0; i < end; i++) {
        const c = s.charCodeAt(i);
        if (c >= 65 && c <= 90) upper++, letters++;
        else if (c >= 97 && c <= 122) letters++;
      }
      return letters >= min && upper / letters > r;
    };
  } }],
]);
