/**
 * Zip writers for tests, all generated at test time (no binary fixtures):
 * - makeZip: a plain archive writer (stored/deflated, optional traditional PKWARE encryption)
 * - buildZip: the raw writer under it, taking already-compressed data and any header
 *   values, so tests can write lying sizes, odd methods and flags
 * - zerosZip: one member inflating to `bytes` zeros, built without holding them in memory
 * - nestedZipBomb: 42.zip-like zips of zips of a large zero file
 * - overlappingZip: David Fifield's non-recursive bomb (many central records whose local
 *   data overlap and share one deflate kernel)
 */
import zlib from "node:zlib";

export interface RawZipEntry {
  name: string;
  method: number;
  flags?: number;
  crc: number;
  /** the member data exactly as stored in the archive */
  compressed: Uint8Array;
  /** uncompressed size written in both headers (may lie) */
  size: number;
}

const DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1; // 2020-01-01

function localHeader(e: RawZipEntry, name: Buffer): Buffer {
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(e.flags ?? 0, 6);
  h.writeUInt16LE(e.method, 8);
  h.writeUInt16LE(DOS_DATE, 12);
  h.writeUInt32LE(e.crc >>> 0, 14);
  h.writeUInt32LE(e.compressed.length, 18);
  h.writeUInt32LE(e.size, 22);
  h.writeUInt16LE(name.length, 26);
  return Buffer.concat([h, name]);
}

function centralHeader(e: RawZipEntry, name: Buffer, offset: number, compressedSize = e.compressed.length): Buffer {
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(20, 6);
  h.writeUInt16LE(e.flags ?? 0, 8);
  h.writeUInt16LE(e.method, 10);
  h.writeUInt16LE(DOS_DATE, 14);
  h.writeUInt32LE(e.crc >>> 0, 16);
  h.writeUInt32LE(compressedSize, 20);
  h.writeUInt32LE(e.size, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt32LE(offset, 42);
  return Buffer.concat([h, name]);
}

function endRecord(count: number, cdSize: number, cdOffset: number): Buffer {
  const h = Buffer.alloc(22);
  h.writeUInt32LE(0x06054b50, 0);
  h.writeUInt16LE(count, 8);
  h.writeUInt16LE(count, 10);
  h.writeUInt32LE(cdSize, 12);
  h.writeUInt32LE(cdOffset, 16);
  return h;
}

/** Lay out local headers + data, then the central directory and end record. */
export function buildZip(entries: RawZipEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const lh = localHeader(e, name);
    central.push(centralHeader(e, name, offset));
    parts.push(lh, e.compressed);
    offset += lh.length + e.compressed.length;
  }
  const cd = Buffer.concat(central);
  return Buffer.concat([...parts, cd, endRecord(entries.length, cd.length, offset)]);
}

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
  method?: 0 | 8;
  encrypted?: boolean;
}

/** Password used for `encrypted: true` members (traditional PKWARE encryption). */
export const TEST_ZIP_PASSWORD = "infected";

export function makeZip(files: ZipFileSpec[]): Uint8Array {
  return buildZip(
    files.map((f) => {
      const method = f.method ?? 8;
      const crc = zlib.crc32(f.data);
      let compressed: Uint8Array = method === 8 ? zlib.deflateRawSync(f.data) : f.data;
      if (f.encrypted) compressed = zipCryptoEncrypt(compressed, TEST_ZIP_PASSWORD, crc);
      return { name: f.name, method, flags: f.encrypted ? 1 : 0, crc, compressed, size: f.data.length };
    }),
  );
}

/** Traditional PKWARE encryption (APPNOTE 6.1): a 12-byte header whose last byte is the
 *  CRC's high byte, then the data, all XORed with a keystream keyed by the password. */
function zipCryptoEncrypt(data: Uint8Array, password: string, crc: number): Uint8Array {
  const table = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crcByte = (c: number, b: number): number => (table[(c ^ b) & 0xff] ^ (c >>> 8)) >>> 0;
  let k0 = 0x12345678;
  let k1 = 0x23456789;
  let k2 = 0x34567890;
  const update = (b: number): void => {
    k0 = crcByte(k0, b);
    k1 = (Math.imul((k1 + (k0 & 0xff)) >>> 0, 134775813) + 1) >>> 0;
    k2 = crcByte(k2, k1 >>> 24);
  };
  for (const ch of Buffer.from(password, "latin1")) update(ch);
  const plain = new Uint8Array(12 + data.length);
  for (let i = 0; i < 11; i++) plain[i] = (i * 37 + 11) & 0xff; // random in real life
  plain[11] = crc >>> 24;
  plain.set(data, 12);
  const out = new Uint8Array(plain.length);
  for (let i = 0; i < plain.length; i++) {
    const t = (k2 | 2) & 0xffff;
    out[i] = plain[i] ^ ((Math.imul(t, t ^ 1) >>> 8) & 0xff);
    update(plain[i]);
  }
  return out;
}

const ZERO_CHUNK = 1 << 20;

/**
 * Raw deflate of `bytes` zeros without holding them: one 1 MiB zero chunk is deflated with
 * Z_FULL_FLUSH (byte-aligned, non-final, no back-references into earlier chunks), so the
 * same compressed chunk can be repeated; an empty final block ends the stream.
 * Returns the stream and the CRC-32 of the zeros.
 */
