/**
 * The gram hashes of the WASM probe loops, computed on the host when building tables.
 * They must equal engine-wasm/assembly/index.ts bit for bit:
 *   G=4: (g * 0x9e3779b1) >>> (32 - bits)            (u32 wrap-around multiply)
 *   G=8: (g * 0x9e3779b97f4a7c15) >> (64 - bits)     (u64 wrap-around multiply)
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

export function hash64(lo: number, hi: number, bits: number): number {
  // top 32 bits of (hi:lo * KHI:KLO) mod 2^64
  const top = (mulHi32(lo, KLO) + Math.imul(lo, KHI) + Math.imul(hi, KLO)) >>> 0;
  return top >>> (32 - bits);
}
