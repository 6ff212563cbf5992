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
//
// Files: state.ts (per-instance globals), probes.ts (prefilter passes), verify.ts
// (verification, chaining, counting), layout.ts (record offsets); this file is the API.

import { DB } from "./layout";
import {
  curData, curLen, curType, dbBase, defCap, defLen, defPtr, fileLen, flags, gen, nSids, nTables, outCap, outLen,
  outPtr, patsPtr, probeFrom, probeTo, sidCount, sidGen, sidLast, sidsPtr, slotE, tablesPtr, winLo,
} from "./state";
import { probe2, probe4, probe8, teddy } from "./probes";
import { resolveDeferred } from "./verify";
import { TBL } from "./layout";

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
