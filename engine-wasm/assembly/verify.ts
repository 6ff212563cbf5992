// Exact verification of candidates: masked segment compares, byte checks, bounded-gap
// search left and right of the anchor segment, chaining of split signatures (with
// deferral of parts found before their predecessor) and match counting.

import { CHK, PAT, SEG, SID, SIDF_COUNTS, NONE, FLAG_DEFER_OVERFLOW, FLAG_VERIFY_BUDGET, FLAG_OUT_OVERFLOW } from "./layout";
import {
  budget, curData, curLen, curType, dbBase, defCap, defLen, defPtr, fileLen, flags, gen, MAX_DEFER_ROUNDS,
  outCap, outLen, outPtr, patsPtr, sidCount, sidGen, sidLast, sidsPtr, slotE, VERIFY_BUDGET, winLo,
} from "./state";


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
export function tryPart(pid: u32, segPos: u32): bool {
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
export function resolveDeferred(): void {
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

