// Bulwark scanning core: a hashed-anchor multi-pattern matcher with exact verification.
//
// Boundary: numbers only. The host (host/engine/wasm-engine.ts) lays out the compiled
// database (host/engine/compile.ts) in shared linear memory, gives each instance a private
// state region, writes each object into that instance's input window and calls scan().
// Matched body-signature ids come back in the OUT list; counts stay in the state region.
// Nothing here allocates: every table is a flat array at an offset the host chose.
//
// Algorithm (see ../../../shared/notes/wasm-engine.md §2.6, §8):
//   1. probe: every S bytes, hash the G-byte gram (G = 8, 4 or 2) and test a bitmap;
//   2. candidates: a CSR hash table maps the gram to (pattern, offset-in-segment) entries;
//   3. verify: masked compare of the anchor segment, then bounded-gap search left and right;
//   4. chain: a signature split at `*` / `{n-}` into parts keeps, per part, the earliest end
//      of a valid chain; a part found before its predecessor is deferred and retried.
// Layout constants are mirrored in host/engine/layout.ts; change both together.

import { DB, TBL, PAT, SEG, CHK, SID, SIDF_COUNTS, NONE, FLAG_DEFER_OVERFLOW, FLAG_VERIFY_BUDGET, FLAG_OUT_OVERFLOW } from "./layout";

// ---- per-instance globals (set by init / initState; wasm globals are per instance) ----
let dbBase: usize = 0;
let nTables: u32 = 0;
let tablesPtr: usize = 0;
let patsPtr: usize = 0;
let sidsPtr: usize = 0;
let nSids: u32 = 0;

let sidGen: usize = 0; // u32[nSids]
let sidCount: usize = 0; // u32[nSids]
let sidLast: usize = 0; // u32[nSids]: anchor position of the last counted match
let slotE: usize = 0; // u32[nSlots]: earliest end of a valid chain through that part
let outPtr: usize = 0; // u32[outCap]: sids matched for the first time in this scan
let outCap: u32 = 0;
let outLen: u32 = 0;
let defPtr: usize = 0; // (u32 pid, start, end, anchor position)[defCap]
let defCap: u32 = 0;
let defLen: u32 = 0;

let gen: u32 = 0;
let flags: u32 = 0;
let budget: i32 = 0;
// Absolute addressing: byte p of the object (0 <= p < fileLen) is at curData + p. In a
// whole-object scan all of it is there; in a chunked scan only [winLo, curLen) is, and the
// host sizes each window so verification never needs bytes outside it (meta chunk overlap).
let curData: usize = 0;
let curLen: u32 = 0; // end of the bytes present (absolute)
let winLo: u32 = 0; // start of the bytes present (absolute)
let fileLen: u32 = 0; // size of the whole object: EOF offsets and file-edge rules
let probeFrom: u32 = 0; // this call probes anchor positions in [probeFrom, probeTo)
let probeTo: u32 = 0;
let curType: u32 = 0;

// Bound on segment comparisons spent verifying one candidate. A signature with several
// wide `{n-m}` gaps inside one part could otherwise cost (gap width)^k per candidate;
// 1<<16 comparisons is far above what any real signature needs (one or two gaps of <= 1k).
const VERIFY_BUDGET: i32 = 1 << 16;
// Fixpoint rounds over deferred parts: one round resolves at least one more link of a
// chain, and ClamAV-format signatures have at most 64 subsigs with a few parts each.
const MAX_DEFER_ROUNDS: u32 = 256;

export function heapBase(): usize {
  return __heap_base;
}

/** Point this instance at a compiled database (already in memory at `base`). */
export function init(base: usize): u32 {
  dbBase = base;
  if (load<u32>(base + DB.MAGIC) != 0x4b575642) return 1; // "BVWK"
  nTables = load<u32>(base + DB.NTABLES);
  tablesPtr = base + load<u32>(base + DB.TABLES);
  patsPtr = base + load<u32>(base + DB.PATTERNS);
  sidsPtr = base + load<u32>(base + DB.SIDS);
  nSids = load<u32>(base + DB.NSIDS);
  return 0;
}

/** Give this instance its private state region (laid out by the host). */
export function initState(genP: usize, countP: usize, lastP: usize, slotP: usize, outP: usize, outN: u32, defP: usize, defN: u32): void {
  sidGen = genP;
  sidCount = countP;
  sidLast = lastP;
  slotE = slotP;
  outPtr = outP;
  outCap = outN;
  defPtr = defP;
  defCap = defN;
  gen = 0;
  memory.fill(sidGen, 0, <usize>nSids << 2);
}

