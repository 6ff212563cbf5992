/**
 * Anchor choice: for each signature part, the window of fixed bytes the prefilter probes
 * for, and which gram table (gram size G, stride S) it goes to.
 *
 * Every occurrence of a window of S+G-1 fixed bytes contains exactly one gram that starts at
 * a position divisible by S, so probing one gram every S bytes finds every occurrence. Long
 * windows go to the cheap tables (8-byte grams every 8 bytes); short ones to stride-1 tables.
 * Within a part we pick the window whose grams are rarest in clean content, by a byte-pair
 * model (engine-wasm/model/bigram.bin, built by scripts/build-bigram-model.mjs): an anchor
 * that occurs in every binary (zero runs, common prologues) makes the verifier run on every
 * probe, which is how a matcher collapses on realistic signature sets.
 */
import fs from "node:fs";
import { packageFile } from "../paths.js";
import type { Segment } from "../sigs/types.js";
import { hash32, hash64 } from "./gram-hash.js";

export interface GramClass {
  G: 2 | 4 | 8;
  S: number;
}

/** Table classes, best first; a part uses the first whose window fits in one fixed run. */
export const GRAM_CLASSES: readonly GramClass[] = [
  { G: 8, S: 8 }, // windows >= 15 bytes: 1 probe per 8 bytes
  { G: 4, S: 4 }, // windows >= 7
  { G: 4, S: 1 }, // windows 4..6
  { G: 2, S: 1 }, // windows 2..3 (ClamAV's minimum static run)
];

/** Most gram variants one nocase window may expand to (2 per letter): beyond it the
 *  pattern falls back to a shorter window with fewer letters. */
const MAX_VARIANTS_PER_GRAM = 16;

export interface Anchor {
  cls: number; // index into GRAM_CLASSES
  seg: number; // segment index within the part
  start: number; // window start within the segment
  /** for each window position, the byte choices (1, or 2 for a nocase letter) */
  choices: number[][];
}

/** Training bytes behind the models (scripts/build-bigram-model.mjs): the scale of counts. */
const TRAIN_BYTES = 43e6;
const SKETCH_BITS = 17;
/** Mean count of a sketch bucket: what an unseen gram reads through hash collisions. */
const SKETCH_FLOOR = TRAIN_BYTES / (1 << SKETCH_BITS);
/** A window whose grams are estimated to occur fewer times than this in the training
 *  corpus (~1 per MB) is rare enough: take it from the best class that has one. Sketch noise
 *  is about sqrt(SKETCH_FLOOR) ~ 18, so smaller differences mean nothing. */
const RARE_ENOUGH = 200;
/** Extra cost per class when no class has a rare window: a stride-1 table adds a probe at
 *  every byte for the whole scan, so it must buy a large drop in candidates. */
const CLASS_BIAS = [0, 64, 4096, 16384];

interface Models {
  pair: Uint8Array;
  g4: Uint8Array;
  g8: Uint8Array;
}
let models: Models | null = null;
function loadModels(): Models {
  if (!models) {
    const read = (f: string, n: number, fill: number) => {
      try {
        return new Uint8Array(fs.readFileSync(packageFile(`engine-wasm/model/${f}`)));
      } catch {
        return new Uint8Array(n).fill(fill); // no model: everything equally common
      }
    };
    models = { pair: read("bigram.bin", 65536, 128), g4: read("gram4.bin", 1 << SKETCH_BITS, 64), g8: read("gram8.bin", 1 << SKETCH_BITS, 64) };
  }
  return models;
}

/** Estimated occurrences in the training corpus of one gram value. */
function estimate(m: Models, G: number, lo: number, hi: number): number {
  if (G === 2) return TRAIN_BYTES * 2 ** (-m.pair[lo & 0xffff] / 8);
  const v = G === 4 ? m.g4[hash32(lo, SKETCH_BITS)] : m.g8[hash64(lo, hi, SKETCH_BITS)];
  return Math.max(0, 2 ** (v / 8) - 1 - SKETCH_FLOOR) + 1;
}

/** Choices for each position of a segment: null when the position is not a fixed byte. */
function positionChoices(seg: Segment): (number[] | null)[] {
  const blocked = new Uint8Array(seg.bytes.length);
  for (const c of seg.checks) {
    if (c.kind === "set" && c.at < blocked.length) blocked[c.at] = 1;
    if (c.kind === "notstr") for (let i = 0; i < (c.strs[0]?.length ?? 0) && c.at + i < blocked.length; i++) blocked[c.at + i] = 1;
  }
  const out: (number[] | null)[] = [];
  for (let i = 0; i < seg.bytes.length; i++) {
    const m = seg.masks[i];
    const b = seg.bytes[i];
    if (blocked[i]) out.push(null);
    else if (m === 0xff) out.push([b]);
    else if (m === 0xdf && b >= 0x41 && b <= 0x5a) out.push([b, b | 0x20]); // nocase letter
    else out.push(null);
  }
  return out;
}

/** Estimated count of the gram at `at` (all nocase variants), or -1 if not anchorable. */
function gramEstimate(m: Models, ch: (number[] | null)[], at: number, G: number): number {
  let variants = 1;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < G; i++) {
    const c = ch[at + i];
    if (!c) return -1;
    variants *= c.length;
    if (i < 4) lo |= c[0] << (8 * i);
    else hi |= c[0] << (8 * (i - 4));
  }
  if (variants === 1) return estimate(m, G, lo >>> 0, hi >>> 0);
  if (variants > MAX_VARIANTS_PER_GRAM) return -1;
  let sum = 0;
  for (const [vlo, vhi] of gramVariants(ch as number[][], at, G)) sum += estimate(m, G, vlo, vhi);
  return sum;
}

