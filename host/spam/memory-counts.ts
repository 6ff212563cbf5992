/**
 * MemoryCounts: learned Bayes counts held in memory (TokenCounts), for tests, the tuning
 * harness and anything that wants a database-free filter. An open-addressing hash table
 * over typed arrays: feature hashes are 53-bit doubles, which a Map keys as heap numbers
 * (slow); here a lookup is an index computation and a few array reads.
 */
import type { TokenCounts } from "./types.js";

const EMPTY = -1;

export class MemoryCounts implements TokenCounts {
  nspam = 0;
  nham = 0;
  private keys: Float64Array;
  private spam: Int32Array;
  private ham: Int32Array;
  private used = 0;
  private mask: number;

  constructor(initialCapacity = 1 << 16) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.mask = cap - 1;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.spam = new Int32Array(cap);
    this.ham = new Int32Array(cap);
  }

  /** Distinct features stored (including ones whose counts went back to zero). */
  get size(): number {
    return this.used;
  }

  get(feature: number): readonly [number, number] | undefined {
    const i = this.slot(feature);
    if (this.keys[i] !== feature) return undefined;
    return [this.spam[i], this.ham[i]];
  }

  /** Learn (delta +1) or unlearn (-1) one message's features as `cls`; counts stay >= 0. */
  add(features: readonly number[], cls: "spam" | "ham", delta: 1 | -1 = 1): void {
    if (cls === "spam") this.nspam = Math.max(0, this.nspam + delta);
    else this.nham = Math.max(0, this.nham + delta);
    const arr = cls === "spam" ? "spam" : "ham";
    for (const f of features) {
      if ((this.used + 1) * 2 > this.mask + 1) this.grow();
      const i = this.slot(f);
      if (this.keys[i] !== f) {
        if (delta < 0) continue; // never learned: nothing to take back
        this.keys[i] = f;
        this.used++;
      }
      const counts = this[arr];
      counts[i] = Math.max(0, counts[i] + delta);
    }
  }

  /** The slot holding `feature`, or the empty slot where it would go (linear probing). */
  private slot(feature: number): number {
    const { keys, mask } = this;
    // low 32 bits mixed: ToUint32 of an integer below 2^53 is exact modulo 2^32
    let h = Math.imul((feature >>> 0) ^ ((feature / 4294967296) >>> 0), 0x9e3779b1);
    h ^= h >>> 15;
    let i = h & mask;
    for (;;) {
      const k = keys[i];
      if (k === feature || k === EMPTY) return i;
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const { keys, spam, ham } = this;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.spam = new Int32Array(cap);
    this.ham = new Int32Array(cap);
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === EMPTY) continue;
      const i = this.slot(keys[j]);
      this.keys[i] = keys[j];
      this.spam[i] = spam[j];
      this.ham[i] = ham[j];
    }
  }
}
