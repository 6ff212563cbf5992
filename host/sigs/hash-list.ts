/**
 * Hash signatures, stored compactly: per algorithm one growing array of sizes, one of
 * digests and one of names. ClamAV's official databases carry millions of hash signatures;
 * an object plus a Uint8Array per signature cost ~1 GiB per million to load (measured), these
 * arrays cost what the data is.
 */
import type { HashAlgo, HashSig } from "./types.js";

export const DIGEST_LEN: Record<HashAlgo, number> = { md5: 16, sha1: 20, sha256: 32 };
export const HASH_ALGOS: readonly HashAlgo[] = ["md5", "sha1", "sha256"];
/** Size stored for `*` (any size). */
export const ANY_SIZE = 0xffffffff;

export class HashColumn {
  n = 0;
  sizes = new Uint32Array(64);
  digests: Buffer;
  names: string[] = [];
  /** source line of each entry (file index into HashList.files) */
  lines = new Uint32Array(64);
  fileIdx = new Uint32Array(64);

  constructor(readonly algo: HashAlgo) {
    this.digests = Buffer.alloc(64 * DIGEST_LEN[algo]);
  }

  private grow(): void {
    const cap = this.sizes.length * 2;
    const g32 = (a: Uint32Array) => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    this.sizes = g32(this.sizes);
    this.lines = g32(this.lines);
    this.fileIdx = g32(this.fileIdx);
    const d = Buffer.alloc(cap * DIGEST_LEN[this.algo]);
    this.digests.copy(d);
    this.digests = d;
  }

  /** Append; false (nothing appended) when `hex` is not exactly this algorithm's digest in
   *  hex: Buffer#write stops at the first non-hex character, so the count tells. */
  push(hex: string, size: number | null, name: string, file: number, line: number): boolean {
    if (this.n === this.sizes.length) this.grow();
    const i = this.n;
    const dlen = DIGEST_LEN[this.algo];
    if (hex.length !== 2 * dlen || this.digests.write(hex, i * dlen, "hex") !== dlen) return false;
    this.n++;
    this.sizes[i] = size ?? ANY_SIZE;
    this.names.push(name);
    this.fileIdx[i] = file;
    this.lines[i] = line;
    return true;
  }

  digest(i: number): Uint8Array {
    const d = DIGEST_LEN[this.algo];
    return this.digests.subarray(i * d, (i + 1) * d);
  }
}

export class HashList implements Iterable<HashSig> {
  readonly cols: Record<HashAlgo, HashColumn> = { md5: new HashColumn("md5"), sha1: new HashColumn("sha1"), sha256: new HashColumn("sha256") };
  readonly files: string[] = [];

  get length(): number {
    return this.cols.md5.n + this.cols.sha1.n + this.cols.sha256.n;
  }

  fileIndex(file: string): number {
    const i = this.files.lastIndexOf(file);
    if (i >= 0) return i;
    this.files.push(file);
    return this.files.length - 1;
  }

  push(algo: HashAlgo, hex: string, size: number | null, name: string, file: string, line: number): boolean {
    return this.cols[algo].push(hex, size, name, this.fileIndex(file), line);
  }

  /** A new list with only the entries whose name `keep` accepts. */
  filter(keep: (name: string) => boolean): HashList {
    const out = new HashList();
    for (const s of this) if (keep(s.name)) out.push(s.algo, Buffer.from(s.digest).toString("hex"), s.size, s.name, s.src.file, s.src.line);
    return out;
  }

  /** Entries as HashSig objects (for tests and small lists; compile reads the columns). */
  *[Symbol.iterator](): Iterator<HashSig> {
    for (const algo of HASH_ALGOS) {
      const c = this.cols[algo];
      for (let i = 0; i < c.n; i++) {
        yield { name: c.names[i], algo, digest: c.digest(i), size: c.sizes[i] === ANY_SIZE ? null : c.sizes[i], src: { file: this.files[c.fileIdx[i]], line: c.lines[i] } };
      }
    }
  }
}
