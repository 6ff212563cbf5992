/**
 * The reference matcher on hand-made cases. Each expectation is a ClamAV behaviour measured
 * with clamscan 1.4.6 (same signature line, same bytes; target/FileSize cases by reasoning) (the random comparison in reference-vs-clamscan.test.ts covers the
 * combinations); signatures go through the real loader so parser and matcher are tested
 * together.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSignaturesSync } from "../../host/sigs/load.js";
import { referenceMatch } from "../../host/engine/reference.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-ref-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function sigs(ext: "ndb" | "ldb", ...lines: string[]) {
  const p = path.join(tmp, `s${n++}.${ext}`);
  fs.writeFileSync(p, lines.join("\n") + "\n");
  const set = loadSignaturesSync([p], { builtin: false });
  expect(set.errors).toEqual([]);
  return set;
}
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ""), "hex");
const PAD = "00".repeat(10);

/** Does the (single) signature of `lines` match `data`? */
function hits(ext: "ndb" | "ldb", line: string, data: string): boolean {
  const set = sigs(ext, line);
  const r = referenceMatch(set, hex(data), { target: 0 });
  return (ext === "ndb" ? r.ndb : r.ldb).length === 1;
}

describe("body matching", () => {
  it("literal, wildcards, nibbles, sets", () => {
    expect(hits("ndb", "A:0:*:aabb??c?(01|02)", `${PAD}aabb11c302${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:aabb??c?(01|02)", `${PAD}aabb11d302${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:aabb!(01|02)", `${PAD}aabb02${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:aabb!(0102|0304)", `${PAD}aabb0103${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:aabb!(0102|0304)", `${PAD}aabb0304${PAD}`)).toBe(false);
  });

  it("offsets: n, n+shift, EOF-n; EOF-n beyond the start never matches", () => {
    const data = `0102 aabbccdd ${"00".repeat(6)}`; // aabbccdd at 2, size 12
    expect(hits("ndb", "A:0:2:aabbccdd", data)).toBe(true);
    expect(hits("ndb", "A:0:1:aabbccdd", data)).toBe(false);
    expect(hits("ndb", "A:0:0,2:aabbccdd", data)).toBe(true);
    expect(hits("ndb", "A:0:0,1:aabbccdd", data)).toBe(false);
    expect(hits("ndb", "A:0:EOF-10:aabbccdd", data)).toBe(true);
    expect(hits("ndb", "A:0:EOF-11,1:aabbccdd", data)).toBe(true);
    expect(hits("ndb", "A:0:EOF-9:aabbccdd", data)).toBe(false);
    expect(hits("ndb", "A:0:EOF-13,5:0102aabb", data)).toBe(false);
  });

  it("bounded gaps, unbounded parts, and {0} = * (measured)", () => {
    expect(hits("ndb", "A:0:*:aabb{2-4}ccdd", `${PAD}aabb112233ccdd${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:aabb{2-4}ccdd", `${PAD}aabb11ccdd${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:aabb{-1}ccdd", `${PAD}aabbccdd${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:aabb{3-}ccdd", `${PAD}aabb1122ccdd${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:aabb{0}ccdd", `${PAD}aabb${"11".repeat(300)}ccdd${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:ccdd*aabb", `${PAD}aabbccdd${PAD}`)).toBe(false); // parts in order
    expect(hits("ndb", "A:0:*:aabb*aabb", `${PAD}aabb${PAD}`)).toBe(false); // a part does not overlap the previous one
    expect(hits("ndb", "A:0:*:aabb*aabb", `${PAD}aabbaabb${PAD}`)).toBe(true);
  });

  it("single-byte anchors: the core sets the offset and the gap, the anchor may overlap (measured)", () => {
    expect(hits("ndb", "A:0:2:aa[1-2]bbccdd", `aa11bbccdd${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:0:aa[1-2]bbccdd", `aa11bbccdd${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:aa[2]bbccdd", `${PAD}aa11bbccdd${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:bbccdd[2-3]ee", `${PAD}bbccdd1122ee${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:1122[0-4]ee{0-1}aabbcc", `${PAD}1122ee33aabbcc${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:1122[0-4]ee{0-1}aabbcc", `${PAD}1122aabbccee${PAD}`)).toBe(true);
  });

  it("boundaries at part edges, classes inside parts", () => {
    expect(hits("ndb", "A:0:*:(B)616263", `${PAD}20616263${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:(B)616263", `${PAD}41616263${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:0:(B)616263", `616263${PAD}`)).toBe(true); // file start counts
    expect(hits("ndb", "A:0:*:616263(L)", `${PAD}6162630d0a${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:616263(L)", `${PAD}6162630d41${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:616263!(W)", `${PAD}61626341${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:616263!(W)", `${PAD}61626320${PAD}`)).toBe(false);
    expect(hits("ndb", "A:0:*:616263(L)646566", `${PAD}6162630d0a646566${PAD}`)).toBe(true);
    expect(hits("ndb", "A:0:*:616263(W)646566", `${PAD}61626341646566${PAD}`)).toBe(false);
  });

  it("targets: 0 matches every object, others only their own type", () => {
    const set = sigs("ndb", "Any:0:*:aabbccdd", "Pe:1:*:aabbccdd");
    expect(referenceMatch(set, hex(`${PAD}aabbccdd`), { target: 0 }).ndb).toEqual([0]);
    expect(referenceMatch(set, hex(`${PAD}aabbccdd`), { target: 1 }).ndb).toEqual([0, 1]);
  });
});

describe("logical signatures", () => {
  it("counts matches at distinct offsets, overlapping ones included (measured: =3)", () => {
    const set = sigs("ldb", "L;Engine:51-255,Target:0;0=3;aaaaaa");
    const r = referenceMatch(set, hex(`${PAD}${"aa".repeat(5)}${PAD}`), { target: 0 });
    expect(r.counts[0]).toEqual([3]);
    expect(r.ldb).toEqual([0]);
  });

  it("a split subsig counts each completing occurrence of its last part (measured)", () => {
    const set = sigs("ldb", "L;Engine:51-255,Target:0;0=3;aabb*ccdd");
    const count = (d: string) => referenceMatch(set, hex(d), { target: 0 }).counts[0][0];
    expect(count(`${PAD}aabb11ccdd22ccdd33ccdd${PAD}`)).toBe(3);
    expect(count(`${PAD}aabbaabbaabbccdd${PAD}`)).toBe(1);
  });

  it("nocase subsigs, logic, FileSize and target", () => {
    const set = sigs(
      "ldb",
      "Ci;Engine:51-255,Target:0;0&1=0;414243::i;ddeeff",
      "Size;Engine:51-255,Target:0,FileSize:20-30;0;aabbcc",
      "Pe;Engine:51-255,Target:1;0;aabbcc",
      "Neg;Engine:51-255,Target:0;0=0;112233",
    );
    const r = referenceMatch(set, hex(`${PAD}616263aabbcc${PAD}`), { target: 0 });
    expect(r.ldb.map((i) => set.ldb[i].name)).toEqual(["Ci.UNOFFICIAL", "Size.UNOFFICIAL", "Neg.UNOFFICIAL"]);
    expect(r.counts[2]).toEqual([]); // target 1 does not apply to a target-0 object
    const big = referenceMatch(set, hex(`${PAD}616263aabbcc${PAD}${PAD}ddeeff`), { target: 1 });
    expect(big.ldb.map((i) => set.ldb[i].name)).toEqual(["Pe.UNOFFICIAL", "Neg.UNOFFICIAL"]);
  });

  it("wide subsigs match UTF-16LE text", () => {
    const set = sigs("ldb", "W;Engine:81-255,Target:0;0;414243::wa");
    expect(referenceMatch(set, hex(`${PAD}410042004300${PAD}`), { target: 0 }).ldb).toEqual([0]);
    expect(referenceMatch(set, hex(`${PAD}414243${PAD}`), { target: 0 }).ldb).toEqual([0]);
    expect(referenceMatch(set, hex(`${PAD}410042004301`), { target: 0 }).counts[0]).toEqual([0]);
  });
});
