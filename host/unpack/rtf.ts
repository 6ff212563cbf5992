/**
 * RTF embedded-object extractor. Objects dropped into an RTF document are stored as hex
 * in `{\*\objdata ...}` groups; decoded, that is an OLE1 object ([MS-OLEDS] 2.2.4
 * ObjectHeader + native data). The "Package" class wraps a plain file (clam.exe.rtf);
 * other classes carry their own native data, often a whole OLE2 compound file.
 *
 * Yields, per object: the decoded objdata bytes, and the native data or packaged file.
 * Work is linear in the input: every \objdata region is consumed once, and nested
 * \objdata inside it are not re-scanned (they would otherwise make overlapping,
 * quadratic output).
 */
import { parsePackage } from "./ole-package.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

const OBJDATA = "\\objdata";
/** OLE1 FormatID for an embedded object (1 = link, 5 = static picture) */
const FORMAT_EMBEDDED = 2;
/** Longest class / topic / item name we accept in an OLE1 header. Class names are short
 *  ProgIDs ("Word.Document.8"); [MS-OLEDS] caps ProgIDs at 39 characters. */
const MAX_OLE1_STRING = 256;

export function looksLikeRtf(data: Uint8Array): boolean {
  // Word opens anything starting "{\rt"; malware drops the rest of "{\rtf1" to dodge
  // scanners that look for it.
  return data.length >= 4 && data[0] === 0x7b && data[1] === 0x5c && data[2] === 0x72 && data[3] === 0x74;
}

export const unpackRtf: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  if (!looksLikeRtf(data)) throw new UnpackError("rtf", "no {\\rt header");
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
  let n = 0;
  for (let at = text.indexOf(OBJDATA); at >= 0; at = text.indexOf(OBJDATA, at)) {
    ctx.checkTime();
    const start = at + OBJDATA.length;
    if (/[a-z]/i.test(text[start] ?? "")) {
      at = start; // a longer control word such as \objdataX: not ours
      continue;
    }
    const { bytes, end } = decodeObjdata(data, start);
    at = end;
    if (bytes.length === 0) continue;
    const name = `objdata-${n++}`;
    ctx.charge(bytes.length);
    yield { name, data: bytes };
    const obj = parseOle1(bytes);
    if (!obj) continue;
    const pkg = obj.className === "Package" ? parsePackage(obj.native) : null;
    if (pkg) {
      ctx.charge(pkg.data.length);
      yield { name: `${name}/${pkg.name}`, data: pkg.data };
    } else if (obj.native.length > 0) {
      ctx.charge(obj.native.length);
      yield { name: `${name}/${obj.className || "native"}`, data: obj.native };
    }
  }
};

/**
 * Decodes the hex of one \objdata group, from `start` to the brace closing the group.
 * Whitespace and control words are skipped (RTF allows them anywhere); `\binN` embeds
 * N raw bytes. An odd trailing nibble is dropped. Two passes over the same region (size,
 * then fill) so the buffer is exactly as large as the output.
 */
function decodeObjdata(d: Uint8Array, start: number): { bytes: Uint8Array; end: number } {
  const sized = walkObjdata(d, start, null);
  const out = new Uint8Array(sized.count);
  walkObjdata(d, start, out);
  return { bytes: out, end: sized.end };
}

function walkObjdata(d: Uint8Array, start: number, out: Uint8Array | null): { count: number; end: number } {
  let o = 0;
  let half = -1;
  let depth = 0;
  let i = start;
  while (i < d.length) {
    const c = d[i];
    if (c === 0x7b) depth++;
    else if (c === 0x7d) {
      if (depth === 0) break;
      depth--;
    } else if (c === 0x5c) {
      const cw = controlWord(d, i + 1);
      if (cw.word === "bin" && cw.param > 0) {
        const raw = d.subarray(cw.next, Math.min(d.length, cw.next + cw.param));
        out?.set(raw, o);
        o += raw.length;
        i = cw.next + raw.length;
        continue;
      }
      i = cw.next;
      continue;
    } else {
      const v = hexValue(c);
      if (v >= 0) {
        if (half < 0) half = v;
        else {
          if (out) out[o] = (half << 4) | v;
          o++;
          half = -1;
        }
      }
    }
    i++;
  }
  return { count: o, end: i };
}

/** Parses `\word[-N][ ]` or a control symbol at `p` (just after the backslash). */
function controlWord(d: Uint8Array, p: number): { word: string; param: number; next: number } {
  let q = p;
  while (q < d.length && q - p < 32 && ((d[q] | 0x20) >= 0x61 && (d[q] | 0x20) <= 0x7a)) q++;
  if (q === p) {
    // control symbol: \'hh carries two hex digits that are not object data
    const skip = d[p] === 0x27 ? 3 : 1;
    return { word: "", param: 0, next: Math.min(d.length, p + skip) };
  }
  const word = Buffer.from(d.subarray(p, q)).toString("latin1");
  let r = q;
  if (d[r] === 0x2d) r++;
  let param = 0;
  // at most 10 digits: RTF parameters are signed 32-bit
  while (r < d.length && r - q < 11 && d[r] >= 0x30 && d[r] <= 0x39) param = param * 10 + (d[r++] - 0x30);
  if (d[q] === 0x2d) param = -param;
  if (d[r] === 0x20) r++;
  return { word, param, next: r };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

interface Ole1Object {
  className: string;
  native: Uint8Array;
}

/** [MS-OLEDS] 2.2.4 ObjectHeader + 2.2.5 EmbeddedObject; null if not an embedded object. */
export function parseOle1(b: Uint8Array): Ole1Object | null {
  if (b.length < 12) return null;
  if (u32(b, 4) !== FORMAT_EMBEDDED) return null;
  let p = 8;
  const strings: string[] = [];
  for (let k = 0; k < 3; k++) {
    if (p + 4 > b.length) return null;
    const len = u32(b, p);
    if (len > MAX_OLE1_STRING || p + 4 + len > b.length) return null;
    strings.push(Buffer.from(b.subarray(p + 4, p + 4 + len)).toString("latin1").replace(/\0.*$/s, ""));
    p += 4 + len;
  }
  if (p + 4 > b.length) return null;
  const size = u32(b, p);
  p += 4;
  return { className: strings[0], native: b.subarray(p, Math.min(b.length, p + size)) };
}

function u32(d: Uint8Array, off: number): number {
  return (d[off] | (d[off + 1] << 8) | (d[off + 2] << 16) | (d[off + 3] << 24)) >>> 0;
}
