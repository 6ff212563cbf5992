/**
 * tar unpacker: v7, ustar (prefix + name), GNU (long names 'L', base-256 sizes) and POSIX
 * pax ('x' headers: path, size). Only regular files become children; their data is a view
 * into the input, so tar itself amplifies nothing, but every child is still charged and
 * counted against limits.maxFiles.
 *
 * Broken archives: a bad header checksum ends the archive (children before it are kept);
 * a member cut short by the end of input is yielded with the bytes that are there.
 */
import { LimitExceeded } from "../limits.js";
import { asBytes } from "./bounded.js";
import { tarChecksumOk } from "./filetype.js";
import { UnpackError, type Unpacker } from "./types.js";

const BLOCK = 512;
/** GNU long names and pax path values: Linux PATH_MAX is 4096; we keep up to 64 KiB so a
 *  padded name is still shown, and ignore the rest (it is only the verdict path). */
const MAX_NAME_BYTES = 64 * 1024;
/** pax extended headers parsed for path/size; real ones are a few hundred bytes. Larger
 *  ones are skipped unparsed (their data is still skipped over correctly). */
const MAX_PAX_BYTES = 1024 * 1024;
/** Headers walked between two checkTime() calls. */
const HEADERS_PER_TIME_CHECK = 256;

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

/** NUL-terminated string field */
function field(b: Uint8Array, off: number, len: number, decoder = latin1): string {
  const f = b.subarray(off, off + len);
  const end = f.indexOf(0);
  return decoder.decode(end < 0 ? f : f.subarray(0, end));
}

/** Numeric field: octal text, or GNU base-256 (high bit of the first byte set). */
function numberField(b: Uint8Array, off: number, len: number): number {
  if (b[off] & 0x80) {
    if (b[off] & 0x40) return -1; // negative base-256: not a size
    let v = b[off] & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    return v;
  }
  let v = 0;
  for (let i = off; i < off + len; i++) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x37) v = v * 8 + (c - 0x30);
    else if (c === 0 || (c === 0x20 && v > 0)) break;
  }
  return v;
}

/** pax records "LEN key=value\n"; only path and size matter to us. */
function parsePax(data: Uint8Array): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let p = 0;
  while (p < data.length) {
    const space = data.indexOf(0x20, p);
    if (space < 0) break;
    const len = Number(latin1.decode(data.subarray(p, space)));
    if (!Number.isInteger(len) || len <= space - p || p + len > data.length) break;
    const record = utf8.decode(data.subarray(space + 1, p + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) {
      const key = record.slice(0, eq);
      const value = record.slice(eq + 1);
      if (key === "path") out.path = value.slice(0, MAX_NAME_BYTES);
      if (key === "size" && /^\d+$/.test(value)) out.size = Number(value);
    }
    p += len;
  }
  return out;
}

export const unpackTar: Unpacker = function* (data, ctx) {
  let files = 0;
  let headers = 0;
  let longName: string | undefined;
  let pax: { path?: string; size?: number } = {};
  for (let pos = 0; pos + BLOCK <= data.length; ) {
    if (++headers % HEADERS_PER_TIME_CHECK === 0) ctx.checkTime();
    const h = data.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    if (!tarChecksumOk(h)) {
      if (headers === 1) throw new UnpackError("tar", "first header has a bad checksum");
      break;
    }
    const type = h[156];
    const isMeta = type === 0x4c || type === 0x4b || type === 0x78 || type === 0x67; // L K x g
    const headerSize = numberField(h, 124, 12);
    const size = isMeta ? headerSize : (pax.size ?? headerSize); // pax size= describes the next member
    if (size < 0) break;
    const dataStart = pos + BLOCK;
    const dataEnd = Math.min(dataStart + size, data.length);
    const body = data.subarray(dataStart, dataEnd);
    if (type === 0x4c /* L: GNU long name */) {
      longName = field(body, 0, MAX_NAME_BYTES);
    } else if (type === 0x78 /* x: pax header */) {
      pax = body.length <= MAX_PAX_BYTES ? parsePax(body) : {};
    } else if (type === 0x30 || type === 0 || type === 0x37 /* regular, old regular, contiguous */) {
      if (++files > ctx.limits.maxFiles) {
        throw new LimitExceeded("MaxFiles", `tar has more than ${ctx.limits.maxFiles} files`);
      }
      ctx.charge(body.length);
      yield { name: pax.path ?? longName ?? headerName(h), data: asBytes(body) };
    }
    if (!isMeta) {
      longName = undefined;
      pax = {};
    }
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
};

function headerName(h: Uint8Array): string {
  const name = field(h, 0, 100);
  const isUstar = field(h, 257, 6) === "ustar"; // POSIX "ustar\0"; GNU "ustar  " has no prefix field
  const prefix = isUstar ? field(h, 345, 155) : "";
  return prefix ? `${prefix}/${name}` : name;
}
