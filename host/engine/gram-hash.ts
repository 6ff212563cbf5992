/**
 * The gram hashes of the WASM probe loops, computed on the host when building tables.
 * They must equal engine-wasm/assembly/index.ts bit for bit:
 *   G=4: (g * 0x9e3779b1) >>> (32 - bits)            (u32 wrap-around multiply)
 *   G=8: (g * 0x9e3779b97f4a7c15) >> (64 - bits)     (u64 wrap-around multiply)
 * and, for the second-level bitmap, the same with 0x85ebca77 / 0xc2b2ae3d27d4eb4f.
 */

export function hash32(g: number, bits: number): number {
  return Math.imul(g, 0x9e3779b1) >>> (32 - bits);
}

const KLO = 0x7f4a7c15;
const KHI = 0x9e3779b9;

/** high 32 bits of the 64-bit product a*b of two u32 values */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16;
  const b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

function top64(lo: number, hi: number, klo: number, khi: number): number {
  // top 32 bits of (hi:lo * khi:klo) mod 2^64
  return (mulHi32(lo, klo) + Math.imul(lo, khi) + Math.imul(hi, klo)) >>> 0;
}

export function hash64(lo: number, hi: number, bits: number): number {
  return top64(lo, hi, KLO, KHI) >>> (32 - bits);
}

/** The second-level filter hashes (engine cand()): independent multipliers. */
export function hash64b(lo: number, hi: number, bits: number): number {
  return top64(lo, hi, 0x27d4eb4f, 0xc2b2ae3d) >>> (32 - bits);
}
export function hash32b(g: number, bits: number): number {
  return Math.imul(g, 0x85ebca77) >>> (32 - bits);
}