export function lastFlags(): u32 {
  return flags;
}

/** Scan one object. Returns the number of sids in OUT (first matches of this scan). */
export function scan(data: usize, len: u32, objType: u32): u32 {
  return scanPart(data, len, objType, 0, 0, len, len, 3);
}

/**
 * Scan part of an object whose bytes [absStart, absStart + len) are at `data`: probe the
 * anchor positions [from, to) (absolute), the rest of the window being overlap for
 * verification. `ends` bit 0: first call of this object (fresh state), bit 1: last call
 * (resolve deferred chains). Returns the number of sids in OUT so far for this object.
 */
export function scanPart(data: usize, len: u32, objType: u32, absStart: u32, from: u32, to: u32, total: u32, ends: u32): u32 {
  if ((ends & 1) != 0) {
    gen++;
    if (gen == 0) {
      // generation wrapped: every stamp is stale by construction only if we clear them
      memory.fill(sidGen, 0, <usize>nSids << 2);
      gen = 1;
    }
    flags = 0;
    outLen = 0;
    defLen = 0;
  }
  curData = data - <usize>absStart;
  winLo = absStart;
  curLen = absStart + len;
  fileLen = total;
  probeFrom = from;
  probeTo = to;
  curType = objType;
  for (let t: u32 = 0; t < nTables; t++) {
    const tp = tablesPtr + <usize>t * TBL.SIZE;
    const g = load<u32>(tp + TBL.G);
    if (g == 8) probe8(tp);
    else if (g == 4) probe4(tp);
    else if (g == 3) teddy(tp);
    else probe2(tp);
  }
  if ((ends & 2) != 0) resolveDeferred();
  return outLen;
}

/** Match count of a sid in the last scan (0 when untouched). */
export function countOf(sid: u32): u32 {
  if (load<u32>(sidGen + (<usize>sid << 2)) != gen) return 0;
  return load<u32>(sidCount + (<usize>sid << 2));
}

// ---------------------------------------------------------------- probes

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

