/**
 * Read-only view of the host sections of a compiled database in shared memory: signature
 * names, logical-signature metadata, and the hash tables (looked up by binary search, so a
 * million hash signatures cost no JS objects).
 */
import type { HashAlgo } from "../sigs/types.js";
import type { DbMeta, HashSection } from "./compile.js";
import { DB_BASE, readHeader } from "./wasm-engine.js";

const ANY_SIZE = 0xffffffff;
const DIGEST_LEN: Record<HashAlgo, number> = { md5: 16, sha1: 20, sha256: 32 };

export class DbView {
  readonly meta: DbMeta;
  readonly nNdb: number;
  private u8: Uint8Array;
  private dv: DataView;

  constructor(memory: WebAssembly.Memory) {
    const h = readHeader(memory);
    this.u8 = new Uint8Array(memory.buffer, DB_BASE);
    this.dv = new DataView(memory.buffer, DB_BASE);
    this.meta = JSON.parse(Buffer.from(this.u8.slice(h.meta, h.meta + h.metaLen)).toString("utf8")) as DbMeta;
    this.nNdb = this.meta.ndbNames.length;
  }

  /** Which digests an object of this size needs (ClamAV gates hashing the same way). */
  algosFor(size: number, allow: boolean): HashAlgo[] {
    const out: HashAlgo[] = [];
    for (const s of allow ? this.meta.allow : this.meta.hash) {
      if (this.sizeRange(s, size)[1] > this.sizeRange(s, size)[0] || this.sizeRange(s, ANY_SIZE)[1] > this.sizeRange(s, ANY_SIZE)[0]) out.push(s.algo);
    }
    return out;
  }

  /** Name of the matching hash signature, or null. */
  lookup(algo: HashAlgo, size: number, digest: Uint8Array, allow: boolean): string | null {
    const s = (allow ? this.meta.allow : this.meta.hash).find((x) => x.algo === algo);
    if (!s) return null;
    for (const sz of [size, ANY_SIZE]) {
      const [a, b] = this.sizeRange(s, sz);
      const dlen = DIGEST_LEN[algo];
      for (let i = a; i < b; i++) {
        if (this.digestEquals(s.digests + i * dlen, digest)) return this.hashName(this.dv.getUint32(s.names + 4 * i, true));
      }
    }
    return null;
  }

  /** [first, end) of the entries with this size (sizes ascending). */
  private sizeRange(s: HashSection, size: number): [number, number] {
    const lower = (strict: boolean) => {
      let lo = 0;
      let hi = s.n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const v = this.dv.getUint32(s.sizes + 4 * mid, true);
        if (v < size || (strict && v === size)) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    return [lower(false), lower(true)];
  }

  private digestEquals(at: number, d: Uint8Array): boolean {
    for (let i = 0; i < d.length; i++) if (this.u8[at + i] !== d[i]) return false;
    return true;
  }

  private hashName(i: number): string {
    const o = this.meta.hashNames.offsets;
    const a = this.dv.getUint32(o + 4 * i, true);
    const b = this.dv.getUint32(o + 4 * (i + 1), true) - 1;
    const base = this.meta.hashNames.bytes;
    return Buffer.from(this.u8.slice(base + a, base + b)).toString("utf8");
  }
}
