/**
 * UPX-packed Windows executables (win32/pe, UPX 1.x-4.x, NRV2B method). The "UPX!" pack
 * header (32 bytes: version, format, method, level, u32 adler32s, u32 uncompressed and
 * compressed lengths ...) sits right before the compressed block; the block inflates to
 * the memory image of the original sections, which UPX maps at the first ("UPX0")
 * section's address, followed by UPX's packed import/relocation tables.
 *
 * UPX stores the original PE header (signature, file and optional headers, section table)
 * after the packed tables. With it we rebuild the original file layout: the packed file's
 * DOS header, the original PE header, each section copied from the image to its original
 * file offset, then the packed file's overlay (UPX keeps overlays uncompressed).
 *
 * Yields "upx-unpacked.exe" (or "upx-image" when the stored header is missing); the
 * orchestrator then treats it as any executable (embedded-PE carving included). Not done: NRV2D/NRV2E/LZMA
 * methods (rejected with UnpackError: no samples here to verify a decoder against),
 * undoing the E8/E9 call filters (code bytes stay filtered; data is intact), restoring
 * the import table.
 */
import { LimitExceeded } from "../limits.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

const MAGIC = [0x55, 0x50, 0x58, 0x21]; // "UPX!"
const PACK_HEADER_SIZE = 32;
const FORMAT_WIN32_PE = 9;
const METHOD_NRV2B_LE32 = 2;
/** Where the pack header is searched: UPX writes it at the end of the PE headers (first
 *  KiB) or at the start of the UPX1 data; 4 KiB covers both for every version seen. */
const HEADER_SEARCH = 4096;
/** Output bytes between checkTime() calls. */
const TIME_CHECK_EVERY = 1 << 16;

interface PackHeader {
  offset: number;
  format: number;
  method: number;
  uLen: number;
  cLen: number;
}

export function looksLikeUpx(data: Uint8Array): boolean {
  return findPackHeader(data) !== null;
}

export const unpackUpx: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  const h = findPackHeader(data);
  if (!h) throw new UnpackError("upx", "no UPX pack header");
  if (h.format !== FORMAT_WIN32_PE) throw new UnpackError("upx", `format ${h.format} not supported (win32/pe only)`);
  if (h.method !== METHOD_NRV2B_LE32) throw new UnpackError("upx", `method ${h.method} not supported (NRV2B only)`);
  const start = h.offset + PACK_HEADER_SIZE;
  const src = data.subarray(start, Math.min(data.length, start + h.cLen));
  if (h.uLen > src.length * ctx.limits.maxRatio) throw new LimitExceeded("MaxRatio", `UPX block ${h.uLen} from ${src.length}`);
  ctx.charge(h.uLen);
  const image = nrv2bLe32(src, h.uLen, ctx);
  const rebuilt = rebuildPe(data, image, ctx);
  const name = rebuilt ? "upx-unpacked.exe" : "upx-image";
  yield { name, data: rebuilt ?? image };
};

/** The original file layout, or null when the stored PE header cannot be found. */
function rebuildPe(packed: Uint8Array, image: Uint8Array, ctx: UnpackCtx): Uint8Array | null {
  const base = firstSectionRva(packed);
  const hdr = storedPeHeader(image);
  if (base === 0 || hdr < 0) return null;
  const count = u16(image, hdr + 6);
  const optSize = u16(image, hdr + 20);
  const table = hdr + 24 + optSize;
  if (table + count * 40 > image.length) return null;
  const sizeOfHeaders = u32(image, hdr + 24 + 60);
  const lfanew = u32(packed, 0x3c);
  const headerBytes = table + count * 40 - hdr;
  let end = Math.max(sizeOfHeaders, lfanew + headerBytes);
  for (let i = 0; i < count; i++) end = Math.max(end, u32(image, table + i * 40 + 20) + u32(image, table + i * 40 + 16));
  const overlayAt = overlayStartOf(packed);
  const overlay = overlayAt > 0 ? packed.subarray(overlayAt) : new Uint8Array(0);
  if (end + overlay.length > ctx.room()) return null; // a lying header: keep the plain image
  ctx.charge(end + overlay.length);
  const out = new Uint8Array(end + overlay.length);
  out.set(packed.subarray(0, Math.min(lfanew, packed.length)));
  out.set(image.subarray(hdr, hdr + headerBytes), lfanew);
  for (let i = 0; i < count; i++) {
    const s = table + i * 40;
    const rawSize = u32(image, s + 16);
    const rawPtr = u32(image, s + 20);
    const from = u32(image, s + 12) - base;
    if (from < 0 || rawSize === 0) continue;
    out.set(image.subarray(from, Math.min(image.length, from + rawSize)), rawPtr);
  }
  out.set(overlay, end);
  return out;
}

/** Offset of the original "PE\0\0" header UPX appended to the decompressed data: the last
 *  one in the buffer with an i386/AMD64 machine and a sane section count. */
