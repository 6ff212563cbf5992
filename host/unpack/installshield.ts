/**
 * InstallShield setup.exe payloads: files appended after the PE image (the "overlay").
 * Two layouts are handled:
 * - plain (InstallShield 9-12 and "Disk1" launchers): records of
 *   name\0 destination\0 version\0 decimal-size\0 followed by the file bytes;
 * - "InstallShield\0" header (46 bytes: u16 file count, u32 type <= 4) then, per file, a
 *   312-byte entry (name[260], u32 flags, u32, u32 size, ..., u16 "unicode launcher")
 *   and the data, obfuscated with a key derived from the file name: each byte is
 *   nibble-swapped, XORed with key[i % keylen] and inverted. Flags 4 restart the key
 *   every 1024 bytes, flag 2 alone runs it over the whole file; "unicode launcher"
 *   payloads are zlib streams after that.
 * Plain records often include InstallShield cabinets (dataN.hdr + dataN.cab ...): their
 * files are yielded too, as "<hdr name>/<file>" (iscab.ts).
 * The newer "ISSetupStream" layout (InstallShield 2015+) is not handled.
 */
import { boundedInflate } from "./bounded-inflate.js";
import { isCabFiles, looksLikeIsCabHeader } from "./iscab.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

const SIG = "InstallShield\0";
const HEADER_SIZE = 46;
const ENTRY_SIZE = 312;
const NAME_FIELD = 260;
const KEY_MAGIC = [0x13, 0x35, 0x86, 0x07];
const BLOCK = 1024;
/** How far into the overlay we look for the header: launchers put a PDB path and
 *  padding first (a few hundred bytes in the test files); 64 KiB is generous. */
const HEADER_SEARCH_WINDOW = 64 * 1024;
/** Longest plain-record string: names and paths are Windows paths (MAX_PATH 260),
 *  versions "a.b.c.d", sizes 10 digits. */
const MAX_FIELD = 260;

export function looksLikeInstallShield(data: Uint8Array): boolean {
  const overlay = overlayStart(data);
  return overlay > 0 && (findHeader(data, overlay) >= 0 || plainRecord(data, overlay) !== null);
}

export const unpackInstallShield: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  const overlay = overlayStart(data);
  if (overlay <= 0) throw new UnpackError("installshield", "not a PE with an overlay");
  const header = findHeader(data, overlay);
  if (header >= 0) {
    yield* encryptedFiles(data, header, ctx);
    return;
  }
  const files = new Map<string, Uint8Array>();
  for (let rec = plainRecord(data, overlay); rec; rec = plainRecord(data, rec.end)) {
    ctx.checkTime();
    ctx.charge(rec.size);
    const body = data.subarray(rec.start, rec.end);
    files.set(rec.name.toLowerCase(), body);
    yield { name: rec.name, data: body };
  }
  if (files.size === 0) throw new UnpackError("installshield", "no InstallShield payload in the overlay");
  yield* cabinetSets(files, ctx);
};

/** dataN.hdr with its volumes dataN.cab, data(N+1).cab ... from the same overlay. */
function* cabinetSets(files: Map<string, Uint8Array>, ctx: UnpackCtx): Iterable<Child> {
  for (const [name, hdr] of files) {
    const m = /^(.*?)(\d+)\.hdr$/.exec(name);
    if (!m || !looksLikeIsCabHeader(hdr)) continue;
    const volumes = new Map<number, Uint8Array>();
    for (let v = 1, n = Number(m[2]); files.has(`${m[1]}${n}.cab`); v++, n++) volumes.set(v, files.get(`${m[1]}${n}.cab`)!);
    for (const f of isCabFiles(hdr, volumes, ctx)) yield { name: `${name}/${f.name}`, data: f.data };
  }
}

