/**
 * Deterministic hostile variants of a real file (truncations and byte flips) and an
 * assertion that an unpacker survives them: it may yield what it can, or throw
 * UnpackError / LimitExceeded, but nothing else (no TypeError, RangeError, hang).
 */
import { expect } from "vitest";
import { LimitExceeded, type Limits } from "../../host/limits.js";
import { UnpackError, type Unpacker } from "../../host/unpack/types.js";
import { collect, makeCtx } from "./unpack-ctx.js";
import { mulberry32 } from "./random-data.js";

export interface Mutant {
  label: string;
  data: Uint8Array;
}

/** A tiny seeded PRNG so every run tests the same variants. */
const prng = mulberry32;

/**
 * Cuts at fixed and proportional offsets, plus `flips` copies with 1-4 bytes XORed.
 * Half of the flips land in `focus` (default: the first 1 KiB, where headers live), the
 * rest anywhere in the file.
 */
export function mutants(data: Uint8Array, opts: { seed?: number; flips?: number; focus?: [number, number] } = {}): Mutant[] {
  const rnd = prng(opts.seed ?? 1);
  const flips = opts.flips ?? 60;
  const [from, to] = opts.focus ?? [0, 1024];
  const focusStart = Math.min(from, data.length);
  const focusLen = Math.max(1, Math.min(to, data.length) - focusStart);
  const out: Mutant[] = [];
  const cuts = new Set([0, 1, 2, 4, 8, 13, 16, 64, 100, 512, 600, 1024, 4096]);
  for (const f of [0.1, 0.25, 0.33, 0.5, 0.66, 0.75, 0.9, 0.99]) cuts.add(Math.floor(data.length * f));
  cuts.add(data.length - 1);
  for (const c of [...cuts].sort((x, y) => x - y)) {
    if (c >= 0 && c < data.length) out.push({ label: `cut@${c}`, data: Uint8Array.prototype.slice.call(data, 0, c) });
  }
  for (let n = 0; n < flips; n++) {
    // a real copy: Buffer#slice is a view, and flips would pile up on the original
    const copy = Uint8Array.prototype.slice.call(data);
    const focused = n % 2 === 0;
    const count = 1 + Math.floor(rnd() * 4);
    const at: number[] = [];
    for (let k = 0; k < count; k++) {
      const pos = focused ? Math.min(data.length - 1, focusStart + Math.floor(rnd() * focusLen)) : Math.floor(rnd() * data.length);
      copy[pos] ^= 1 + Math.floor(rnd() * 255);
      at.push(pos);
    }
    out.push({ label: `flip@${at.join(",")}`, data: copy });
  }
  return out;
}

/** Runs the unpacker on each mutant; only UnpackError and LimitExceeded may escape. */
export async function expectSurvivesMutants(unpack: Unpacker, mutantList: Mutant[], limits: Partial<Limits> = {}): Promise<void> {
  for (const m of mutantList) {
    try {
      const children = await collect(unpack, m.data, makeCtx(limits));
      for (const c of children) {
        expect(typeof c.name).toBe("string");
        expect(c.data).toBeInstanceOf(Uint8Array);
      }
    } catch (e) {
      if (e instanceof UnpackError || e instanceof LimitExceeded) continue;
      throw new Error(`${m.label}: unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    }
  }
}
