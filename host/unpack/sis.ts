/**
 * Symbian installation packages (.sis, EPOC releases 3-6, the pre-Symbian-9 layout):
 * a 4-UID header, then file records pointing at each file's data, zlib-compressed
 * unless the header's "not compressed" option is set. Yields every file, named by its
 * destination path's last component.
 *
 * Header (little-endian): UID1, UID2 (0x10003A12 for EPOC 6, 0x1000006D before),
 * UID3 0x10000419, UID4 checksum; u16 at 20 = file record count, u16 at 18 = language
 * count, u16 at 36 = options (1 = names in UTF-16, 8 = not compressed), u32 at 52 =
 * first file record. Records: u32 type (0 file, 1 multi-language file, 2 options,
 * 3 if, 4 else-if, 5 else, 6 end-if) then type-specific fields.
 */
import { boundedInflate } from "./bounded-inflate.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

const UID_SIS = 0x10000419;
const UID_EPOC6 = 0x10003a12;
const UID_EPOC5 = 0x1000006d;
const OPT_UNICODE = 0x1;
const OPT_NOT_COMPRESSED = 0x8;
/** Languages per multi-language record we follow. Symbian defines ~100 language codes;
 *  the count comes from the header, so without a cap a crafted header would make every
 *  record claim 65535 copies of a file. */
const MAX_LANGUAGES = 128;
/** Longest file name kept (Symbian paths are limited to 256 characters). */
const MAX_NAME = 256;

export function looksLikeSis(data: Uint8Array): boolean {
  if (data.length < 68) return false;
  const uid2 = u32(data, 4);
  return (uid2 === UID_EPOC6 || uid2 === UID_EPOC5) && u32(data, 8) === UID_SIS;
}

export const unpackSis: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  if (!looksLikeSis(data)) throw new UnpackError("sis", "no SIS UIDs");
  const epoc6 = u32(data, 4) === UID_EPOC6;
  const languages = Math.min(MAX_LANGUAGES, Math.max(1, u16(data, 18)));
  const records = u16(data, 20);
  const options = u16(data, 36);
  let p = u32(data, 52);
  for (let r = 0; r < records && p + 4 <= data.length; r++) {
    ctx.checkTime();
    const type = u32(data, p);
    if (type === 0 || type === 1) {
      const copies = type === 0 ? 1 : languages;
      const name = fileName(data, p, options);
      const lengths = p + 28;
      const originals = lengths + copies * 8;
      for (let k = 0; k < copies; k++) {
        const len = u32(data, lengths + k * 8);
        const ptr = u32(data, lengths + k * 8 + 4);
        if (len === 0 || ptr >= data.length) continue;
        const raw = data.subarray(ptr, Math.min(data.length, ptr + len));
        const body = options & OPT_NOT_COMPRESSED ? raw : (boundedInflate(raw, ctx) ?? raw);
        ctx.charge(body.length);
        yield { name: copies > 1 ? `${name}.lang${k}` : name, data: body };
      }
      // fixed fields, (length, pointer) per copy, EPOC 6 original lengths, MIME (len, ptr)
      p = originals + (epoc6 ? copies * 4 : 0) + 8;
    } else if (type === 2) {
      const count = Math.min(u32(data, p + 4), 0xffff);
      p += 8 + count * languages * 8 + 16;
    } else if (type === 3 || type === 4) {
      p += 8 + u32(data, p + 4);
    } else if (type === 5 || type === 6) {
      p += 4;
    } else {
      break; // unknown record: the rest cannot be located
    }
  }
};

/** Destination name (source name if empty), last path component. */
function fileName(d: Uint8Array, rec: number, options: number): string {
  const text = (len: number, ptr: number) => {
    if (ptr >= d.length || len === 0) return "";
    const b = Buffer.from(d.buffer, d.byteOffset + ptr, Math.min(len, d.length - ptr, MAX_NAME * 2));
    return options & OPT_UNICODE ? b.toString("utf16le") : b.toString("latin1");
  };
  const dest = text(u32(d, rec + 20), u32(d, rec + 24));
  const source = text(u32(d, rec + 12), u32(d, rec + 16));
  const full = dest || source || "file";
  return (full.split(/[\\/]/).pop() || "file").replace(/[\x00-\x1f]/g, "").slice(0, MAX_NAME);
}

function u16(d: Uint8Array, o: number): number {
  return o + 2 <= d.length ? d[o] | (d[o + 1] << 8) : 0;
}

function u32(d: Uint8Array, o: number): number {
  return o + 4 <= d.length ? (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0 : 0;
}
