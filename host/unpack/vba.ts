/**
 * VBA macro source from an OLE2 VBA project ([MS-OVBA]): the `dir` stream of a `VBA`
 * storage lists the modules (stream name + offset of the compressed source); each module
 * stream holds p-code, then the source in the MS-OVBA "CompressedContainer" format (an
 * LZ77 variant in 4 KiB chunks). Signatures for macro malware target this source text.
 */
import { LimitExceeded } from "../limits.js";
import type { CfbFile } from "./cfb-reader.js";
import type { UnpackCtx } from "./types.js";

const CHUNK = 4096;
const RT_PROJECTVERSION = 0x0009;
const RT_MODULESTREAMNAME = 0x001a;
const RT_MODULEOFFSET = 0x0031;
const RT_MODULE_TERMINATOR = 0x002b;
const RT_MODULENAME = 0x0019;

export interface VbaModule {
  /** VBA storage path + module name, e.g. ["Macros", "VBA", "ThisDocument"] */
  path: string[];
  source: Uint8Array;
}

/** Every module of every VBA storage in the file; a module whose source cannot be
 *  decompressed is skipped (its stream is still yielded raw by the OLE2 unpacker). */
export function vbaModules(cfb: CfbFile, ctx: UnpackCtx): VbaModule[] {
  const out: VbaModule[] = [];
  for (const dirStream of cfb.streams) {
    const path = dirStream.path;
    if (path.length < 2 || path[path.length - 1].toLowerCase() !== "dir" || path[path.length - 2].toLowerCase() !== "vba") continue;
    const storage = path.slice(0, -1);
    const dir = ovbaDecompress(dirStream.data, ctx);
    if (!dir) continue;
    for (const m of parseDir(dir)) {
      ctx.checkTime();
      const stream = cfb.streams.find(
        (s) => s.path.length === storage.length + 1 && storage.every((p, i) => p === s.path[i]) && s.path[storage.length].toLowerCase() === m.stream.toLowerCase(),
      );
      if (!stream || m.offset >= stream.data.length) continue;
      const source = ovbaDecompress(stream.data.subarray(m.offset), ctx);
      if (source) out.push({ path: [...storage, m.name || m.stream], source });
    }
  }
  return out;
}

/** dir stream records: (u16 id, u32 size, data); PROJECTVERSION's size field says 4 but
 *  6 bytes follow ([MS-OVBA] 2.3.4.2.1.11). */
function parseDir(d: Uint8Array): Array<{ name: string; stream: string; offset: number }> {
  const modules: Array<{ name: string; stream: string; offset: number }> = [];
  let cur = { name: "", stream: "", offset: -1 };
  for (let p = 0; p + 6 <= d.length; ) {
    const id = d[p] | (d[p + 1] << 8);
    let size = (d[p + 2] | (d[p + 3] << 8) | (d[p + 4] << 16) | (d[p + 5] << 24)) >>> 0;
    if (id === RT_PROJECTVERSION) size = 6;
    const body = d.subarray(p + 6, Math.min(d.length, p + 6 + size));
    if (id === RT_MODULENAME) cur.name = latin1(body);
    else if (id === RT_MODULESTREAMNAME) cur.stream = latin1(body);
    else if (id === RT_MODULEOFFSET && body.length >= 4) cur.offset = (body[0] | (body[1] << 8) | (body[2] << 16) | (body[3] << 24)) >>> 0;
    else if (id === RT_MODULE_TERMINATOR) {
      if (cur.stream && cur.offset >= 0) modules.push(cur);
      cur = { name: "", stream: "", offset: -1 };
    }
    p += 6 + size;
  }
  return modules;
}

/**
 * [MS-OVBA] 2.4.1 decompression. Output is capped at ctx.room() and limits.maxRatio x
 * input (a chunk can expand 3 bytes to 4 KiB); returns null when the signature byte is
 * wrong. A malformed chunk ends decoding with what was produced so far. The caller
 * charges nothing: the result is charged here.
 */
export function ovbaDecompress(src: Uint8Array, ctx: UnpackCtx): Uint8Array | null {
  if (src.length < 3 || src[0] !== 0x01) return null;
  const room = ctx.room();
  const ratioCap = src.length * ctx.limits.maxRatio;
  const cap = Math.min(room, ratioCap);
  // grown on demand: sizing it for the worst case (4 KiB per 3 input bytes) up front would
  // itself be the amplification we are guarding against
  let out = new Uint8Array(Math.min(cap, Math.max(CHUNK, src.length * 4)));
  let o = 0;
  const over = (): never => {
    if (ratioCap < room) throw new LimitExceeded("MaxRatio", `VBA source over ${ctx.limits.maxRatio}:1`);
    ctx.charge(room + 1);
    throw new LimitExceeded("MaxScanSize");
  };
  const ensure = (n: number) => {
    if (o + n > cap) over();
    if (o + n <= out.length) return;
    const grown = new Uint8Array(Math.min(cap, Math.max(o + n, out.length * 2)));
    grown.set(out.subarray(0, o));
    out = grown;
  };
  let p = 1;
  chunks: while (p + 2 <= src.length) {
    const header = src[p] | (src[p + 1] << 8);
    const end = Math.min(src.length, p + (header & 0x0fff) + 3);
    if (((header >> 12) & 0x7) !== 0b011) break; // bad chunk signature
    const chunkStart = o;
    p += 2;
    if (!(header & 0x8000)) {
      const raw = src.subarray(p, Math.min(src.length, p + CHUNK));
      ensure(raw.length);
      out.set(raw, o);
      o += raw.length;
      p += CHUNK;
      continue;
    }
    while (p < end) {
      const flags = src[p++];
      for (let bit = 0; bit < 8 && p < end; bit++) {
        if (!(flags & (1 << bit))) {
          ensure(1);
          out[o++] = src[p++];
          continue;
        }
        if (p + 2 > end) break chunks;
        const token = src[p] | (src[p + 1] << 8);
        p += 2;
        let bitCount = 4;
        while (1 << bitCount < o - chunkStart && bitCount < 12) bitCount++;
        const length = (token & (0xffff >> bitCount)) + 3;
        const offset = (token >> (16 - bitCount)) + 1;
        if (offset > o - chunkStart) break chunks; // reaches before the chunk: corrupt
        ensure(length);
        for (let k = 0; k < length; k++, o++) out[o] = out[o - offset];
      }
    }
    if (o - chunkStart > CHUNK) break;
  }
  out = out.subarray(0, o);
  ctx.charge(o);
  return out;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}
