/**
 * InstallShield cabinets (InstallShield 5 - 2012, "ISc(" magic): a header file
 * (data1.hdr) describing the files, and volumes (data1.cab, data2.cab ...) holding their
 * data, usually as a series of [u16 length][raw-deflate chunk] blocks, optionally
 * obfuscated. Setup launchers carry them in their overlay (installshield.ts pairs them).
 *
 * Header: common header (u32 "ISc(", u32 version, u32 volume info, u32 cabinet
 * descriptor offset, u32 size); the descriptor gives the file table. Version 6+ file
 * descriptors are 0x57 bytes (flags, u64 sizes and data offset, name offset, volume);
 * version 5 ones are reached through an offset table.
 */
import { constants, inflateRawSync } from "node:zlib";
import { LimitExceeded } from "../limits.js";
import type { Child, UnpackCtx } from "./types.js";

export const ISCAB_SIGNATURE = 0x28635349; // "ISc("
const FILE_OBFUSCATED = 2;
const FILE_COMPRESSED = 4;
const FILE_INVALID = 8;
const LINK_PREV = 1;
const DESCRIPTOR_V6 = 0x57;
/** A chunk inflates to at most 64 KiB (InstallShield's buffer size); anything larger is
 *  not a real chunk. */
const MAX_CHUNK_OUTPUT = 64 * 1024;

export function looksLikeIsCabHeader(d: Uint8Array): boolean {
  return d.length >= 20 && u32(d, 0) === ISCAB_SIGNATURE;
}

/** Files of one cabinet set; `volumes` maps volume number (1-based) to the .cab bytes. */
export function* isCabFiles(hdr: Uint8Array, volumes: Map<number, Uint8Array>, ctx: UnpackCtx): Iterable<Child> {
  if (!looksLikeIsCabHeader(hdr)) return;
  const version = u32(hdr, 4);
  const major = version >>> 24 === 1 ? (version >>> 12) & 0xf : Math.floor((version & 0xffff) / 100);
  const v5 = major === 0 || major === 5; // unshield's rule: every other version uses the v6 layout
  const desc = u32(hdr, 12);
  const tableOffset = desc + u32(hdr, desc + 0x0c);
  const dirCount = u32(hdr, desc + 0x1c);
  const descriptorArea = Math.max(0, hdr.length - tableOffset);
  // every descriptor must fit in the header file: that bounds a lying count
  const fileCount = Math.min(u32(hdr, desc + 0x28), Math.floor(descriptorArea / (v5 ? 4 : DESCRIPTOR_V6)));
  for (let i = 0; i < fileCount; i++) {
    ctx.checkTime();
    const fd = v5 ? descriptorV5(hdr, tableOffset, u32(hdr, tableOffset + (dirCount + i) * 4)) : descriptorV6(hdr, tableOffset + u32(hdr, desc + 0x2c) + i * DESCRIPTOR_V6);
    if (!fd || fd.flags & FILE_INVALID || fd.link & LINK_PREV || fd.offset === 0 || fd.expanded === 0) continue;
    const cab = volumes.get(fd.volume);
    if (!cab || fd.offset >= cab.length) continue;
    const name = fileName(hdr, tableOffset + fd.nameOffset, major >= 17);
    const data = readFile(cab, fd, ctx);
    if (data) yield { name, data };
  }
}

interface Descriptor {
  flags: number;
  expanded: number;
  compressed: number;
  offset: number;
  nameOffset: number;
  link: number;
  volume: number;
}

function descriptorV6(h: Uint8Array, p: number): Descriptor | null {
  if (p + DESCRIPTOR_V6 > h.length) return null;
  return {
    flags: u16(h, p),
    expanded: u64(h, p + 2),
    compressed: u64(h, p + 10),
    offset: u64(h, p + 18),
    nameOffset: u32(h, p + 0x3a),
    link: h[p + 0x54],
    volume: u16(h, p + 0x55) || 1,
  };
}

function descriptorV5(h: Uint8Array, table: number, rel: number): Descriptor | null {
  const p = table + rel;
  if (p + 0x2a > h.length) return null;
  return { flags: u16(h, p + 8), expanded: u32(h, p + 10), compressed: u32(h, p + 14), offset: u32(h, p + 0x26), nameOffset: u32(h, p), link: 0, volume: 1 };
}

/** The file's bytes: stored, or [u16 length][raw deflate] chunks; charged here. */
function readFile(cab: Uint8Array, fd: Descriptor, ctx: UnpackCtx): Uint8Array | null {
  const stored = !(fd.flags & FILE_COMPRESSED);
  const span = Math.min(cab.length - fd.offset, stored ? fd.expanded : fd.compressed);
  let src = cab.subarray(fd.offset, fd.offset + span);
  if (fd.flags & FILE_OBFUSCATED) src = deobfuscate(src);
  if (stored) {
    ctx.charge(src.length);
    return src;
  }
  if (fd.expanded > Math.max(1, src.length) * ctx.limits.maxRatio) throw new LimitExceeded("MaxRatio", `InstallShield file ${fd.expanded} from ${src.length}`);
  ctx.charge(fd.expanded);
  const out = new Uint8Array(fd.expanded);
  let o = 0;
  for (let p = 0; p + 2 <= src.length && o < out.length; ) {
    const n = u16(src, p);
    if (n === 0) break;
    const chunk = src.subarray(p + 2, Math.min(src.length, p + 2 + n));
    p += 2 + n;
    let part: Buffer;
    try {
      part = inflateRawSync(chunk, { maxOutputLength: Math.min(MAX_CHUNK_OUTPUT, out.length - o), finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      break; // corrupt or oversized chunk: keep what was decoded
    }
    out.set(part, o);
    o += part.length;
  }
  return o === out.length ? out : out.subarray(0, o);
}

/** InstallShield's obfuscation: byte = ror8(byte ^ 0xd5, 2) - (position % 0x47). */
function deobfuscate(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = src[i] ^ 0xd5;
    out[i] = (((x >>> 2) | (x << 6)) - (i % 0x47)) & 0xff;
  }
  return out;
}

function fileName(h: Uint8Array, p: number, unicode: boolean): string {
  let s = "";
  for (let i = p; i < h.length && s.length < 260; i += unicode ? 2 : 1) {
    const c = unicode ? u16(h, i) : h[i];
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s.replace(/[\x00-\x1f]/g, "") || `file@${p}`;
}

function u16(d: Uint8Array, o: number): number {
  return o + 2 <= d.length ? d[o] | (d[o + 1] << 8) : 0;
}

function u32(d: Uint8Array, o: number): number {
  return o + 4 <= d.length ? (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0 : 0;
}

/** u64 read as a number; values past 2^53 are treated as "huge" (they fail every bound). */
function u64(d: Uint8Array, o: number): number {
  return u32(d, o) + u32(d, o + 4) * 2 ** 32;
}
