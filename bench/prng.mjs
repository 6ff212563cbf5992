// Seeded pseudo-random numbers for the benchmark generators, so every run (and every
// machine) produces the same signature sets and corpora from the same seed.
import { createCipheriv, createHash } from "node:crypto";

/** xoshiro128** (Blackman & Vigna): small, fast, good enough for picking offsets and bytes. */
export class Rng {
  constructor(seed) {
    // Expand the seed through SHA-256 so nearby seeds give unrelated streams.
    const h = createHash("sha256").update(String(seed)).digest();
    this.s = new Uint32Array([h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12) | 1]);
  }
  /** uniform uint32 */
  u32() {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }
  /** uniform integer in [lo, hi] (inclusive) */
  int(lo, hi) {
    return lo + Math.floor((this.u32() / 0x1_0000_0000) * (hi - lo + 1));
  }
  /** true with probability p */
  chance(p) {
    return this.u32() / 0x1_0000_0000 < p;
  }
  bytes(n) {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  pick(arr) {
    return arr[this.int(0, arr.length - 1)];
  }
  shuffle(arr) {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [arr[i], arr[j]] = [arr[j], arr[i]];
    }
    return arr;
  }
}

function rotl(x, k) {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A fast seeded byte stream (AES-128-CTR keystream) for corpora of hundreds of MiB. */
export function randomStream(seed) {
  const key = createHash("sha256").update(`key:${seed}`).digest().subarray(0, 16);
  const iv = createHash("sha256").update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, iv);
  return {
    /** the next n bytes of the stream */
    next(n) {
      return cipher.update(Buffer.alloc(n));
    },
  };
}
