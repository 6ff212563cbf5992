/**
 * Seeded randomness for the signature generator (random-sigs.ts): a mulberry32 PRNG (same
 * seed, same sequence) and random binary data files into which byte strings are planted at
 * free, non-overlapping places.
 */

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private r: () => number;
  constructor(seed: number) {
    this.r = mulberry32(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(0, a.length - 1)];
  }
  byte(): number {
    return this.int(0, 255);
  }
}

export class DataFiles {
  files: { name: string; data: Uint8Array; used: Uint8Array }[] = [];
  constructor(private r: Rng, n: number, min: number, max: number) {
    for (let i = 0; i < n; i++) {
      const size = r.int(min, max);
      const data = new Uint8Array(size);
      for (let k = 0; k < size; k++) data[k] = r.byte();
      // ClamAV types data whose 16-bit words are all >= 128 as UTF-16BE text (textdet.c
      // td_isutf16), true for about 1 random file in 3, and then also scans a decoded copy;
      // a 00 00 word near the start keeps every file plain binary data (CL_TYPE_BINARY_DATA).
      data[2] = data[3] = 0;
      this.files.push({ name: `data${i}.bin`, data, used: new Uint8Array(size) });
    }
  }
  /** Plant bytes in a random free place; returns [file index, position] or null. */
  plant(bytes: number[], file?: number): [number, number] | null {
    for (let tries = 0; tries < 40; tries++) {
      const fi = file ?? this.r.int(0, this.files.length - 1);
      const f = this.files[fi];
      if (bytes.length + 16 > f.data.length) continue;
      const pos = this.r.int(8, f.data.length - bytes.length - 8);
      let free = true;
      for (let k = pos - 8; k < pos + bytes.length + 8 && free; k++) free = !f.used[k];
      if (!free) continue;
      bytes.forEach((b, k) => (f.data[pos + k] = b));
      f.used.fill(1, pos - 8, pos + bytes.length + 8);
      return [fi, pos];
    }
    return null;
  }
}