export function deflatedZeros(bytes: number): { compressed: Uint8Array; crc: number } {
  const zero = Buffer.alloc(Math.min(bytes, ZERO_CHUNK));
  const full = zlib.deflateRawSync(zero, { finishFlush: zlib.constants.Z_FULL_FLUSH, level: 9 });
  const parts: Uint8Array[] = [];
  let crc = 0;
  for (let left = bytes; left > 0; left -= ZERO_CHUNK) {
    const n = Math.min(left, ZERO_CHUNK);
    parts.push(n === zero.length ? full : zlib.deflateRawSync(zero.subarray(0, n), { finishFlush: zlib.constants.Z_FULL_FLUSH }));
    crc = zlib.crc32(zero.subarray(0, n), crc);
  }
  parts.push(Uint8Array.of(0x03, 0x00)); // final fixed-Huffman block holding only end-of-block
  return { compressed: Buffer.concat(parts), crc };
}

/** One deflated member of `bytes` zeros (1 GiB makes a ~1 MB zip). `declaredSize` lets the
 *  headers lie about the uncompressed size. */
export function zerosZip(bytes: number, opts: { declaredSize?: number; name?: string } = {}): Uint8Array {
  const { compressed, crc } = deflatedZeros(bytes);
  return buildZip([{ name: opts.name ?? "zeros.bin", method: 8, crc, compressed, size: opts.declaredSize ?? bytes }]);
}

/**
 * 42.zip-like bomb: level 1 holds `fanout` members of `leafBytes` zeros; each further level
 * holds `fanout` deflated copies of the level below. Total expansion: fanout^levels * leafBytes.
 */
export function nestedZipBomb(levels: number, fanout: number, leafBytes = 16 << 20): Uint8Array {
  const leaf = deflatedZeros(leafBytes);
  const names = (n: number, ext: string): string[] => Array.from({ length: n }, (_, i) => `${i.toString(16)}.${ext}`);
  let zip = buildZip(names(fanout, "bin").map((name) => ({ name, method: 8, crc: leaf.crc, compressed: leaf.compressed, size: leafBytes })));
  for (let level = 2; level <= levels; level++) {
    const compressed = zlib.deflateRawSync(zip, { level: 9 });
    const crc = zlib.crc32(zip);
    const size = zip.length;
    zip = buildZip(names(fanout, "zip").map((name) => ({ name, method: 8, crc, compressed, size })));
  }
  return zip;
}

/**
 * Fifield's overlapping-file bomb ("A better zip bomb", 2019), full-overlap form: member i's
 * data is a chain of non-final stored deflate blocks that quote the local headers of
 * members i+1..n-1, then one shared deflate kernel of `kernelBytes` zeros. Every member is
 * a valid deflate stream; together they inflate to ~entries * kernelBytes from one kernel.
 * With `sameHeader`, all central records instead point at one local header (the crude form).
 */
export function overlappingZip(entries: number, opts: { kernelBytes?: number; sameHeader?: boolean } = {}): Uint8Array {
  const kernelBytes = opts.kernelBytes ?? 1 << 20;
  const kernel = zlib.deflateRawSync(Buffer.alloc(kernelBytes), { level: 9 });
  const kernelCrc = zlib.crc32(Buffer.alloc(kernelBytes));
  if (opts.sameHeader) {
    const e = { name: "kernel.bin", method: 8, crc: kernelCrc, compressed: kernel, size: kernelBytes };
    const name = Buffer.from(e.name);
    const body = Buffer.concat([localHeader(e, name), kernel]);
    const cd = Buffer.concat(Array.from({ length: entries }, () => centralHeader(e, name, 0)));
    return Buffer.concat([body, cd, endRecord(entries, cd.length, body.length)]);
  }
  // Build from the last member backwards: each local header carries its member's CRC, which
  // covers the quoted headers of all later members.
  const names = Array.from({ length: entries }, (_, i) => Buffer.from(`file${i}.bin`));
  const headers: Buffer[] = new Array(entries);
  const raw: RawZipEntry[] = new Array(entries);
  let quotedTail: Buffer = Buffer.alloc(0); // headers i+1..n-1, as member i outputs them
  let compressedTail: Buffer = kernel; // member i+1's header and data, as member i stores them
  for (let i = entries - 1; i >= 0; i--) {
    const compressed = i === entries - 1 ? kernel : Buffer.concat([storedBlockHeader(headers[i + 1].length), compressedTail]);
    const crc = zlib.crc32(Buffer.alloc(kernelBytes), zlib.crc32(quotedTail));
    raw[i] = { name: names[i].toString(), method: 8, crc, compressed, size: quotedTail.length + kernelBytes };
    headers[i] = localHeader(raw[i], names[i]);
    quotedTail = Buffer.concat([headers[i], quotedTail]);
    compressedTail = Buffer.concat([headers[i], compressed]);
  }
  const body = compressedTail; // header 0 followed by member 0's data, which holds everything else
  let offset = 0;
  const cd = Buffer.concat(
    raw.map((e, i) => {
      const rec = centralHeader(e, names[i], offset);
      offset += headers[i].length + (i === entries - 1 ? 0 : 5);
      return rec;
    }),
  );
  return Buffer.concat([body, cd, endRecord(entries, cd.length, body.length)]);
}

/** A non-final stored deflate block header quoting the next `len` bytes verbatim. */
function storedBlockHeader(len: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x00; // BFINAL=0, BTYPE=00, padding to the byte boundary
  b.writeUInt16LE(len, 1);
  b.writeUInt16LE(~len & 0xffff, 3);
  return b;
}
