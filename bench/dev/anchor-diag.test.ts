import { it } from "vitest";
import fs from "node:fs";
import { chooseAnchor, gramVariants, GRAM_CLASSES } from "../../host/engine/anchor.js";
function rnd(seed: number) { let s = seed >>> 0; return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; }
it("diag", () => {
  const r = rnd(1);
  const libs = Buffer.concat(["/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/perl"].map((f) => fs.readFileSync(f)));
  const elf = Buffer.concat(["/usr/bin/bash", "/usr/bin/python3.11"].map((f) => fs.readFileSync(f))).subarray(0, 8 << 20);
  const grams = [new Map<bigint, { n: number; sig: string }>(), new Map(), new Map(), new Map()];
  for (let i = 0; i < 10000; i++) {
    const len = 16 + Math.floor(r() * 33);
    const at = Math.floor(r() * (libs.length - len));
    const b = libs.slice(at, at + len);
    const a = chooseAnchor([{ bytes: b, masks: new Uint8Array(b.length).fill(0xff), checks: [] }])!;
    const { G, S } = GRAM_CLASSES[a.cls];
    for (let k = 0; k < S; k++) for (const [lo, hi] of gramVariants(a.choices, k, G)) grams[a.cls].set((BigInt(hi) << 32n) | BigInt(lo), { n: 0, sig: b.toString("hex") });
  }
  const dv = new DataView(elf.buffer, elf.byteOffset);
  const tot = [0, 0, 0, 0];
  for (let p = 0; p + 8 <= elf.length; p++) {
    const g8 = dv.getBigUint64(p, true);
    const v = [g8, g8 & 0xffffffffn, g8 & 0xffffffffn, g8 & 0xffffn];
    for (let c = 0; c < 4; c++) { if (p % GRAM_CLASSES[c].S) continue; const e = grams[c].get(v[c]); if (e) { e.n++; tot[c]++; } }
  }
  console.log("exact gram hits per 8MB by class:", tot, grams.map((g) => g.size));
  for (let c = 0; c < 4; c++) {
    const top = [...grams[c].entries()].sort((a, b) => b[1].n - a[1].n).slice(0, 5);
    for (const [g, e] of top) console.log(c, g.toString(16).padStart(16, "0"), e.n, e.sig);
  }
});
