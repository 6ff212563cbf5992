/**
 * HTML: the payloads HTML carries encoded inside it ("HTML smuggling").
 *   - data: URIs with ";base64," (href, src, CSS url(), window.location ...), decoded with
 *     the forgiving rules browsers use (whitespace ignored);
 *   - long base64 string runs (atob("...") in scripts, Blob parts), at least
 *     MIN_BLOB_CHARS digits in a row.
 * The HTML itself is scanned by the orchestrator as text; this only yields the decoded
 * blobs. Every blob is charged; their number is bounded by the orchestrator's maxFiles.
 */
import { asBuffer, decodeBase64, throwOverflow } from "./base64.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";

/** How far looksLikeHtml reads: a document shows a tag within its first few lines. */
const HTML_SNIFF_BYTES = 4096;

/** Shortest base64 run outside data: URIs we decode. Shorter runs are mostly identifiers,
 *  hashes and tokens; a smuggled executable is kilobytes (1024 chars = 768 bytes). */
const MIN_BLOB_CHARS = 1024;

/** How far back from ";base64," we look for "data:" (the media type and its parameters). */
const MAX_MEDIA_TYPE = 256;

/** Blob runs examined between two time checks. */
const RUNS_PER_TIME_CHECK = 1024;

const HTML_START = /^(?:\ufeff|\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html|head|body|meta|title|script|a\s|div|p[\s>]|table|iframe|img|form|span|br|style|!--)/i;

/** base64 digits (standard and URL-safe alphabets) */
const IS_DIGIT = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_") IS_DIGIT[c.charCodeAt(0)] = 1;

export function looksLikeHtml(data: Uint8Array): boolean {
  return HTML_START.test(asBuffer(data).toString("latin1", 0, Math.min(data.length, HTML_SNIFF_BYTES)));
}

/** End of a data: URI's base64 text starting at pos: the closing quote/paren of the
 *  attribute, or the first byte that can not be part of it. */
function dataUriEnd(buf: Buffer, pos: number): number {
  let p = pos;
  while (p < buf.length) {
    const c = buf[p];
    if (IS_DIGIT[c] || c === 0x3d || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x25) p++;
    else break;
  }
  return p;
}

/** Decode a base64 region (URL-safe digits mapped to standard ones) and charge it. */
function decodeBlob(buf: Buffer, start: number, end: number, ctx: UnpackCtx): Buffer {
  let src = buf.subarray(start, end);
  if (src.includes(0x2d) || src.includes(0x5f) || src.includes(0x25)) {
    // base64url, or percent-escaped: normalise a copy ("%2B" etc. are rare; drop escapes)
    src = Buffer.from(src.toString("latin1").replace(/%[0-9a-fA-F]{2}/g, "").replace(/-/g, "+").replace(/_/g, "/"), "latin1");
  }
  const room = ctx.room();
  const r = decodeBase64(src, 0, src.length, room);
  if (r.overflow) throwOverflow(ctx, room);
  ctx.charge(r.data.length);
  return r.data;
}

export const unpackHtml: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Generator<Child> {
  const buf = asBuffer(data);
  /** regions already decoded as data: URIs, so the blob search skips them */
  const taken: Array<[number, number]> = [];
  let k = 0;
  for (let p = 0; ; ) {
    const marker = buf.indexOf(";base64,", p);
    if (marker === -1) break;
    const head = buf.toString("latin1", Math.max(0, marker - MAX_MEDIA_TYPE), marker).toLowerCase();
    const start = marker + 8;
    p = start;
    if (!head.includes("data:")) continue;
    const end = dataUriEnd(buf, start);
    p = end;
    taken.push([start, end]);
    const blob = decodeBlob(buf, start, end, ctx);
    if (blob.length > 0) yield { name: `data-uri-${++k}`, data: blob };
  }
  yield* longRuns(buf, taken, ctx);
};

/** Runs of at least MIN_BLOB_CHARS base64 digits outside data: URIs. */
function* longRuns(buf: Buffer, taken: Array<[number, number]>, ctx: UnpackCtx): Generator<Child> {
  let k = 0;
  let t = 0;
  let runs = 0;
  let p = 0;
  while (p < buf.length) {
    // skip to the next digit, then measure the run
    while (p < buf.length && !IS_DIGIT[buf[p]]) p++;
    const start = p;
    while (p < buf.length && IS_DIGIT[buf[p]]) p++;
    if (p - start < MIN_BLOB_CHARS) continue;
    if (++runs % RUNS_PER_TIME_CHECK === 0) ctx.checkTime();
    while (t < taken.length && taken[t][1] <= start) t++;
    if (t < taken.length && taken[t][0] <= start) continue; // inside a data: URI
    let end = p;
    while (end < buf.length && buf[end] === 0x3d && end - p < 2) end++;
    const blob = decodeBlob(buf, start, end, ctx);
    if (blob.length > 0) yield { name: `base64-blob-${++k}`, data: blob };
  }
}
