/**
 * Reference matcher: interprets the signature IR directly, as plainly as possible, to be the
 * oracle the WASM engine is compared with. Speed is not a goal (it tries every position);
 * what it must be is obviously right, and identical to ClamAV (checked against clamscan in
 * test/engine/reference-vs-clamscan.test.ts). Hash signatures are out of its scope.
 *
 * Semantics (ClamAV 1.4, matcher-ac.c, measured where noted):
 * - Target: a signature with target 0 applies to every object, others only to objects of
 *   that target type. An .ldb with target null applies everywhere.
 * - Offset: constrains the start of the first segment of the first part (the "core": a
 *   `hh[n-m]` anchor before it does not count; measured). `EOF-n` with n > size never
 *   matches.
 * - Parts are matched in order; part j must start ≥ (end of part j-1) + partGapMin[j]. The
 *   earliest possible end of each part is the best for the next one, so "greedy earliest end"
 *   is exact. Inside a part, segments are separated by gapMin..gapMax bytes.
 * - .ldb subsignature count (what `=x`, `>x` compare): the number of distinct start offsets
 *   of the last segment over all complete matches. For a one-chunk subsig that is the number
 *   of distinct match starts: ClamAV counts a match only at an offset beyond the last counted
 *   one, and overlapping matches count (measured: `aaaaaa` in five aa bytes → 3). For a split
 *   subsig ClamAV counts each occurrence of its last part that completes a chain (measured:
 *   `aabb*ccdd` on aabb ccdd ccdd ccdd → 3, on aabb aabb aabb ccdd → 1): the same rule.
 * - FileSize in an .ldb TDB is an inclusive range on the object size.
 */
import type { BodyAlt, BodySig, ByteCheck, OffsetSpec, Part, Segment, SignatureSet } from "../sigs/types.js";
import { evalLogic } from "../sigs/logic.js";

export interface ReferenceResult {
  /** indexes into set.ndb that matched */
  ndb: number[];
  /** indexes into set.ldb whose logic held */
  ldb: number[];
  /** counts[i][j]: matches of subsig j of set.ldb[i] (empty when the sig did not apply) */
  counts: number[][];
}

/** ClamAV boundary[] classes: left (B) wants 1|3 before, right (B) wants 2|3 after. */
const B_LEFT = new Set([0x20, 0x2d, 0x2e, 0x2f, 0x3c, 0x40, 0x5f]);
const B_RIGHT = new Set([0x0a, 0x0d, 0x20, 0x22, 0x27, 0x2d, 0x2f, 0x3d, 0x3e, 0x5f]);
const isAlnum = (b: number) => (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122);

function edgeHolds(c: { kind: "B" | "L" | "W"; at: number; neg?: boolean }, d: Uint8Array, p: number, len: number): boolean {
  let ok: boolean;
  if (c.at === 0) {
    const i = p - 1; // byte before the segment
    if (i < 0) ok = true;
    else if (c.kind === "B") ok = B_LEFT.has(d[i]);
    else if (c.kind === "L") ok = d[i] === 0x0a;
    else ok = !isAlnum(d[i]);
  } else {
    const i = p + len; // byte after the segment
    if (i >= d.length) ok = true;
    else if (c.kind === "B") ok = B_RIGHT.has(d[i]);
    else if (c.kind === "L") ok = d[i] === 0x0a || (d[i] === 0x0d && i + 1 < d.length && d[i + 1] === 0x0a);
    else ok = !isAlnum(d[i]);
  }
  return c.neg ? !ok : ok;
}

function checkHolds(c: ByteCheck, d: Uint8Array, p: number, len: number): boolean {
  switch (c.kind) {
    case "set": {
      const b = d[p + c.at];
      return (c.set[b >> 3] & (1 << (b & 7))) !== 0;
    }
    case "notstr":
      return c.strs.every((s) => {
        for (let k = 0; k < s.length; k++) if (d[p + c.at + k] !== s[k]) return true;
        return false;
      });
    case "near":
      for (let dist = c.min; dist <= c.max; dist++) {
        const i = c.dir < 0 ? p + c.at - 1 - dist : p + c.at + dist;
        if (i < 0 || i >= d.length) return false;
        if ((d[i] & c.mask) === c.byte) return true;
      }
      return false;
    default:
      return edgeHolds(c, d, p, len);
  }
}