/** Number of distinct gram values among the S grams of the window at w. */
function distinctGrams(ch: (number[] | null)[], w: number, S: number, G: number): number {
  let distinct = 0;
  for (let k = 0; k < S; k++) {
    let dup = false;
    for (let j = 0; j < k && !dup; j++) {
      let same = true;
      for (let i = 0; i < G && same; i++) same = ch[w + k + i]![0] === ch[w + j + i]![0];
      dup = same;
    }
    if (!dup) distinct++;
  }
  return distinct;
}

/** Pick the anchor of a part: over every gram class (below `onlyBelow`) and every window
 *  of fixed bytes, the one with the fewest expected candidates per probed byte; null if no
 *  segment has two fixed bytes in a row. */
export function chooseAnchor(segs: Segment[], onlyBelow = GRAM_CLASSES.length, onlySeg = -1): Anchor | null {
  const m = loadModels();
  const choices = segs.map((seg, i) => (onlySeg < 0 || i === onlySeg ? positionChoices(seg) : []));
  let best: Anchor | null = null;
  let bestCost = Infinity;
  for (let cls = 0; cls < onlyBelow; cls++) {
    let clsBest = Infinity;
    choices.forEach((ch, s) => {
      const { G, S } = GRAM_CLASSES[cls];
      const win = S + G - 1;
      if (ch.length < win) return;
      const est: number[] = [];
      for (let i = 0; i + G <= ch.length; i++) est.push(gramEstimate(m, ch, i, G));
      for (let w = 0; w + win <= ch.length; w++) {
        let sum = 0;
        for (let k = 0; k < S; k++) {
          if (est[w + k] < 0) {
            sum = -1;
            break;
          }
          sum += est[w + k];
        }
        if (sum < 0) continue;
        // equal grams at several offsets of one window (a periodic window like a zero run)
        // each become a candidate at every probe that sees the value: charge for that
        sum *= S / distinctGrams(ch, w, S, G);
        clsBest = Math.min(clsBest, sum / S);
        const cost = sum / S + CLASS_BIAS[cls];
        if (cost < bestCost) {
          bestCost = cost;
          best = { cls, seg: s, start: w, choices: ch.slice(w, w + win) as number[][] };
        }
      }
    });
    if (clsBest <= RARE_ENOUGH) break;
  }
  return best;
}

/** A gram class that would serve fewer than this share of all patterns is not worth its
 *  own pass over every scanned byte when its patterns can go to a class already in use. */
export const MIN_CLASS_SHARE = 0.05;

/** Anchors for many parts at once: each part's best anchor, then parts in sparsely used
 *  classes moved up to a class with more patterns when they have a window there.
 *  `lastSeg`: anchor in the last segment when it can be. A logical-signature subsig counts
 *  its matches by distinct start of its last segment (ClamAV's rule): with the anchor
 *  there, each anchor occurrence that verifies is exactly one counted match. */
export function chooseAnchors(parts: { segs: Segment[]; lastSeg: boolean }[]): (Anchor | null)[] {
  const pick = (i: number, below = GRAM_CLASSES.length) => {
    const { segs, lastSeg } = parts[i];
    return (lastSeg && chooseAnchor(segs, below, segs.length - 1)) || chooseAnchor(segs, below);
  };
  const out = parts.map((_, i) => pick(i));
  const count = GRAM_CLASSES.map(() => 0);
  for (const a of out) if (a) count[a.cls]++;
  const total = out.length;
  for (let cls = GRAM_CLASSES.length - 1; cls >= 1; cls--) {
    if (count[cls] === 0 || count[cls] >= MIN_CLASS_SHARE * total) continue;
    out.forEach((a, i) => {
      if (!a || a.cls !== cls) return;
      const up = pick(i, cls);
      if (up) {
        out[i] = up;
        count[cls]--;
        count[up.cls]++;
      }
    });
  }
  return out;
}

/** All gram values (little-endian, as the probe loads them) of one window gram, with
 *  nocase variants expanded. Returned as [lo32, hi32] pairs. */
export function gramVariants(choices: number[][], at: number, G: number): [number, number][] {
  let single = true;
  for (let i = 0; i < G; i++) if (choices[at + i].length !== 1) single = false;
  if (single) {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < Math.min(4, G); i++) lo |= choices[at + i][0] << (8 * i);
    for (let i = 4; i < G; i++) hi |= choices[at + i][0] << (8 * (i - 4));
    return [[lo >>> 0, hi >>> 0]];
  }
  let acc: number[][] = [[]];
  for (let i = 0; i < G; i++) {
    const next: number[][] = [];
    for (const prefix of acc) for (const b of choices[at + i]) next.push([...prefix, b]);
    acc = next;
  }
  return acc.map((bytes) => {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < Math.min(4, G); i++) lo |= bytes[i] << (8 * i);
    for (let i = 4; i < G; i++) hi |= bytes[i] << (8 * (i - 4));
    return [lo >>> 0, hi >>> 0];
  });
}
