/**
 * mbox: messages separated by "From " envelope lines. A separator is a line starting with
 * "From " at the start of the file or after an empty line (mboxo/mboxrd writers always put
 * one there, and body lines starting with "From " are escaped as ">From "), so a stray
 * "From " inside a paragraph does not split a message. Each message is yielded without its
 * envelope line; ">From " escapes are left as they are (they only occur in text).
 */
import { asBuffer } from "./base64.js";
import { headerColon, lineEndOf } from "./mime-headers.js";
import type { UnpackCtx, Unpacker } from "./types.js";
import { UnpackError } from "./types.js";

const LF = 0x0a;
const CR = 0x0d;

/** Messages examined between two time checks. */
const MESSAGES_PER_TIME_CHECK = 256;

function isEnvelopeLine(buf: Buffer, pos: number): boolean {
  return buf.toString("latin1", pos, pos + 5) === "From " && pos + 5 < buf.length && buf[pos + 5] > 0x20;
}

/** "From <sender> ..." on the first line, then a header line. */
export function looksLikeMbox(data: Uint8Array): boolean {
  const buf = asBuffer(data);
  if (!isEnvelopeLine(buf, 0)) return false;
  const next = lineEndOf(buf, 0, buf.length) + 1;
  if (next >= buf.length) return false;
  return headerColon(buf, next, lineEndOf(buf, next, buf.length)) !== -1;
}

/** Start of the next separator line after `from`, or -1. */
function nextSeparator(buf: Buffer, from: number): number {
  let p = from;
  for (;;) {
    const i = buf.indexOf("\nFrom ", p);
    if (i === -1) return -1;
    const lineStart = i + 1;
    // the line before must be empty: "\n\nFrom " or "\n\r\nFrom "
    const blankBefore = (i >= 1 && buf[i - 1] === LF) || (i >= 2 && buf[i - 1] === CR && buf[i - 2] === LF);
    if (blankBefore && isEnvelopeLine(buf, lineStart)) return lineStart;
    p = lineStart;
  }
}

export const unpackMbox: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx) {
  const buf = asBuffer(data);
  if (!isEnvelopeLine(buf, 0)) throw new UnpackError("mbox", "does not start with a From_ line");
  let sep = 0;
  for (let n = 1; sep !== -1; n++) {
    if (n % MESSAGES_PER_TIME_CHECK === 0) ctx.checkTime();
    const start = Math.min(buf.length, lineEndOf(buf, sep, buf.length) + 1);
    sep = nextSeparator(buf, start);
    const end = sep === -1 ? buf.length : sep;
    if (end <= start) continue;
    ctx.charge(end - start);
    yield { name: `msg-${n}`, data: buf.subarray(start, end) };
  }
};