/** Does segment `s` match with its first byte at `p`? */
export function segmentAt(s: Segment, d: Uint8Array, p: number): boolean {
  const len = s.bytes.length;
  if (p < 0 || p + len > d.length) return false;
  for (let i = 0; i < len; i++) if ((d[p + i] & s.masks[i]) !== s.bytes[i]) return false;
  for (const c of s.checks) if (!checkHolds(c, d, p, len)) return false;
  return true;
}

/** Starts of the part's last segment over all matches of the part beginning at `p`. */
function partLastStarts(part: Part, d: Uint8Array, p: number): number[] {
  if (!segmentAt(part.segs[0], d, p)) return [];
  let cur = [p];
  for (let i = 1; i < part.segs.length; i++) {
    const prevLen = part.segs[i - 1].bytes.length;
    const next = new Set<number>();
    for (const q of cur) {
      const hi = Math.min(q + prevLen + part.gapMax[i - 1], d.length);
      for (let r = q + prevLen + part.gapMin[i - 1]; r <= hi; r++) if (!next.has(r) && segmentAt(part.segs[i], d, r)) next.add(r);
    }
    if (next.size === 0) return [];
    cur = [...next];
  }
  return cur;
}

/** Allowed start range of the first part, or null if none. */
function startRange(off: OffsetSpec, size: number): [number, number] | null {
  if (off.kind === "any") return [0, size - 1];
  const base = off.kind === "abs" ? off.n : size - off.n;
  if (off.kind === "eof" && off.n > size) return null;
  const hi = Math.min(base + off.shift, size - 1);
  return base > hi ? null : [base, hi];
}

/** Distinct starts of the final segment over all complete matches of one alternative. */
function altLastStarts(alt: BodyAlt, off: OffsetSpec, d: Uint8Array, out: Set<number>): void {
  const range = startRange(off, d.length);
  if (!range) return;
  let lo = range[0], hi = range[1];
  const last = alt.parts.length - 1;
  for (let j = 0; j <= last; j++) {
    const part = alt.parts[j];
    const lastLen = part.segs[part.segs.length - 1].bytes.length;
    let bestEnd = Infinity;
    for (let q = lo; q <= hi && q < bestEnd; q++) {
      const ends = partLastStarts(part, d, q);
      if (j === last) for (const s of ends) out.add(s);
      else for (const s of ends) bestEnd = Math.min(bestEnd, s + lastLen);
    }
    if (j === last) return;
    if (bestEnd === Infinity) return;
    lo = bestEnd + alt.partGapMin[j + 1];
    hi = d.length - 1;
  }
}

/** ClamAV's match count of a body signature (see the file comment). */
export function countMatches(body: BodySig, d: Uint8Array): number {
  const starts = new Set<number>();
  for (const alt of body.alts) altLastStarts(alt, body.offset, d, starts);
  return starts.size;
}

export function bodyMatches(body: BodySig, d: Uint8Array): boolean {
  return countMatches(body, d) > 0;
}

export function referenceMatch(set: SignatureSet, data: Uint8Array, opts: { target: number }): ReferenceResult {
  const res: ReferenceResult = { ndb: [], ldb: [], counts: [] };
  set.ndb.forEach((sig, i) => {
    if (sig.target !== 0 && sig.target !== opts.target) return;
    if (bodyMatches(sig.body, data)) res.ndb.push(i);
  });
  set.ldb.forEach((sig, i) => {
    res.counts.push([]);
    if (sig.target !== null && sig.target !== 0 && sig.target !== opts.target) return;
    if (sig.fileSize && (data.length < sig.fileSize[0] || data.length > sig.fileSize[1])) return;
    const counts = sig.subsigs.map((b) => countMatches(b, data));
    res.counts[i] = counts;
    if (evalLogic(sig.expr, counts)) res.ldb.push(i);
  });
  return res;
}
