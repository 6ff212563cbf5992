import { describe, expect, it } from "vitest";
import { compileDatabase } from "../../host/engine/compile.js";
import { createDbMemory, EngineInstance, engineModule } from "../../host/engine/wasm-engine.js";
import { HashList } from "../../host/sigs/hash-list.js";
import type { BodyAlt, SignatureSet } from "../../host/sigs/types.js";

function lit(s: string): BodyAlt {
  const b = Buffer.from(s);
  return { parts: [{ segs: [{ bytes: b, masks: new Uint8Array(b.length).fill(0xff), checks: [] }], gapMin: [], gapMax: [] }], partGapMin: [0] };
}
function set(alts: BodyAlt[][]): SignatureSet {
  return {
    ndb: alts.map((a, i) => ({ name: `S${i}`, target: 0, body: { alts: a, offset: { kind: "any" } }, src: { file: "x", line: i } })),
    ldb: [], hashes: new HashList(), allow: new HashList(), ignored: new Set(), errors: [], files: [],
  };
}

describe("wasm engine smoke", () => {
  it("finds literals of every gram class", async () => {
    const s = set([[lit("this is a long literal signature")], [lit("medium-sig")], [lit("abcde")], [lit("zq")]]);
    const { blob } = compileDatabase(s);
    const mem = createDbMemory(blob.length, (v) => v.set(blob));
    const eng = new EngineInstance(await engineModule(), mem);
    const data = Buffer.from("xxxx this is a long literal signature yyy medium-sig .. abcde ..");
    const r = eng.scan(data, 0);
    expect([...r.sids].sort()).toEqual([0, 1, 2]);
    const r2 = eng.scan(Buffer.from("nothing here but zq"), 0);
    expect([...r2.sids]).toEqual([3]);
    expect(eng.countOf(0)).toBe(0);
  });
  it("chains parts split at * in either discovery order", async () => {
    const two: BodyAlt = { parts: [lit("ab").parts[0], lit("long-second-part-here").parts[0]], partGapMin: [0, 0] };
    const { blob } = compileDatabase(set([[two]]));
    const mem = createDbMemory(blob.length, (v) => v.set(blob));
    const eng = new EngineInstance(await engineModule(), mem);
    expect([...eng.scan(Buffer.from("..ab....long-second-part-here"), 0).sids]).toEqual([0]);
    expect([...eng.scan(Buffer.from("long-second-part-here..ab"), 0).sids]).toEqual([]);
  });
});
