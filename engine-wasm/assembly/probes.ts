// Prefilter passes of the core: hashed gram tables (8-, 4- and 2-byte grams at their
// strides) and Teddy for small sets. Each candidate goes to verify.ts (tryPart).

import { TBL } from "./layout";
import { curData, curLen, dbBase, outCap, outPtr, probeFrom, probeTo } from "./state";
import { tryPart } from "./verify";


// @ts-ignore: decorator
@inline function bitSet(bm: usize, h: u32): bool {
  return ((load<u8>(bm + (h >> 3)) >> (h & 7)) & 1) != 0;
}

/** First probe position at or after probeFrom that is a multiple of S. */
// @ts-ignore: decorator
@inline function firstProbe(S: usize): usize {
  return ((<usize>probeFrom + S - 1) / S) * S;
}

/** One past the last probe position: below probeTo, with G bytes readable. */
// @ts-ignore: decorator
@inline function probeEnd(G: u32): usize {
  const readable = curLen >= G ? curLen - G + 1 : 0;
  return <usize>(probeTo < readable ? probeTo : readable);
}

export function probe8(tp: usize): void {
  const S = <usize>load<u32>(tp + TBL.S);
  const bits = load<u32>(tp + TBL.BITS);
  const shift = <u64>(64 - bits);
  const bm = dbBase + load<u32>(tp + TBL.BITMAP);
  const data = curData;
  const end = probeEnd(8);
  const K: u64 = 0x9e3779b97f4a7c15;
  let p = firstProbe(S);
  const S4 = S * 4;
  for (; p + S4 <= end; p += S4) {
    const g0 = load<u64>(data + p);
    const g1 = load<u64>(data + p + S);
    const g2 = load<u64>(data + p + 2 * S);
    const g3 = load<u64>(data + p + 3 * S);
    const h0 = <u32>((g0 * K) >> shift);
    const h1 = <u32>((g1 * K) >> shift);
    const h2 = <u32>((g2 * K) >> shift);
    const h3 = <u32>((g3 * K) >> shift);
    if (bitSet(bm, h0)) cand(tp, g0, h0, p);
    if (bitSet(bm, h1)) cand(tp, g1, h1, p + S);
    if (bitSet(bm, h2)) cand(tp, g2, h2, p + 2 * S);
    if (bitSet(bm, h3)) cand(tp, g3, h3, p + 3 * S);
  }
  for (; p < end; p += S) {
    const g = load<u64>(data + p);
    const h = <u32>((g * K) >> shift);
    if (bitSet(bm, h)) cand(tp, g, h, p);
  }
}

export function probe4(tp: usize): void {
  const S = <usize>load<u32>(tp + TBL.S);
  const bits = load<u32>(tp + TBL.BITS);
  const shift = 32 - bits;
  const bm = dbBase + load<u32>(tp + TBL.BITMAP);
  const data = curData;
  const end = probeEnd(4);
  const K: u32 = 0x9e3779b1;
  let p = firstProbe(S);
  const S4 = S * 4;
  for (; p + S4 <= end; p += S4) {
    const g0 = load<u32>(data + p);
    const g1 = load<u32>(data + p + S);
    const g2 = load<u32>(data + p + 2 * S);
    const g3 = load<u32>(data + p + 3 * S);
    const h0 = (g0 * K) >> shift;
    const h1 = (g1 * K) >> shift;
    const h2 = (g2 * K) >> shift;
    const h3 = (g3 * K) >> shift;
    if (bitSet(bm, h0)) cand(tp, <u64>g0, h0, p);
    if (bitSet(bm, h1)) cand(tp, <u64>g1, h1, p + S);
    if (bitSet(bm, h2)) cand(tp, <u64>g2, h2, p + 2 * S);
    if (bitSet(bm, h3)) cand(tp, <u64>g3, h3, p + 3 * S);
  }
  for (; p < end; p += S) {
    const g = load<u32>(data + p);
    const h = (g * K) >> shift;
    if (bitSet(bm, h)) cand(tp, <u64>g, h, p);
  }
}

export function probe2(tp: usize): void {
  // 2-byte grams at stride 1: the gram itself indexes a 65536-bit bitmap (8 KiB, L1).
  const bm = dbBase + load<u32>(tp + TBL.BITMAP);
  const data = curData;
  const end = probeEnd(2);
  for (let p = <usize>probeFrom; p < end; p++) {
    const g = <u32>load<u16>(data + p);
    if (bitSet(bm, g)) cand(tp, <u64>g, g, p);
  }
}

/**
 * Teddy (Hyperscan's SIMD literal prefilter) for small sets: each candidate's first three
 * anchor bytes are its fingerprint; literals are spread over 8 buckets (one bit each). Per
 * 16-byte block, a nibble lookup (i8x16.swizzle) per fingerprint position gives the buckets
 * that byte allows there; AND-ing the three shifted results leaves the buckets whose whole
 * fingerprint starts at each position. Only those go to the bucket's entry list.
 */