function* encryptedFiles(data: Uint8Array, header: number, ctx: UnpackCtx): Iterable<Child> {
  const count = u16(data, header + 14);
  let p = header + HEADER_SIZE;
  for (let i = 0; i < count && p + ENTRY_SIZE <= data.length; i++) {
    ctx.checkTime();
    const nameBytes = cString(data, p, NAME_FIELD);
    const flags = u32(data, p + 260);
    const size = u32(data, p + 268);
    const unicodeLauncher = u16(data, p + 280) !== 0;
    const start = p + ENTRY_SIZE;
    const end = Math.min(data.length, start + size);
    if (nameBytes.length === 0) break;
    let body: Uint8Array = data.slice(start, end);
    if (flags & 4) deobfuscate(body, nameBytes, BLOCK);
    else if (flags & 2) deobfuscate(body, nameBytes, body.length);
    if (unicodeLauncher) body = boundedInflate(body, ctx) ?? body;
    ctx.charge(body.length);
    yield { name: latin1(nameBytes), data: body };
    p = end;
  }
}

/** In place: key = name XOR magic; byte = ~(key[i % len] ^ swapNibbles(byte)), the key
 *  position restarting every `block` bytes. */
function deobfuscate(buf: Uint8Array, name: Uint8Array, block: number): void {
  const key = name.map((c, i) => c ^ KEY_MAGIC[i % KEY_MAGIC.length]);
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    const swapped = ((b << 4) | (b >> 4)) & 0xff;
    buf[i] = ~(key[(i % block) % key.length] ^ swapped) & 0xff;
  }
}

/** The first "InstallShield\0" header near the start of the overlay with a sane file
 *  count and type, or -1. */
function findHeader(data: Uint8Array, overlay: number): number {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const limit = Math.min(data.length, overlay + HEADER_SEARCH_WINDOW);
  for (let at = buf.indexOf(SIG, overlay, "latin1"); at >= 0 && at < limit; at = buf.indexOf(SIG, at + 1, "latin1")) {
    const count = u16(data, at + 14);
    const type = u32(data, at + 16);
    if (count > 0 && type <= 4 && at + HEADER_SIZE + ENTRY_SIZE <= data.length) return at;
  }
  return -1;
}

interface PlainRecord {
  name: string;
  size: number;
  start: number;
  end: number;
}

/** name\0 dest\0 version\0 size\0 at `p` (leading NUL padding skipped), or null. */
function plainRecord(data: Uint8Array, p: number): PlainRecord | null {
  while (p < data.length && data[p] === 0 && p < data.length) p++;
  const fields: string[] = [];
  for (let k = 0; k < 4; k++) {
    const f = cString(data, p, MAX_FIELD + 1);
    if (f.length === 0 || f.length > MAX_FIELD || p + f.length >= data.length || data[p + f.length] !== 0) return null;
    if (f.some((c) => c < 0x20 || c > 0x7e)) return null;
    fields.push(latin1(f));
    p += f.length + 1;
  }
  const [name, , version, sizeText] = fields;
  if (!/^[\d.]+$/.test(version) || !/^\d{1,10}$/.test(sizeText)) return null;
  const size = Number(sizeText);
  if (p + size > data.length) return null;
  return { name: name.split(/[\\/]/).pop() || name, size, start: p, end: p + size };
}

/** End of the last PE section's raw data, where appended payloads start; 0 if not a PE. */
export function overlayStart(d: Uint8Array): number {
  if (d.length < 64 || d[0] !== 0x4d || d[1] !== 0x5a) return 0;
  const pe = u32(d, 0x3c);
  if (pe + 24 > d.length || u32(d, pe) !== 0x00004550) return 0;
  const sections = u16(d, pe + 6);
  const table = pe + 24 + u16(d, pe + 20);
  let end = 0;
  for (let i = 0; i < sections && table + (i + 1) * 40 <= d.length; i++) {
    const s = table + i * 40;
    end = Math.max(end, u32(d, s + 20) + u32(d, s + 16));
  }
  return end > 0 && end < d.length ? end : 0;
}

function cString(d: Uint8Array, p: number, max: number): Uint8Array {
  let e = p;
  while (e < d.length && e - p < max && d[e] !== 0) e++;
  return d.subarray(p, e);
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

function u16(d: Uint8Array, o: number): number {
  return o + 2 <= d.length ? d[o] | (d[o + 1] << 8) : 0;
}

function u32(d: Uint8Array, o: number): number {
  return o + 4 <= d.length ? (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0 : 0;
}
