/**
 * A bounded reader for OLE2 / Compound File Binary files ([MS-CFB]): .doc, .xls, .ppt,
 * .msi, embedded OLE objects. Returns every stream with its storage path.
 *
 * Why not the `cfb` npm package: on hostile input it can loop forever (a directory whose
 * child pointers form a cycle makes build_full_paths spin; get_sector_list follows a
 * FAT cycle without a visited check) and its make_sector_list copies O(n^2) bytes for a
 * crafted FAT. This reader visits every sector and every directory entry at most once
 * per chain / walk, and never reads outside the buffer.
 */
import { UnpackError, type UnpackCtx } from "./types.js";

const SIGNATURE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const HEADER_DIFAT_ENTRIES = 109;
const ENDOFCHAIN = 0xfffffffe;
const DIR_ENTRY_SIZE = 128;
/** [MS-CFB] fixes the mini sector shift at 6; other values are treated as 6 */
const MINI_SECTOR = 64;
const NOSTREAM = 0xffffffff;
const TYPE_STORAGE = 1;
const TYPE_STREAM = 2;
const TYPE_ROOT = 5;
/** Storage nesting we follow. Real documents nest 3-4 levels (Root/ObjectPool/_id/Ole,
 *  Root/Macros/VBA/dir); 32 leaves room for odd producers while keeping path strings
 *  short, since a crafted directory could otherwise nest one storage per entry. */
const MAX_STORAGE_DEPTH = 32;

export interface CfbStream {
  /** storage path below the root, "/"-separated, raw names (may hold \x01, \x05 ...) */
  path: string[];
  /** directory index: unreachable ("orphan") streams are also returned */
  index: number;
  data: Uint8Array;
}

export interface CfbFile {
  streams: CfbStream[];
  /** storage paths (raw names) of every storage reached from the root */
  storages: string[][];
}

export function looksLikeCfb(data: Uint8Array): boolean {
  return data.length >= 512 && SIGNATURE.every((b, i) => data[i] === b);
}

/** Parses the compound file; every stream's bytes are charged before being copied. */
export function readCfb(data: Uint8Array, ctx: UnpackCtx): CfbFile {
  if (!looksLikeCfb(data)) throw new UnpackError("ole2", "no compound file signature");
  const shift = u16(data, 0x1e);
  if (shift !== 9 && shift !== 12) throw new UnpackError("ole2", `bad sector shift ${shift}`);
  const ssz = 1 << shift;
  const miniCutoff = u32(data, 0x38) || 4096;
  const sectorCount = Math.max(0, Math.ceil((data.length - ssz) / ssz));
  const sectorAt = (n: number): Uint8Array =>
    data.subarray(Math.min(data.length, (n + 1) * ssz), Math.min(data.length, (n + 2) * ssz));

  const fat = readFat(data, ssz, sectorCount, sectorAt);
  const chain = (start: number, table: Uint32Array, limit: number): number[] => {
    const out: number[] = [];
    const seen = new Set<number>();
    for (let s = start; s < table.length && out.length < limit && !seen.has(s); s = table[s]) {
      seen.add(s);
      out.push(s);
    }
    return out;
  };
  const readChain = (start: number, maxBytes: number): Uint8Array => {
    const sectors = chain(start, fat, Math.ceil(maxBytes / ssz));
    const buf = new Uint8Array(Math.min(maxBytes, sectors.length * ssz));
    let o = 0;
    for (const s of sectors) {
      const part = sectorAt(s).subarray(0, buf.length - o);
      buf.set(part, o);
      o += part.length;
    }
    return buf.subarray(0, o);
  };

  const dir = readChain(u32(data, 0x30), sectorCount * ssz);
  const entryCount = Math.floor(dir.length / DIR_ENTRY_SIZE);
  if (entryCount === 0) throw new UnpackError("ole2", "empty directory");
  const entry = (i: number) => dir.subarray(i * DIR_ENTRY_SIZE, (i + 1) * DIR_ENTRY_SIZE);
  const root = entry(0);
  if (root[0x42] !== TYPE_ROOT) throw new UnpackError("ole2", "first directory entry is not the root");

  // Mini stream (small streams, 64-byte sectors) lives in the root entry's chain.
  const miniStream = readChain(u32(root, 0x74), Math.min(u32(root, 0x78), sectorCount * ssz));
  const miniFatBytes = readChain(u32(data, 0x3c), Math.min(u32(data, 0x40), sectorCount) * ssz);
  const miniFat = new Uint32Array(Math.floor(miniFatBytes.length / 4));
  for (let i = 0; i < miniFat.length; i++) miniFat[i] = u32(miniFatBytes, i * 4);
  const miniCount = Math.floor(miniStream.length / MINI_SECTOR);

  const readStream = (e: Uint8Array): Uint8Array => {
    // v3 files may hold garbage in the size's high dword ([MS-CFB] 2.6.3): use the low one.
    const declared = u32(e, 0x78);
    const start = u32(e, 0x74);
    if (declared < miniCutoff) {
      const sectors = chain(start, miniFat, Math.min(miniCount, Math.ceil(declared / MINI_SECTOR)));
      const size = Math.min(declared, sectors.filter((s) => s < miniCount).length * MINI_SECTOR);
      ctx.charge(size);
      const buf = new Uint8Array(size);
      let o = 0;
      for (const s of sectors) {
        if (s >= miniCount || o >= size) break;
        const part = miniStream.subarray(s * MINI_SECTOR, s * MINI_SECTOR + Math.min(MINI_SECTOR, size - o));
        buf.set(part, o);
        o += part.length;
      }
      return buf.subarray(0, o);
    }
    const size = Math.min(declared, chain(start, fat, Math.ceil(declared / ssz)).length * ssz);
    ctx.charge(size);
    return readChain(start, size);
  };

  const result: CfbFile = { streams: [], storages: [] };
  const visited = new Uint8Array(entryCount);
  visited[0] = 1;
  // Depth-first over storages; siblings form a binary tree walked with an explicit stack.
  const walk = (storageChild: number, path: string[]) => {
    const stack = [storageChild];
    let steps = 0;
    while (stack.length > 0) {
      if (++steps % 1024 === 0) ctx.checkTime();
      const i = stack.pop()!;
      if (i === NOSTREAM || i >= entryCount || visited[i]) continue;
      visited[i] = 1;
      const e = entry(i);
      stack.push(u32(e, 0x44), u32(e, 0x48));
      const name = entryName(e);
      if (e[0x42] === TYPE_STREAM) {
        result.streams.push({ path: [...path, name], index: i, data: readStream(e) });
      } else if (e[0x42] === TYPE_STORAGE && path.length < MAX_STORAGE_DEPTH) {
        result.storages.push([...path, name]);
        walk(u32(e, 0x4c), [...path, name]);
      }
    }
  };
  walk(u32(root, 0x4c), []);
  // Streams not reachable from the root are invisible to Office but not to an attacker
  // hiding content from scanners: return them too.
  for (let i = 1; i < entryCount; i++) {
    if (visited[i]) continue;
    const e = entry(i);
    if (e[0x42] !== TYPE_STREAM) continue;
    if (i % 1024 === 0) ctx.checkTime();
    result.streams.push({ path: [`orphan-${i}`, entryName(e)], index: i, data: readStream(e) });
  }
  return result;
}

