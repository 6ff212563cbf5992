/**
 * cpio unpacker for the four formats in use: old binary (magic 070707 as a 16-bit word,
 * big- or little-endian), odc (POSIX portable ASCII, "070707"), and newc / crc (SVR4
 * ASCII hex, "070701" / "070702"). Only regular files become children; their data is a
 * view into the input. Each header declares its own format, so mixed archives work.
 *
 * Broken archives: an unknown magic ends the archive (children before it are kept); a
 * member cut short by the end of input is yielded with the bytes that are there.
 */
import { LimitExceeded } from "../limits.js";
import { asBytes } from "./bounded.js";
import { UnpackError, type Unpacker } from "./types.js";

const TRAILER = "TRAILER!!!";
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** Entry names longer than this are cut for display; PATH_MAX is 4096. */
const MAX_NAME_BYTES = 4096;
/** Headers walked between two checkTime() calls. */
const HEADERS_PER_TIME_CHECK = 256;

interface Entry {
  mode: number;
  nameSize: number;
  fileSize: number;
  headerSize: number;
  /** alignment of (header + name) and of the data: 4 for newc, 2 for binary, 1 for odc */
  align: number;
}

const latin1 = new TextDecoder("latin1");

function text(d: Uint8Array, off: number, len: number): string {
  return latin1.decode(d.subarray(off, off + len));
}

/** Parse a fixed-width number; NaN if the field has other characters. */
function num(d: Uint8Array, off: number, len: number, radix: 8 | 16): number {
  const s = text(d, off, len);
  const ok = radix === 8 ? /^[0-7]+$/.test(s) : /^[0-9a-fA-F]+$/.test(s);
  return ok ? parseInt(s, radix) : NaN;
}

function parseHeader(d: Uint8Array, p: number): Entry | undefined {
  const magic = text(d, p, 6);
  if ((magic === "070701" || magic === "070702") && p + 110 <= d.length) {
    return { mode: num(d, p + 14, 8, 16), fileSize: num(d, p + 54, 8, 16), nameSize: num(d, p + 94, 8, 16), headerSize: 110, align: 4 };
  }
  if (magic === "070707" && p + 76 <= d.length) {
    return { mode: num(d, p + 18, 6, 8), nameSize: num(d, p + 59, 6, 8), fileSize: num(d, p + 65, 11, 8), headerSize: 76, align: 1 };
  }
  if (p + 26 <= d.length) {
    const le = d[p] === 0xc7 && d[p + 1] === 0x71;
    const be = d[p] === 0x71 && d[p + 1] === 0xc7;
    if (!le && !be) return undefined;
    const u16 = (o: number): number => (le ? d[p + o] | (d[p + o + 1] << 8) : (d[p + o] << 8) | d[p + o + 1]);
    // 32-bit fields are two 16-bit words, most significant word first, in either byte order
    return { mode: u16(6), nameSize: u16(20), fileSize: u16(22) * 65536 + u16(24), headerSize: 26, align: 2 };
  }
  return undefined;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export const unpackCpio: Unpacker = function* (data, ctx) {
  let files = 0;
  let headers = 0;
  for (let p = 0; p < data.length; ) {
    if (++headers % HEADERS_PER_TIME_CHECK === 0) ctx.checkTime();
    const e = parseHeader(data, p);
    if (!e || !(e.nameSize >= 1 && e.fileSize >= 0 && e.mode >= 0)) {
      if (headers === 1) throw new UnpackError("cpio", "no cpio header at offset 0");
      break;
    }
    const nameStart = p + e.headerSize;
    const nameBytes = data.subarray(nameStart, Math.min(nameStart + e.nameSize - 1, data.length)); // minus the NUL
    const name = latin1.decode(nameBytes.subarray(0, MAX_NAME_BYTES));
    if (name === TRAILER) break;
    const dataStart = p + alignUp(e.headerSize + e.nameSize, e.align);
    const body = data.subarray(Math.min(dataStart, data.length), Math.min(dataStart + e.fileSize, data.length));
    if ((e.mode & S_IFMT) === S_IFREG) {
      if (++files > ctx.limits.maxFiles) {
        throw new LimitExceeded("MaxFiles", `cpio has more than ${ctx.limits.maxFiles} files`);
      }
      ctx.charge(body.length);
      yield { name, data: asBytes(body) };
    }
    p = dataStart + alignUp(e.fileSize, e.align);
  }
};
