/**
 * SpamAssassin's spamd protocol, reply side: the bytes spamd 4.0 sends for each command, as
 * Debian's spamc 4.0 reads them (checked against a private spamd):
 *
 *   CHECK          SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n
 *   SYMBOLS        ... Content-length: N\r\nSpam: ...\r\n\r\nGTUBE,OTHER   (no line end after)
 *   REPORT(_IFSPAM) ... Content-length: N\r\nSpam: ...\r\n\r\n<report text>  (IFSPAM: empty for ham)
 *   PROCESS        ... Content-length: N\r\nSpam: ...\r\n\r\n<the marked message>
 *   HEADERS        as PROCESS, the marked header block only (spamc appends the original body)
 *   PING           SPAMD/1.5 0 PONG\r\n
 *   TELL           SPAMD/1.1 0 EX_OK\r\n[DidSet: local\r\n][DidRemove: local\r\n]\r\n
 *   an error       SPAMD/1.0 <sysexits code> <text>\r\n, then the connection closes
 *
 * spamc reads `Spam: <word> ; <score> / <threshold>` with the word compared to "true" and the
 * numbers printed with one decimal (`spamc -c` prints them as `score/threshold`). Ignoring the
 * reply's code, spamc fails an error reply by the connection closing before the blank line:
 * `spamc -x` then exits 74 (EX_IOERR), which MTAs treat as a temporary failure; a blank line
 * after an error would make it exit 76 (EX_PROTOCOL), a permanent one. So errors are one line.
 */
import { formatScore } from "../spam/mark.js";
import type { SpamResult } from "../spam/types.js";
import { EX_NAMES, quoteLine } from "./protocol.js";
import { headerBlockEnd } from "../unpack/mime-headers.js";

/** Longest text of an error reply line; spamc reads reply lines into an 8 KiB buffer. */
const MAX_ERROR_TEXT = 300;
/** Longest rule description in a report line (rule files are operator text, but bounded). */
const MAX_DESCRIPTION = 120;

const CRLF = "\r\n";

export function errorReply(code: number, text: string): Buffer {
  return Buffer.from(`SPAMD/1.0 ${code} ${quoteLine(text, MAX_ERROR_TEXT)}${CRLF}`, "latin1");
}

export function pongReply(): Buffer {
  return Buffer.from(`SPAMD/1.5 0 PONG${CRLF}`, "latin1");
}

/** The `Spam:` header's value: True only for spam (probable spam is below the threshold). */
export function spamHeader(r: SpamResult): string {
  return `Spam: ${r.status === "spam" ? "True" : "False"} ; ${formatScore(r.score)} / ${formatScore(r.required)}`;
}

export function checkReply(r: SpamResult): Buffer {
  return Buffer.from(`SPAMD/1.1 0 ${EX_NAMES[0]}${CRLF}${spamHeader(r)}${CRLF}${CRLF}`, "latin1");
}

/** A reply with a body (SYMBOLS, REPORT, PROCESS, HEADERS): head and body, for one writev. */
export function bodyReply(r: SpamResult, body: Buffer): Buffer[] {
  const head = `SPAMD/1.1 0 ${EX_NAMES[0]}${CRLF}Content-length: ${body.length}${CRLF}${spamHeader(r)}${CRLF}${CRLF}`;
  return [Buffer.from(head, "latin1"), body];
}

export function tellReply(didSet: boolean, didRemove: boolean): Buffer {
  const lines = [`SPAMD/1.1 0 ${EX_NAMES[0]}`];
  if (didSet) lines.push("DidSet: local");
  if (didRemove) lines.push("DidRemove: local");
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF, "latin1");
}

/** A rule name as it may appear in a comma-separated list (the engine's names are upper-case
 *  words already; anything else is replaced rather than let break the list). */
function safeName(name: string): string {
  const n = name.replace(/[^A-Za-z0-9_.-]/g, "_");
  return n.length ? n.slice(0, 64) : "_";
}

/** SYMBOLS: the names of the reasons, highest score first, comma-separated, no line end. */
export function symbolsText(r: SpamResult): string {
  return [...r.reasons].sort((a, b) => b.score - a.score || a.name.localeCompare(b.name)).map((x) => safeName(x.name)).join(",");
}

const fmtPoints = (n: number) => {
  const s = formatScore(n);
  return s.length > 5 ? String(Math.round(n)) : s;
};

/** REPORT: a short human-readable table in the layout SpamAssassin users know. */
export function reportText(r: SpamResult): string {
  const lines: string[] = [];
  const verdict = r.status === "spam" ? "spam" : r.status === "probable" ? "probable spam" : "not spam";
  lines.push(`Bulwark classified this message as ${verdict}.`, "");
  if (r.skipped) lines.push(`Classification was skipped: ${quoteLine(r.skipped, MAX_DESCRIPTION)}`, "");
  lines.push(`Content analysis details:   (${formatScore(r.score)} points, ${formatScore(r.required)} required)`, "");
  lines.push(" pts rule name              description");
  lines.push("---- ---------------------- --------------------------------------------------");
  for (const x of [...r.reasons].sort((a, b) => b.score - a.score)) {
    lines.push(`${fmtPoints(x.score).padStart(4)} ${safeName(x.name).padEnd(22)} ${quoteLine(x.description ?? "", MAX_DESCRIPTION)}`);
  }
  for (const f of r.softFailures ?? []) lines.push(`     (not checked: ${quoteLine(f, MAX_DESCRIPTION)})`);
  return lines.join("\n") + "\n\n";
}

/** HEADERS: the marked message's header block, through its empty line. A message without a
 *  body separator is all header: it gets the empty line. */
export function headerBlock(marked: Buffer): Buffer {
  const end = headerBlockEnd(marked);
  if (end >= 0) return marked.subarray(0, end);
  return Buffer.concat([marked, Buffer.from(marked.length && marked[marked.length - 1] === 0x0a ? "\n" : "\n\n", "latin1")]);
}