function storedPeHeader(image: Uint8Array): number {
  const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  for (let at = buf.lastIndexOf("PE\0\0", undefined, "latin1"); at >= 0; at = at > 0 ? buf.lastIndexOf("PE\0\0", at - 1, "latin1") : -1) {
    const machine = u16(image, at + 4);
    const sections = u16(image, at + 6);
    if ((machine === 0x14c || machine === 0x8664) && sections > 0 && sections <= 96) return at;
  }
  return -1;
}

function findPackHeader(d: Uint8Array): PackHeader | null {
  if (d.length < 64 || d[0] !== 0x4d || d[1] !== 0x5a) return null;
  const end = Math.min(d.length - PACK_HEADER_SIZE, HEADER_SEARCH);
  for (let i = 0; i <= end; i++) {
    if (!MAGIC.every((b, k) => d[i + k] === b)) continue;
    const version = d[i + 4];
    if (version < 10) continue; // pre-1.0 headers are laid out differently
    const uLen = u32(d, i + 16);
    const cLen = u32(d, i + 20);
    if (uLen === 0 || cLen === 0 || cLen > d.length) continue;
    return { offset: i, format: d[i + 5], method: d[i + 6], uLen, cLen };
  }
  return null;
}

/** RVA of the packed file's first section (UPX0): where the image is mapped. */
function firstSectionRva(d: Uint8Array): number {
  const pe = u32(d, 0x3c);
  if (pe + 24 > d.length) return 0;
  const table = pe + 24 + u16(d, pe + 20);
  return table + 40 <= d.length ? u32(d, table + 12) : 0;
}

/** End of the packed file's last section: UPX copies the original overlay there. */
function overlayStartOf(d: Uint8Array): number {
  const pe = u32(d, 0x3c);
  if (pe + 24 > d.length) return 0;
  const count = u16(d, pe + 6);
  const table = pe + 24 + u16(d, pe + 20);
  let end = 0;
  for (let i = 0; i < count && table + (i + 1) * 40 <= d.length; i++) end = Math.max(end, u32(d, table + i * 40 + 20) + u32(d, table + i * 40 + 16));
  return end < d.length ? end : 0;
}

/**
 * UCL NRV2B, 32-bit little-endian bit buffer (bits consumed MSB first). Writes at most
 * `size` bytes; stops quietly at truncated input, throws UnpackError on a match that
 * reaches before the start of the output (corrupt stream).
 */
export function nrv2bLe32(src: Uint8Array, size: number, ctx: UnpackCtx): Uint8Array {
  const out = new Uint8Array(size);
  let ip = 0;
  let op = 0;
  let bb = 0;
  let bc = 0;
  const bit = (): number => {
    if (bc === 0) {
      if (ip + 4 > src.length) throw END;
      bb = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24)) >>> 0;
      ip += 4;
      bc = 32;
    }
    bc--;
    return (bb >>> bc) & 1;
  };
  const byte = (): number => {
    if (ip >= src.length) throw END;
    return src[ip++];
  };
  let lastOff = 1;
  let nextCheck = TIME_CHECK_EVERY;
  try {
    for (;;) {
      while (bit()) {
        if (op >= size) return out;
        out[op++] = byte();
      }
      let off = 1;
      do {
        off = off * 2 + bit();
        // 0x1000002 is the largest useful value: (0x1000002 - 3) * 256 + 0xff is the
        // end-of-stream marker 0xffffffff
        if (off > 0x1000002) throw new UnpackError("upx", "corrupt NRV2B offset");
      } while (!bit());
      if (off === 2) off = lastOff;
      else {
        off = ((off - 3) * 256 + byte()) >>> 0;
        if (off === 0xffffffff) break; // end of stream
        lastOff = ++off;
      }
      let len = bit() * 2 + bit();
      if (len === 0) {
        len = 1;
        do {
          len = len * 2 + bit();
          if (len > size) throw new UnpackError("upx", "corrupt NRV2B length");
        } while (!bit());
        len += 2;
      }
      len += off > 0xd00 ? 1 : 0;
      if (off > op) throw new UnpackError("upx", "NRV2B match before start of output");
      for (let k = 0; k <= len && op < size; k++, op++) out[op] = out[op - off];
      if (op >= nextCheck) {
        ctx.checkTime();
        nextCheck = op + TIME_CHECK_EVERY;
      }
    }
  } catch (e) {
    if (e !== END) throw e;
  }
  return op === size ? out : out.subarray(0, op);
}

/** Thrown internally when the compressed input runs out. */
const END = Symbol("end of input");

function u16(d: Uint8Array, o: number): number {
  return o + 2 <= d.length ? d[o] | (d[o + 1] << 8) : 0;
}

function u32(d: Uint8Array, o: number): number {
  return o + 4 <= d.length ? (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0 : 0;
}
