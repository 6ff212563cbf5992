/**
 * Differential test (issue 2, "what it must show" 2, first half): seeded random signature
 * sets (literals, wildcards, nibbles, gaps, alternatives, negations, anchors, offsets,
 * logical signatures) and data with planted and near-miss matches; the WASM engine and the
 * plain TypeScript reference matcher (host/engine/reference.ts, itself checked against
 * clamscan) must report the same signatures for every file and every target type.
 */
import { describe, expect, it } from "vitest";
import { compileDatabase } from "../../host/engine/compile.js";
import { DbView } from "../../host/engine/dbview.js";
import { referenceMatch } from "../../host/engine/reference.js";
import { createDbMemory, EngineInstance, engineModule } from "../../host/engine/wasm-engine.js";
import { matchSignatures, resolveSignatures } from "../../host/scan/scan-object.js";
import { loadBuffer, loadSignaturesSync } from "../../host/sigs/load.js";
import { genSignatureSet } from "../helpers/random-sigs.js";

/** Seeds per run: each is a fresh set of ~60 signatures and 6 files; enough to cover every
 *  construct many times while keeping the reference (which tries every offset) fast. */
const SEEDS = 40;

async function engineFor(ndbText: string, ldbText: string) {
  const set = loadSignaturesSync([], { builtin: false });
  loadBuffer(set, "rand.ndb", Buffer.from(ndbText));
  loadBuffer(set, "rand.ldb", Buffer.from(ldbText));
  const { blob, meta } = compileDatabase(set);
  const memory = createDbMemory(blob.length, (v) => v.set(blob));
  return { set, meta, engine: new EngineInstance(await engineModule(), memory), db: new DbView(memory) };
}

describe("WASM engine vs reference matcher", () => {
  // large sets go through the hashed gram tables, small ones through Teddy
  it.each([
    { label: "gram tables", ndb: 40, ldb: 20, prefilter: (g: number) => g !== 3 },
    { label: "Teddy", ndb: 6, ldb: 1, prefilter: (g: number) => g === 3 },
  ])(`agrees on ${SEEDS} random signature sets ($label)`, async ({ ndb, ldb, prefilter }) => {
    let compared = 0;
    let positives = 0;
    let viaPrefilter = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const g = genSignatureSet(seed * 7919 + ndb, { ndb, ldb, files: 6 });
      const { set, meta, engine, db } = await engineFor(g.ndbText, g.ldbText);
      if (meta.bodyTableStats.every((t) => prefilter(t.G))) viaPrefilter++;
      expect(set.errors, `seed ${seed}: generated lines must load`).toEqual([]);
      for (const f of g.files) {
        for (const target of [0, 1, 7]) {
          const ref = referenceMatch(set, f.data, { target });
          const got = matchSignatures(engine, db, f.data, target);
          const label = `seed ${seed} file ${f.name} target ${target}`;
          expect(got.ndb.map((i) => set.ndb[i].name).sort(), label).toEqual(ref.ndb.map((i) => set.ndb[i].name).sort());
          expect(got.ldb.map((i) => set.ldb[i].name).sort(), label).toEqual(ref.ldb.map((i) => set.ldb[i].name).sort());
          expect(got.flags, label).toBe(0);
          compared++;
          positives += ref.ndb.length + ref.ldb.length;
        }
      }
    }
    // the comparison is only meaningful if the generator planted matches that were found
    expect(positives).toBeGreaterThan(compared / 4);
    expect(viaPrefilter).toBeGreaterThan(SEEDS / 2); // most sets took the prefilter under test
  });

  it("a chunked scan (tiny chunks, the database's overlap) equals the whole-object scan", async () => {
    let chunked = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const g = genSignatureSet(seed * 7919, { ndb: 40, ldb: 20, files: 6 });
      const { meta, engine, db } = await engineFor(g.ndbText, g.ldbText);
      const overlap = meta.chunkOverlap;
      if (!overlap) continue;
      for (const f of g.files) {
        for (const chunk of [61, 512]) {
          const whole = matchSignatures(engine, db, f.data, 0);
          const seen: number[] = [];
          const raw = engine.scanChunked(f.data.length, 0, chunk, overlap, (view, at) => view.set(f.data.subarray(at, at + view.length)), (b) => seen.push(b.length));
          const parts = resolveSignatures(engine, db, raw, f.data.length, 0);
          const sorted = (m: typeof whole) => ({ ndb: [...m.ndb].sort((a, b) => a - b), ldb: m.ldb, flags: m.flags });
          expect(sorted(parts), `seed ${seed} ${f.name} chunk ${chunk}`).toEqual(sorted(whole)); // discovery order may differ
          expect(seen.reduce((a, b) => a + b, 0)).toBe(f.data.length); // each byte handed on once
          chunked++;
        }
      }
    }
    expect(chunked).toBeGreaterThan(SEEDS * 6); // most sets allow chunking
  });

  it("reuses one instance across scans without state leaking between them", async () => {
    const g = genSignatureSet(4242, { ndb: 40, ldb: 20, files: 6 });
    const { set, engine, db } = await engineFor(g.ndbText, g.ldbText);
    const first = g.files.map((f) => matchSignatures(engine, db, f.data, 0));
    const again = [...g.files].reverse().map((f) => matchSignatures(engine, db, f.data, 0)).reverse();
    expect(again).toEqual(first);
    const fresh = await engineFor(g.ndbText, g.ldbText);
    expect(g.files.map((f) => matchSignatures(fresh.engine, fresh.db, f.data, 0))).toEqual(first);
    void set;
  });
});
