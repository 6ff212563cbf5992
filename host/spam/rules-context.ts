/**
 * The bounded views of one mail that the rules read (header values, visible body text, body text
 * with markup, URIs, the raw message), each built at most once per mail and only when a rule asks.
 * Every view is cut at a named limit so that no rule's regex ever runs over unbounded input.
 */
import type { MailHeader, ParsedMail } from "./types.js";

/** Header text one `header` rule sees (all fields of that name, joined by newlines). Real header
 *  fields are under 1 KiB; 8 KiB keeps long To/Received lists and stops header stuffing. */
export const MAX_HEADER_TEXT = 8 * 1024;
/** Text an `ALL` header rule sees ("Name: value" lines). Typical headers are 1-4 KiB. */
export const MAX_ALL_HEADERS_TEXT = 64 * 1024;
/** Visible text a `body` rule sees (subject + text parts + HTML text). The corpus averages 5.4 KB
 *  per mail; spam puts its pitch up front, so 64 KiB loses nothing useful and caps regex cost. */
export const MAX_BODY_TEXT = 64 * 1024;
/** Text a `rawbody` rule sees (text parts + HTML with markup): markup roughly doubles the size. */
export const MAX_RAWBODY_TEXT = 128 * 1024;
/** Bytes of the raw message a `full` rule sees (read as latin1, so one byte = one character). */
export const MAX_FULL_TEXT = 128 * 1024;
/** URIs a `uri` rule is tried on, and the length of each: spam rarely needs more than a few
 *  dozen links; a 2 KiB URI is already tracking junk. */
export const MAX_URIS = 256;
export const MAX_URI_LENGTH = 2048;

/** Appends parts to a string until `limit` characters, cutting the last part. */
function joinBounded(parts: readonly string[], limit: number): string {
  let out = "";
  for (const p of parts) {
    if (typeof p !== "string") continue;
    const room = limit - out.length;
    if (room <= 0) break;
    out += (out === "" ? "" : "\n") + (p.length > room ? p.slice(0, room) : p);
  }
  return out.length > limit ? out.slice(0, limit) : out;
}

function arr<T>(v: T[] | undefined | null): T[] {
  return Array.isArray(v) ? v : [];
}

export class MailView {
  private headerMap?: Map<string, MailHeader[]>;
  private cache = new Map<string, string>();
  private bodyText?: string;
  private rawBodyText?: string;
  private fullText?: string;
  private uriList?: string[];

  constructor(
    readonly mail: ParsedMail,
    readonly raw: Buffer,
  ) {}

  /** All fields named `lname` (lower case), in message order. */
  fields(lname: string): MailHeader[] {
    if (!this.headerMap) {
      this.headerMap = new Map();
      for (const h of arr(this.mail.headers)) {
        if (!h || typeof h.lname !== "string") continue;
        const list = this.headerMap.get(h.lname);
        if (list) list.push(h);
        else this.headerMap.set(h.lname, [h]);
      }
    }
    return this.headerMap.get(lname) ?? [];
  }

  has(lname: string): boolean {
    return this.fields(lname).length > 0;
  }

  /** The decoded (or raw) values of every field named `lname`, joined by newlines, bounded. */
  header(lname: string, raw = false): string {
    const key = (raw ? "r:" : "d:") + lname;
    let v = this.cache.get(key);
    if (v === undefined) {
      const values = this.fields(lname).map((h) => String((raw ? h.raw : h.value) ?? ""));
      v = joinBounded(values, MAX_HEADER_TEXT);
      this.cache.set(key, v);
    }
    return v;
  }

  /** Every field as "Name: value" lines, bounded. */
  allHeaders(raw = false): string {
    const key = raw ? "ALL:r" : "ALL:d";
    let v = this.cache.get(key);
    if (v === undefined) {
      const lines = arr(this.mail.headers).map((h) => `${h?.name}: ${raw ? h?.raw : h?.value}`);
      v = joinBounded(lines, MAX_ALL_HEADERS_TEXT);
      this.cache.set(key, v);
    }
    return v;
  }

  /** Subject, text parts and HTML parts' visible text. */
  body(): string {
    if (this.bodyText === undefined) {
      const subject = typeof this.mail.subject === "string" ? this.mail.subject : "";
      this.bodyText = joinBounded([subject, ...arr(this.mail.textParts), ...arr(this.mail.htmlText)], MAX_BODY_TEXT);
    }
    return this.bodyText;
  }

  /** Text parts and HTML parts with their markup. */
  rawBody(): string {
    if (this.rawBodyText === undefined) {
      this.rawBodyText = joinBounded([...arr(this.mail.textParts), ...arr(this.mail.htmlParts)], MAX_RAWBODY_TEXT);
    }
    return this.rawBodyText;
  }

  /** The first MAX_FULL_TEXT bytes of the raw message, one character per byte. */
  full(): string {
    if (this.fullText === undefined) {
      const raw = Buffer.isBuffer(this.raw) ? this.raw : Buffer.alloc(0);
      this.fullText = raw.toString("latin1", 0, Math.min(raw.length, MAX_FULL_TEXT));
    }
    return this.fullText;
  }

  uris(): string[] {
    if (this.uriList === undefined) {
      this.uriList = arr(this.mail.uris)
        .slice(0, MAX_URIS)
        .filter((u) => typeof u === "string")
        .map((u) => (u.length > MAX_URI_LENGTH ? u.slice(0, MAX_URI_LENGTH) : u));
    }
    return this.uriList;
  }
}