function probe8(tp: usize): void {
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

function probe4(tp: usize): void {
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

function probe2(tp: usize): void {
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
function teddy(tp: usize): void {
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

// ---------------------------------------------------------------- verification

function segMatch(seg: usize, pos: u32): bool {
  const len = load<u32>(seg + SEG.LEN);
  if (pos < winLo || <u64>pos + <u64>len > <u64>curLen) return false;
  budget--;
  const bytes = dbBase + load<u32>(seg + SEG.BYTES);
  const masks = dbBase + load<u32>(seg + SEG.MASKS);
  const d = curData + pos;
  // masked compare 16 bytes at a time; bytes/masks are zero-padded to 16 in the DB and the
  // host leaves 16 bytes of slack after every object, so the tail chunk is safe to load.
  for (let i: usize = 0; i < <usize>len; i += 16) {
    const v = v128.and(v128.load(d + i), v128.load(masks + i));
    if (!i8x16.all_true(i8x16.eq(v, v128.load(bytes + i)))) return false;
  }
  const nchk = load<u32>(seg + SEG.NCHECKS);
  if (nchk == 0) return true;
  const chk = dbBase + load<u32>(seg + SEG.CHECKS);
  for (let c: u32 = 0; c < nchk; c++) {
    const cp = chk + <usize>c * CHK.SIZE;
    if (!checkHolds(cp, pos + load<u32>(cp + CHK.AT))) return false;
  }
  return true;
}

// @ts-ignore: decorator
@inline function isAlnum(b: u32): bool {
  return (b - 0x30 < 10) || ((b | 0x20) - 0x61 < 26);
}

function checkHolds(cp: usize, at: u32): bool {
  const kind = load<u32>(cp + CHK.KIND);
  const dp = dbBase + load<u32>(cp + CHK.DATA);
  if (kind == 1) {
    // byte set: 256-bit bitmap
    if (at >= curLen) return false;
    const b = <u32>load<u8>(curData + at);
    return ((load<u8>(dp + (b >> 3)) >> (b & 7)) & 1) != 0;
  }
  if (kind == 2) {
    // none of n strings (u32 n, then per string: u32 len, bytes padded to 4)
    const n = load<u32>(dp);
    let sp = dp + 4;
    for (let s: u32 = 0; s < n; s++) {
      const sl = load<u32>(sp);
      const sb = sp + 4;
      if (<u64>at + <u64>sl <= <u64>curLen && memory.compare(curData + at, sb, sl) == 0) return false;
      sp = sb + ((<usize>sl + 3) & ~3);
    }
    return true;
  }
  if (kind == 6) {
    // single-byte anchor near the segment: (u32 byte, mask, min, max, dir) at dp
    const byte = load<u32>(dp);
    const mask = load<u32>(dp, 4);
    const dmin = load<u32>(dp, 8);
    const dmax = load<u32>(dp, 12);
    const right = load<u32>(dp, 16) != 0;
    for (let d = dmin; d <= dmax; d++) {
      let i: i64 = right ? <i64>at + <i64>d : <i64>at - 1 - <i64>d;
      if (i < <i64>winLo || i >= <i64>curLen) continue;
      if (((<u32>load<u8>(curData + <usize>i)) & mask) == byte) return true;
    }
    return false;
  }
  // zero-width boundary rules (B, L, W) on the byte just outside the segment edge; the file
  // edge satisfies every rule. CHK.LEN holds the flags: bit 0 right edge, bit 1 negated.
  const f = load<u32>(cp + CHK.LEN);
  const right = (f & 1) != 0;
  let ok: bool;
  if (right ? at >= fileLen : at == 0) ok = true;
  else if (right ? at >= curLen : at - 1 < winLo) ok = false; // outside the window (the host's overlap prevents it)
  else {
    const b = <u32>load<u8>(curData + (right ? at : at - 1));
    if (kind == 3) ok = right ? isBoundaryRight(b) : isBoundaryLeft(b);
    else if (kind == 4) ok = right ? b == 10 || (b == 13 && at + 1 < curLen && load<u8>(curData + at + 1) == 10) : b == 10;
    else ok = !isAlnum(b);
  }
  return (f & 2) != 0 ? !ok : ok;
}

// ClamAV's boundary classes for (B): before a match ` -/.<@_`, after `\n \r space " ' - / = > _`
// @ts-ignore: decorator
@inline function isBoundaryLeft(b: u32): bool {
  return b == 0x20 || b == 0x2d || b == 0x2f || b == 0x2e || b == 0x3c || b == 0x40 || b == 0x5f;
}
// @ts-ignore: decorator
@inline function isBoundaryRight(b: u32): bool {
  return b == 10 || b == 13 || b == 0x20 || b == 0x22 || b == 0x27 || b == 0x2d || b == 0x2f || b == 0x3d || b == 0x3e || b == 0x5f;
}

/** Segments k..nseg-1 to the right, seg k starting in [from+gapMin, from+gapMax].
 *  Returns the end of the first full assignment (smallest gaps first), or NONE. */
function rightFrom(segs: usize, k: u32, nseg: u32, from: u32): u32 {
  const seg = segs + <usize>k * SEG.SIZE;
  const gmin = load<u32>(seg + SEG.GAPMIN);
  const gmax = load<u32>(seg + SEG.GAPMAX);
  const len = load<u32>(seg + SEG.LEN);
  for (let g = gmin; g <= gmax; g++) {
    if (budget <= 0) return NONE;
    const pos = from + g;
    if (<u64>pos + <u64>len > <u64>curLen) return NONE;
    if (!segMatch(seg, pos)) continue;
    if (k + 1 == nseg) return pos + len;
    const r = rightFrom(segs, k + 1, nseg, pos + len);
    if (r != NONE) return r;
  }
  return NONE;
}

/** Segments k..0 to the left, seg k ending in [to-gapMax(k+1), to-gapMin(k+1)].
 *  Returns the start of seg 0 of the first assignment with start in [lo, hi], or NONE. */
function leftTo(segs: usize, k: i32, to: u32, lo: u32, hi: u32): u32 {
  const next = segs + <usize>(k + 1) * SEG.SIZE;
  const gmin = load<u32>(next + SEG.GAPMIN);
  const gmax = load<u32>(next + SEG.GAPMAX);
  const seg = segs + <usize>k * SEG.SIZE;
  const len = load<u32>(seg + SEG.LEN);
  for (let g = gmin; g <= gmax; g++) {
    if (budget <= 0) return NONE;
    if (<u64>g + <u64>len > <u64>to) return NONE;
    const pos = to - g - len;
    if (pos < winLo) return NONE; // later g only moves further left
    if (k == 0 && pos < lo) return NONE;
    if (!segMatch(seg, pos)) continue;
    if (k == 0) {
      if (pos <= hi) return pos;
      continue;
    }
    const r = leftTo(segs, k - 1, pos, lo, hi);
    if (r != NONE) return r;
  }
  return NONE;
}

/**
 * Verify part `pid` with its anchor segment at `segPos`. On success update the chain state
 * and, for a last part, record a hit. When the previous part has no usable chain end yet,
 * the candidate is deferred (decided when the object ends) instead of dropped.
 * Returns true when the part was accepted (chain advanced).
 */
function tryPart(pid: u32, segPos: u32): bool {
  const pp = patsPtr + <usize>pid * PAT.SIZE;
  const sid = load<u32>(pp + PAT.SID);
  const sp = sidsPtr + <usize>sid * SID.SIZE;
  const target = load<u32>(sp + SID.TARGET);
  if (target != 0 && target != curType) return false;
  // a signature without counts (an .ndb line) is decided by its first match: later
  // occurrences cannot change the verdict, so skip their verification (a signature whose
  // anchor is common in the data would otherwise be verified at every occurrence)
  if ((load<u32>(sp + SID.FLAGS) & SIDF_COUNTS) == 0 && load<u32>(sidGen + (<usize>sid << 2)) == gen && load<u32>(sidCount + (<usize>sid << 2)) > 0) return false;

  const segs = dbBase + load<u32>(pp + PAT.SEGS);
  const nseg = load<u32>(pp + PAT.NSEG);
  const aseg = load<u32>(pp + PAT.ANCHORSEG);
  budget = VERIFY_BUDGET;
  const anchor = segs + <usize>aseg * SEG.SIZE;
  if (!segMatch(anchor, segPos)) return false;
  let end = segPos + load<u32>(anchor + SEG.LEN);
  if (aseg + 1 < nseg) {
    end = rightFrom(segs, aseg + 1, nseg, end);
    if (end == NONE) {
      if (budget <= 0) flags |= FLAG_VERIFY_BUDGET;
      return false;
    }
  }

  // fresh per-scan state for this sid
  const gp = sidGen + (<usize>sid << 2);
  if (load<u32>(gp) != gen) {
    store<u32>(gp, gen);
    store<u32>(sidCount + (<usize>sid << 2), 0);
    store<u32>(sidLast + (<usize>sid << 2), NONE);
    const sb = load<u32>(sp + SID.SLOTBASE);
    const ns = load<u32>(sp + SID.NSLOTS);
    for (let s: u32 = 0; s < ns; s++) store<u32>(slotE + (<usize>(sb + s) << 2), NONE);
  }

  const part = load<u32>(pp + PAT.PART);
  const slot = load<u32>(pp + PAT.SLOT);
  let lo: u32 = 0;
  let hi: u32 = NONE;
  if (part == 0) {
    const ok = load<u32>(pp + PAT.OFFKIND);
    const a = load<u32>(pp + PAT.OFFA);
    const b = load<u32>(pp + PAT.OFFB);
    if (ok == 1) {
      lo = a;
      hi = a + b;
    } else if (ok == 2) {
      if (a > fileLen) return false;
      lo = fileLen - a;
      hi = lo + b;
    }
  } else {
    const prevE = load<u32>(slotE + (<usize>(slot - 1) << 2));
    if (prevE == NONE) {
      // predecessor not (yet) found: keep the candidate if the part itself matches
      deferIfMatches(pid, segs, aseg, segPos, end);
      return false;
    }
    lo = prevE + load<u32>(pp + PAT.GAPPREV);
  }
  let start = segPos;
  if (aseg > 0) start = leftTo(segs, <i32>aseg - 1, segPos, lo, hi);
  else if (start < lo || start > hi) start = NONE;
  if (start == NONE) {
    if (budget <= 0) flags |= FLAG_VERIFY_BUDGET;
    if (part > 0) deferIfMatches(pid, segs, aseg, segPos, end);
    return false;
  }

  const ep = slotE + (<usize>slot << 2);
  if (end < load<u32>(ep)) store<u32>(ep, end);
  if (part + 1 == load<u32>(pp + PAT.NPARTS)) hit(sid, segPos);
  return true;
}

/** Latest start of segment 0 over every assignment of segments k..0 ending before `to`
 *  (within the gaps), or NONE. Exhaustive, within the verification budget. */
function leftMax(segs: usize, k: i32, to: u32): u32 {
  const next = segs + <usize>(k + 1) * SEG.SIZE;
  const gmin = load<u32>(next + SEG.GAPMIN);
  const gmax = load<u32>(next + SEG.GAPMAX);
  const seg = segs + <usize>k * SEG.SIZE;
  const len = load<u32>(seg + SEG.LEN);
  let best: u32 = NONE;
  for (let g = gmin; g <= gmax; g++) {
    if (budget <= 0) break;
    if (<u64>g + <u64>len > <u64>to) break;
    const pos = to - g - len;
    if (pos < winLo) break;
    if (!segMatch(seg, pos)) continue;
    if (k == 0) return pos; // the smallest gap gives the latest start
    const r = leftMax(segs, k - 1, pos);
    if (r != NONE && (best == NONE || r > best)) best = r;
  }
  return best;
}

/**
 * A part that matches but whose predecessor has no (early enough) chain end yet. Keep what
 * deciding it later needs, so that no bytes are read again (in a chunked scan they are
 * gone): its latest possible start, its end and where its anchor was.
 */
function deferIfMatches(pid: u32, segs: usize, aseg: u32, segPos: u32, end: u32): void {
  const start = aseg > 0 ? leftMax(segs, <i32>aseg - 1, segPos) : segPos;
  if (start == NONE) return;
  if (defLen >= defCap) {
    flags |= FLAG_DEFER_OVERFLOW;
    return;
  }
  const dp = defPtr + (<usize>defLen << 4);
  store<u32>(dp, pid);
  store<u32>(dp, start, 4);
  store<u32>(dp, end, 8);
  store<u32>(dp, segPos, 12);
  defLen++;
}

/** Chains completed by deferred parts: repeat until no deferred part is accepted. */
function resolveDeferred(): void {
  let round: u32 = 0;
  let changed = defLen > 0;
  while (changed && round < MAX_DEFER_ROUNDS) {
    changed = false;
    round++;
    for (let i: u32 = 0; i < defLen; i++) {
      const dp = defPtr + (<usize>i << 4);
      const pid = load<u32>(dp);
      if (pid == NONE) continue;
      const pp = patsPtr + <usize>pid * PAT.SIZE;
      const slot = load<u32>(pp + PAT.SLOT);
      const prevE = load<u32>(slotE + (<usize>(slot - 1) << 2));
      if (prevE == NONE || load<u32>(dp, 4) < prevE + load<u32>(pp + PAT.GAPPREV)) continue;
      const ep = slotE + (<usize>slot << 2);
      const end = load<u32>(dp, 8);
      if (end < load<u32>(ep)) store<u32>(ep, end);
      if (load<u32>(pp + PAT.PART) + 1 == load<u32>(pp + PAT.NPARTS)) hit(load<u32>(pp + PAT.SID), load<u32>(dp, 12));
      store<u32>(dp, NONE); // resolved
      changed = true;
    }
  }
}

/** Count a match of `sid` whose last part's anchor segment is at `at`. Alternatives of one
 *  signature that end in the same place are one match (ClamAV counts distinct positions);
 *  they are verified one after another from the same probe, so comparing with the last
 *  counted position is enough. */
function hit(sid: u32, at: u32): void {
  const lp = sidLast + (<usize>sid << 2);
  if (load<u32>(lp) == at) return;
  store<u32>(lp, at);
  const cp = sidCount + (<usize>sid << 2);
  const c = load<u32>(cp) + 1;
  store<u32>(cp, c);
  if (c == 1) {
    if (outLen < outCap) {
      store<u32>(outPtr + (<usize>outLen << 2), sid);
      outLen++;
    } else {
      flags |= FLAG_OUT_OVERFLOW;
    }
  }
}

// ---------------------------------------------------------------- fault injection
// Used only by tests (host/scan/scan-thread.ts ThreadInit.faults) to prove that a stuck or
// trapping core costs one worker and one not-scanned verdict, nothing else.

/** Never returns: what a pathological input could do to a buggy core. */
export function faultSpin(): u32 {
  let n: u32 = 0;
  while (gen != 0xfffffffe) n++;
  return n;
}

/** Traps (unreachable). */
export function faultTrap(): void {
  unreachable();
}
