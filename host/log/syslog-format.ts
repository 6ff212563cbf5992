/**
 * Turning one log call into one syslog line for `logger --prio-prefix` (syslog-pipe.ts):
 * `<PRI>class: message key=value ...`, where PRI = facility * 8 + severity (RFC 5424 §6.2.1).
 * Pure functions: no I/O, nothing here can fail on any input.
 *
 * One call is always exactly one line: every control character (CR, LF, NUL, ESC, DEL, C1, the
 * Unicode line/paragraph separators) in the message or the fields is written as a backslash
 * escape, and a backslash itself as `\\`, so a mail that puts "\nbulwark[1]: clean" into a
 * subject or a file name cannot forge a second log line (log injection).
 */
import type { LogClass, LogFields } from "./types.js";

/** Facility codes of RFC 5424 §6.2.1 for the schema's `syslog_facility` values. */
export const SYSLOG_FACILITY_CODES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/**
 * Severity of each class (RFC 5424: 3 err, 4 warning, 5 notice, 6 info, 7 debug).
 * The four per-message/per-part summary classes are `notice`, not `info`: they are the product
 * of a mail filter ("normal but significant"), and putting them above info keeps the manual's
 * class order (error, warning, summall, summ, partall, part, info, debug) as a severity order,
 * so one selector such as `local3.notice` keeps errors, warnings and verdicts while leaving out
 * start/stop chatter and debug. summ and summall share a severity; the line's `class:` prefix
 * tells them apart.
 */
export const SYSLOG_SEVERITY: Readonly<Record<LogClass, number>> = {
  error: 3, warning: 4, summall: 5, summ: 5, partall: 5, part: 5, info: 6, debug: 7,
};

/**
 * Most bytes of one line's text (after the `<PRI>`), escapes included. RFC 3164 syslog and old
 * syslogds stop at 1024 bytes, but Debian's receivers (rsyslog's default maxMessageSize and
 * journald) take 8 KiB, and a summary line with several recipients and signature names easily
 * passes 1 KiB. 8192 minus room for the header logger adds ("Mmm dd hh:mm:ss tag[pid]: ",
 * under 80 bytes with the tag bounded below) keeps a whole line inside rsyslog's 8 KiB; a 1 KiB
 * syslogd still cuts at its own limit, and because the class and message come first and the
 * fields after, what survives the cut is the useful part.
 */
export const MAX_SYSLOG_TEXT_BYTES = 8000;
/** `logger --size`: logger splits a longer stdin line into several messages, so it must be
 *  above MAX_SYSLOG_TEXT_BYTES plus logger's own header. */
export const LOGGER_MAX_MESSAGE_BYTES = 8192;
/** RFC 3164 §4.1.3: the TAG is at most 32 characters. */
export const MAX_TAG_LENGTH = 32;

const TRUNCATED_MARK = " ...[truncated]";

/**
 * PRI for a facility name and a class. `kern` becomes `user`: a user process may not log as
 * the kernel (glibc's syslog(3) does the same, and logger reads facility 0 in a prefix as
 * "no facility given").
 */
export function syslogPri(facility: string, cls: LogClass): number {
  const code = SYSLOG_FACILITY_CODES[facility];
  if (code === undefined) throw new Error(`bulwark: unknown syslog facility "${facility}"`);
  return (code === 0 ? 1 : code) * 8 + SYSLOG_SEVERITY[cls];
}

/** A tag logger and syslog receivers accept: letters, digits, `_.-`, at most MAX_TAG_LENGTH. */
export function syslogTag(tag: string): string {
  const clean = tag.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, MAX_TAG_LENGTH);
  return clean === "" ? "bulwark" : clean;
}

/** Backslash-escape everything that could end or split a line (see the file header). */
export function escapeLogText(s: string): string {
  return s.replace(/[\\\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    switch (c) {
      case "\\": return "\\\\";
      case "\n": return "\\n";
      case "\r": return "\\r";
      case "\t": return "\\t";
    }
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

/** A field value as one token: escaped, and in double quotes when it holds a space, `"` or `=`
 *  or is empty, so `key=value` pairs split unambiguously. */
function fieldValue(v: string | number | boolean | null | string[]): string {
  if (v === null) return "null";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  const text = Array.isArray(v) ? v.map((item) => escapeLogText(String(item)).replace(/,/g, "\\x2c")).join(",") : escapeLogText(v);
  return text === "" || /[\s"=]/.test(text) ? `"${text.replace(/"/g, '\\"')}"` : text;
}

/** Field keys are identifiers: anything else becomes `_` (a key is data from the caller too). */
function fieldKey(k: string): string {
  const clean = k.replace(/[^A-Za-z0-9_.-]/g, "_");
  return clean === "" ? "_" : clean;
}

/** `class: message key=value ...` escaped and cut to MAX_SYSLOG_TEXT_BYTES. */
export function syslogText(cls: LogClass, msg: string, fields?: LogFields): string {
  let text = `${cls}: ${escapeLogText(String(msg))}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      text += ` ${fieldKey(k)}=${fieldValue(v)}`;
    }
  }
  return truncateUtf8(text, MAX_SYSLOG_TEXT_BYTES);
}

/** The full stdin line for logger, newline included. */
export function syslogLine(facility: string, cls: LogClass, msg: string, fields?: LogFields): string {
  return `<${syslogPri(facility, cls)}>${syslogText(cls, msg, fields)}\n`;
}

/** Cut `text` to at most `max` UTF-8 bytes on a character boundary, marking the cut. */
export function truncateUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text, "utf8") <= max) return text;
  const buf = Buffer.from(text, "utf8");
  let end = max - TRUNCATED_MARK.length;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--; // do not split a multi-byte character
  return buf.subarray(0, end).toString("utf8") + TRUNCATED_MARK;
}
