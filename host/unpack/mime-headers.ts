/**
 * Byte-level reading of one RFC 822 header block (a message's or a MIME part's headers):
 * where it ends, and the unfolded values of the few fields the unpacker needs.
 * Lines end in LF with an optional CR before it (CR-only mail is converted before this).
 * Work is bounded by ClamAV's e-mail limits; past them the rest of the block is skipped
 * with one indexOf and the caller is told which limit was hit (a verdict, not a failure).
 */

/** Max header fields per block. ClamAV HEURISTIC_EMAIL_MAX_HEADERS (mbox.c): real mail has
 *  tens to a few hundred (long Received chains); "a million headers" bombs have more. */
export const MAX_HEADER_FIELDS = 1024;

/** Max bytes of one header block. ClamAV HEURISTIC_EMAIL_MAX_HEADER_BYTES (256 KiB): far
 *  above real headers, and it bounds the per-line work on a 10 MB single-line header. */
export const MAX_HEADER_BYTES = 256 * 1024;

/** Longest header field name we accept when sniffing: RFC 5322 sets no limit, but real names
 *  are short and a long run without ':' is body text, not a header. */
const MAX_FIELD_NAME = 76;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/** The fields the unpacker uses; others are counted but not kept. */
const WANTED_FIELDS = new Set(["content-type", "content-transfer-encoding", "content-disposition"]);

export type HeaderLimit = "EmailHeaders" | "EmailHeaderBytes";

export interface HeaderBlock {
  /** unfolded latin1 values of the wanted fields, by lowercase name; first occurrence wins */
  fields: Map<string, string>;
  /** offset of the first body byte (after the blank line) */
  bodyStart: number;
  /** false when the entity starts directly with text that is not a header line */
  hasHeaders: boolean;
}

/** End of the line starting at pos (index of its LF, or end). */
export function lineEndOf(buf: Buffer, pos: number, end: number): number {
  const lf = buf.indexOf(LF, pos);
  return lf === -1 || lf >= end ? end : lf;
}

/** If buf[pos, lineEnd) starts with `Name:` (optional spaces/tabs before the colon),
 *  the index of the colon, else -1. */
export function headerColon(buf: Buffer, pos: number, lineEnd: number): number {
  const max = Math.min(lineEnd, pos + MAX_FIELD_NAME);
  let p = pos;
  while (p < max) {
    const c = buf[p];
    if (c === COLON) break;
    if (c <= SP || c >= 0x7f) break;
    p++;
  }
  if (p === pos) return -1;
  while (p < lineEnd && (buf[p] === SP || buf[p] === TAB)) p++;
  return p < lineEnd && buf[p] === COLON ? p : -1;
}

/** Offset just after the first empty line at or after pos (pos must be a line start), or end. */
export function afterBlankLine(buf: Buffer, pos: number, end: number): number {
  if (pos >= end) return end;
  if (buf[pos] === LF) return pos + 1;
  if (buf[pos] === CR && pos + 1 < end && buf[pos + 1] === LF) return pos + 2;
  const view = buf.subarray(pos, end);
  const a = view.indexOf("\n\n");
  const b = view.indexOf("\n\r\n");
  if (a === -1 && b === -1) return end;
  if (b === -1 || (a !== -1 && a < b)) return pos + a + 2;
  return pos + b + 3;
}

/** Offset just after the blank line that ends the header block at the start of `buf` (searched
 *  within `end` bytes), or -1 when there is none: the whole scanned part is header. */
export function headerBlockEnd(buf: Buffer, end: number = buf.length): number {
  const at = afterBlankLine(buf, 0, end);
  if (at < end) return at;
  // afterBlankLine also answers `end` when it found nothing: a blank line ending exactly at
  // `end` is one that was found
  const last = end - 1;
  if (last < 0 || buf[last] !== LF) return -1;
  if (last === 0 || buf[last - 1] === LF) return end;
  return buf[last - 1] === CR && (last === 1 || buf[last - 2] === LF) ? end : -1;
}

/** Read the header block starting at `start`. `onLimit` is called (once per block) when a
 *  limit cuts the block short; the body still starts after the blank line. */
export function readHeaderBlock(
  buf: Buffer,
  start: number,
  end: number,
  onLimit: (limit: HeaderLimit) => void,
): HeaderBlock {
  const fields = new Map<string, string>();
  let current: string[] | null = null; // lines of the wanted field being read
  let currentName = "";
  let count = 0;
  let pos = start;
  const finish = () => {
    if (current) fields.set(currentName, current.join(""));
    current = null;
  };
  while (pos < end) {
    const c = buf[pos];
    if (c === LF) {
      finish();
      return { fields, bodyStart: pos + 1, hasHeaders: pos > start };
    }
    if (c === CR && pos + 1 < end && buf[pos + 1] === LF) {
      finish();
      return { fields, bodyStart: pos + 2, hasHeaders: pos > start };
    }
    const lineEnd = lineEndOf(buf, pos, end);
    const folded = c === SP || c === TAB;
    const colon = folded ? -1 : headerColon(buf, pos, lineEnd);
    // a first line that is not `Name: value` means the entity has no headers at all
    if (pos === start && colon === -1) return { fields, bodyStart: start, hasHeaders: false };
    const overCount = colon !== -1 && count >= MAX_HEADER_FIELDS;
    if (overCount || lineEnd + 1 - start > MAX_HEADER_BYTES) {
      finish();
      onLimit(overCount ? "EmailHeaders" : "EmailHeaderBytes");
      return { fields, bodyStart: afterBlankLine(buf, pos, end), hasHeaders: true };
    }
    const textEnd = lineEnd > pos && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (folded) {
      current?.push(buf.toString("latin1", pos, textEnd));
    } else if (colon === -1) {
      finish(); // junk inside the block: clients ignore it until the blank line
    } else {
      finish();
      count++;
      const name = buf.toString("latin1", pos, colon).trimEnd().toLowerCase();
      if (WANTED_FIELDS.has(name) && !fields.has(name)) {
        current = [buf.toString("latin1", colon + 1, textEnd)];
        currentName = name;
      }
    }
    pos = lineEnd + 1;
  }
  finish();
  return { fields, bodyStart: end, hasHeaders: true };
}