export function teddy(tp: usize): void {
  const masks = dbBase + load<u32>(tp + TBL.BITMAP);
  const lo0 = v128.load(masks), hi0 = v128.load(masks, 16);
  const lo1 = v128.load(masks, 32), hi1 = v128.load(masks, 48);
  const lo2 = v128.load(masks, 64), hi2 = v128.load(masks, 80);
  const nib = i8x16.splat(0x0f);
  const zero = i8x16.splat(0);
  const data = curData;
  const len = <usize>probeTo; // probe positions below this; bytes up to +17 are readable
  let p = <usize>probeFrom;
  // blocks: positions p..p+15, reading up to p+17 (overlap or the host's slack after the object)
  for (; p + 16 <= len; p += 16) {
    const v0 = v128.load(data + p);
    const v1 = v128.load(data + p + 1);
    const v2 = v128.load(data + p + 2);
    const c0 = v128.and(i8x16.swizzle(lo0, v128.and(v0, nib)), i8x16.swizzle(hi0, v128.and(i16x8.shr_u(v0, 4), nib)));
    const c1 = v128.and(i8x16.swizzle(lo1, v128.and(v1, nib)), i8x16.swizzle(hi1, v128.and(i16x8.shr_u(v1, 4), nib)));
    const c2 = v128.and(i8x16.swizzle(lo2, v128.and(v2, nib)), i8x16.swizzle(hi2, v128.and(i16x8.shr_u(v2, 4), nib)));
    const m = v128.and(v128.and(c0, c1), c2);
    if (!v128.any_true(m)) continue;
    let bits = i8x16.bitmask(i8x16.ne(m, zero));
    while (bits != 0) {
      const i = <usize>ctz(bits);
      bits &= bits - 1;
      teddyCand(tp, p + i, teddyLane(m, <u32>i));
    }
  }
  // tail: the same lookup one position at a time
  for (; p < len; p++) {
    const b0 = <u32>load<u8>(data + p), b1 = <u32>load<u8>(data + p + 1), b2 = <u32>load<u8>(data + p + 2);
    const bk = load<u8>(masks + (b0 & 15)) & load<u8>(masks + 16 + (b0 >> 4)) & load<u8>(masks + 32 + (b1 & 15)) & load<u8>(masks + 48 + (b1 >> 4)) & load<u8>(masks + 64 + (b2 & 15)) & load<u8>(masks + 80 + (b2 >> 4));
    if (bk != 0) teddyCand(tp, p, <u32>bk);
  }
}

// @ts-ignore: decorator
@inline function teddyLane(m: v128, i: u32): u32 {
  // lane index is a runtime value: spill the vector to the instance's scratch word area
  v128.store(outPtr + (<usize>outCap << 2), m);
  return <u32>load<u8>(outPtr + (<usize>outCap << 2) + i);
}

function teddyCand(tp: usize, p: usize, buckets: u32): void {
  const heads = dbBase + load<u32>(tp + TBL.HEADS);
  const ents = dbBase + load<u32>(tp + TBL.ENTRIES);
  const fp = load<u32>(curData + p);
  while (buckets != 0) {
    const b = <usize>ctz(buckets);
    buckets &= buckets - 1;
    const e = load<u32>(heads + ((b + 1) << 2));
    for (let i = load<u32>(heads + (b << 2)); i < e; i++) {
      const ep = ents + (<usize>i << 4);
      if ((fp & load<u32>(ep, 4)) != load<u32>(ep)) continue;
      const off = <usize>load<u32>(ep, 12);
      if (p < off) continue;
      tryPart(load<u32>(ep, 8), <u32>(p - off));
    }
  }
}

/** Resolve a bitmap hit through the CSR table: exact gram compare, then verify. */
function cand(tp: usize, g: u64, h: u32, p: usize): void {
  // second-level filter: the same bitmap size under an independent hash; a false hit of
  // the first bitmap (a few % of probes) rarely survives both, and this one miss is
  // cheaper than the two (bucket head, entries) a CSR lookup costs
  const bm2 = load<u32>(tp + TBL.BITMAP2);
  if (bm2 != 0) {
    const bits = load<u32>(tp + TBL.BITS);
    const h2 = load<u32>(tp + TBL.G) == 8 ? <u32>((g * 0xc2b2ae3d27d4eb4f) >> <u64>(64 - bits)) : (<u32>g * 0x85ebca77) >> (32 - bits);
    if (!bitSet(dbBase + bm2, h2)) return;
  }
  const bucket = h >> load<u32>(tp + TBL.BSHIFT);
  const heads = dbBase + load<u32>(tp + TBL.HEADS);
  const ents = dbBase + load<u32>(tp + TBL.ENTRIES);
  let i = load<u32>(heads + (<usize>bucket << 2));
  const e = load<u32>(heads + (<usize>(bucket + 1) << 2));
  const gmask = load<u64>(tp + TBL.GMASK);
  const gm = g & gmask;
  for (; i < e; i++) {
    const ep = ents + (<usize>i << 4);
    if (load<u64>(ep) != gm) continue;
    const off = <usize>load<u32>(ep, 12);
    if (p < off) continue;
    tryPart(load<u32>(ep, 8), <u32>(p - off));
  }
}