/** The FAT, from the 109 header DIFAT slots plus the DIFAT chain. Out-of-file sector
 *  numbers are skipped; each DIFAT sector is visited once. */
function readFat(data: Uint8Array, ssz: number, sectorCount: number, sectorAt: (n: number) => Uint8Array): Uint32Array {
  const fatSectors: number[] = [];
  for (let i = 0; i < HEADER_DIFAT_ENTRIES; i++) {
    const s = u32(data, 0x4c + i * 4);
    if (s < sectorCount) fatSectors.push(s);
  }
  const perDifat = ssz / 4 - 1;
  const seen = new Set<number>();
  for (let d = u32(data, 0x44); d < sectorCount && !seen.has(d); ) {
    seen.add(d);
    const sec = sectorAt(d);
    for (let i = 0; i < perDifat && (i + 1) * 4 <= sec.length; i++) {
      const s = u32(sec, i * 4);
      if (s < sectorCount) fatSectors.push(s);
    }
    d = sec.length >= ssz ? u32(sec, ssz - 4) : ENDOFCHAIN;
  }
  // Entries past the last sector of the file can never be followed: do not store them.
  const perSector = ssz / 4;
  const fat = new Uint32Array(Math.min(sectorCount, fatSectors.length * perSector)).fill(ENDOFCHAIN);
  fatSectors.forEach((s, k) => {
    const sec = sectorAt(s);
    for (let i = 0; i < perSector && k * perSector + i < fat.length && (i + 1) * 4 <= sec.length; i++) {
      fat[k * perSector + i] = u32(sec, i * 4);
    }
  });
  return fat;
}

function entryName(e: Uint8Array): string {
  const len = Math.min(64, u16(e, 0x40));
  let s = "";
  for (let i = 0; i + 1 < len; i += 2) {
    const c = u16(e, i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function u16(d: Uint8Array, off: number): number {
  return off + 2 <= d.length ? d[off] | (d[off + 1] << 8) : 0;
}

function u32(d: Uint8Array, off: number): number {
  return off + 4 <= d.length ? (d[off] | (d[off + 1] << 8) | (d[off + 2] << 16) | (d[off + 3] << 24)) >>> 0 : 0;
}
