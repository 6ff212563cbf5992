/**
 * Teddy tables (the SIMD literal prefilter in engine-wasm/assembly/index.ts `teddy`): used
 * instead of the hashed gram tables when the whole database has few anchors (the built-in
 * signature, a site's handful of custom rules). One pass at stride 1 with three nibble
 * lookups per 16 bytes beats any number of hash probes there.
 *
 * Record: TBL.BITMAP -> six v128 masks lo0,hi0,lo1,hi1,lo2,hi2 (bucket bits per nibble of
 * fingerprint bytes 0..2); TBL.HEADS -> u32[9] bucket starts; TBL.ENTRIES -> 16-byte
 * entries {u32 fingerprint, u32 fingerprint mask, u32 pid, u32 offset in segment}.
 */
import type { Anchor } from "./anchor.js";
import { gramVariants } from "./anchor.js";
import type { BlobWriter } from "./blob-writer.js";

/** Marker class for the Teddy table in tableRecs. */
export const TEDDY_CLASS = -1;
const BUCKETS = 8;
/** Most fingerprints Teddy takes: Hyperscan's limit for 8 buckets (TEDDY_BUCKET_LOAD 6 × 8);
 *  beyond it buckets fill up and candidates stop being rare. */
export const TEDDY_MAX_ENTRIES = 48;

export interface TeddyEntry {
  fp: number;
  mask: number;
  pid: number;
  off: number;
}

/** Fingerprint entries for every pattern, or null when the set is too large for Teddy. */
export function teddyEntries(seeds: { pid: number; anchor: Anchor }[]): TeddyEntry[] | null {
  if (seeds.length > TEDDY_MAX_ENTRIES) return null;
  const out: TeddyEntry[] = [];
  for (const { pid, anchor } of seeds) {
    const n = Math.min(3, anchor.choices.length);
    const mask = n === 3 ? 0xffffff : 0xffff;
    for (const [lo] of gramVariants(anchor.choices, 0, n)) out.push({ fp: lo & mask, mask, pid, off: anchor.start });
    if (out.length > TEDDY_MAX_ENTRIES) return null;
  }
  return out;
}

export function buildTeddy(w: BlobWriter, entries: TeddyEntry[]) {
  const sorted = [...entries].sort((a, b) => a.fp - b.fp || a.mask - b.mask);
  const masks = new Uint8Array(96);
  const heads = new Uint32Array(BUCKETS + 1);
  const bucketOf = (i: number) => Math.floor((i * BUCKETS) / sorted.length);
  sorted.forEach((e, i) => {
    const bit = 1 << bucketOf(i);
    heads[bucketOf(i) + 1]++;
    for (let j = 0; j < 3; j++) {
      const lo = 32 * j;
      if ((e.mask >>> (8 * j)) & 0xff) {
        const b = (e.fp >>> (8 * j)) & 0xff;
        masks[lo + (b & 15)] |= bit;
        masks[lo + 16 + (b >> 4)] |= bit;
      } else {
        for (let k = 0; k < 32; k++) masks[lo + k] |= bit; // position not in the fingerprint
      }
    }
  });
  for (let b = 0; b < BUCKETS; b++) heads[b + 1] += heads[b];
  const ents = new Uint32Array(sorted.length * 4);
  sorted.forEach((e, i) => ents.set([e.fp, e.mask, e.pid, e.off], i * 4));
  const bitmap = w.bytesAligned(masks, 16);
  const headsOff = w.align(4);
  w.u32s(heads);
  const entriesOff = w.align(16);
  w.u32s(ents);
  return { cls: TEDDY_CLASS, bits: 0, bshift: 0, bitmap, heads: headsOff, entries: entriesOff, n: sorted.length };
}
