/**
 * The hashing and collection underneath the spam tokenizer (tokenize.ts). A feature is a
 * 53-bit unsigned hash (a plain JS number, exact in a double, a SQLite INTEGER and a Map
 * key without BigInt): two independent 32-bit lanes over the token's char codes, started
 * from the field's seed, so "from:cheap" and body "cheap" differ without any string being
 * built. The top bit is the lane (HEADER_LANE: header field or body), the other 52 are the
 * hash. Collisions: with 2^52 values per lane, a million distinct tokens collide with
 * probability about 1e-4, far below the filter's own noise.
 *
 * Hashes go into one preallocated Float64Array (no per-token objects); `take()` sorts it
 * and returns the unique values. Module state is fine: the tokenizer runs synchronously.
 */

/** Raw (not yet deduplicated) features per message. Unigrams plus pairs of a 5 KB mail are
 *  ~3,000; the cap bounds sort cost and the Bayes lookups of a mail padded with words. */
export const MAX_RAW_FEATURES = 12_000;

const buf = new Float64Array(MAX_RAW_FEATURES);
let count = 0;
let overflowed = false;

/** The top bit (2^52) of a feature says which part of the mail it came from: set for the
 *  header fields (names, words, sender domains), clear for the body, URIs and meta tokens.
 *  The filter weighs the two opinions separately (bayes.ts), without the store keeping
 *  anything but the feature number. */
export const HEADER_LANE = 4503599627370496; // 2^52
let lane = 0;

/** Features emitted from now on are header features (true) or body features (false). */
export function headerLane(on: boolean): void {
  lane = on ? 0x100000 : 0;
}

/** Whether feature f came from the header fields. */
export function isHeaderFeature(f: number): boolean {
  return f >= HEADER_LANE;
}

/** Lanes of the last hash computed (read right after the call; avoids a tuple per token). */
export let lastLo = 0;
export let lastHi = 0;

export function reset(): void {
  count = 0;
  overflowed = false;
  lane = 0;
}

export function full(): boolean {
  return count >= MAX_RAW_FEATURES;
}

export function wasTruncated(): boolean {
  return overflowed;
}

/** Record the feature made of lanes (lo, hi). */
export function emit(lo: number, hi: number): void {
  if (count >= MAX_RAW_FEATURES) {
    overflowed = true;
    return;
  }
  buf[count++] = ((hi & 0xfffff) | lane) * 4294967296 + (lo >>> 0);
}

/** Sorted unique features collected since reset(). */
export function take(): number[] {
  const view = buf.subarray(0, count);
  view.sort();
  const out: number[] = [];
  let prev = -1;
  for (let i = 0; i < count; i++) {
    const v = view[i];
    if (v !== prev) out.push(v);
    prev = v;
  }
  return out;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Fold a UTF-16 code unit to lower case: ASCII and Latin-1 capitals; others as they are. */
export function foldCase(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c | 0x20;
  if (c >= 0xc0 && c <= 0xde && c !== 0xd7) return c + 0x20;
  return c;
}

/** Hash s[from, to) (case-folded when `fold`) from seed lanes; result in lastLo/lastHi. */
export function hashRange(s: string, from: number, to: number, seedLo: number, seedHi: number, fold: boolean): void {
  let a = seedLo;
  let b = seedHi;
  for (let i = from; i < to; i++) {
    const c = fold ? foldCase(s.charCodeAt(i)) : s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  lastLo = fmix(a ^ (to - from));
  lastHi = fmix(b + Math.imul(to - from, 0x27d4eb2f));
}

/** Hash a whole string (for seeds and meta tokens). */
export function hashString(s: string, seedLo = 0x811c9dc5, seedHi = 0x1b873593): void {
  hashRange(s, 0, s.length, seedLo, seedHi, false);
}

/** Seed lanes of a named field: [lo, hi]. Computed once per field name. */
export function seedOf(name: string): readonly [number, number] {
  hashString(name);
  return [lastLo, lastHi];
}

/** Hash of the pair (word 1, word 2) at distance d; result in lastLo/lastHi. */
export function hashPair(lo1: number, hi1: number, lo2: number, hi2: number, d: number): void {
  lastLo = fmix(Math.imul(lo1, 0x9e3779b1) ^ lo2 ^ Math.imul(d, 0x7feb352d));
  lastHi = fmix(Math.imul(hi1 ^ 0x5851f42d, 0x85ebca6b) ^ Math.imul(hi2, 0xc2b2ae35) ^ (d << 24));
}
