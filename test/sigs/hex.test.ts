/**
 * ClamAV body-signature hex → IR. Expected shapes follow libclamav's parsing rules; the
 * "measured" ones were checked with clamscan 1.4.6 (see the comments in host/sigs/hex.ts).
 */
import { describe, expect, it } from "vitest";
import { MAX_ALTERNATIVES, parseHexSig, SigSyntaxError } from "../../host/sigs/hex.js";
import type { ByteCheck, Segment } from "../../host/sigs/types.js";

const one = (hex: string, o = {}) => {
  const alts = parseHexSig(hex, o);
  expect(alts).toHaveLength(1);
  return alts[0];
};
const seg = (hex: string, o = {}): Segment => {
  const a = one(hex, o);
  expect(a.parts).toHaveLength(1);
  expect(a.parts[0].segs).toHaveLength(1);
  return a.parts[0].segs[0];
};
const setHas = (c: ByteCheck, b: number) => c.kind === "set" && (c.set[b >> 3] & (1 << (b & 7))) !== 0;
const fails = (hex: string, re: RegExp, o = {}) => {
  let err: unknown;
  try {
    parseHexSig(hex, o);
  } catch (e) {
    err = e;
  }
  expect(err, hex).toBeInstanceOf(SigSyntaxError);
  expect((err as Error).message).toMatch(re);
};

describe("parseHexSig: positions", () => {
  it("plain hex, ??, nibbles", () => {
    const s = seg("aAbb??c??d");
    expect([...s.bytes]).toEqual([0xaa, 0xbb, 0, 0xc0, 0x0d]);
    expect([...s.masks]).toEqual([0xff, 0xff, 0, 0xf0, 0x0f]);
    expect(s.checks).toEqual([]);
  });

  it("nocase letters become (upper, 0xdf); other bytes stay exact", () => {
    const s = seg("615a5b30", { nocase: true, anyOption: true });
    expect([...s.bytes]).toEqual([0x41, 0x5a, 0x5b, 0x30]);
    expect([...s.masks]).toEqual([0xdf, 0xdf, 0xff, 0xff]);
  });
});

describe("parseHexSig: gaps and parts", () => {
  it("{n} below 128 is n wildcards inside the segment", () => {
    const s = seg("aabb{3}ccdd");
    expect(s.bytes.length).toBe(7);
    expect([...s.masks]).toEqual([0xff, 0xff, 0, 0, 0, 0xff, 0xff]);
  });

  it("{n} of 128 or more, {n-m} and {-m} are bounded gaps between segments of one part", () => {
    const a = one("aabbcc{200}ddeeff{2-5}112233{-4}445566");
    expect(a.parts).toHaveLength(1);
    expect(a.parts[0].segs).toHaveLength(4);
    expect(a.parts[0].gapMin).toEqual([200, 2, 0]);
    expect(a.parts[0].gapMax).toEqual([200, 5, 4]);
  });

  it("* and {n-} start new parts", () => {
    const a = one("aabb*ccdd{7-}eeff");
    expect(a.parts).toHaveLength(3);
    expect(a.partGapMin).toEqual([0, 0, 7]);
  });

  it("a max of 0 means unbounded, as ClamAV reads it ({0}, {-0}, {3-0}; measured)", () => {
    for (const [hex, min] of [["aabb{0}ccdd", 0], ["aabb{-0}ccdd", 0], ["aabb{3-0}ccdd", 3]] as const) {
      const a = one(hex);
      expect(a.parts, hex).toHaveLength(2);
      expect(a.partGapMin[1], hex).toBe(min);
    }
  });

  it("{n} is inline only while it is the first '{' left (ClamAV's rewrite order)", () => {
    const first = one("aabb{5}ccdd{2-3}eeff");
    expect(first.parts[0].segs.map((s) => s.bytes.length)).toEqual([9, 2]);
    const later = one("aabb{2-3}ccdd{5}eeff");
    expect(later.parts[0].segs.map((s) => s.bytes.length)).toEqual([2, 2, 2]);
    expect(later.parts[0].gapMin).toEqual([2, 5]);
    expect(later.parts[0].gapMax).toEqual([3, 5]);
  });
});

describe("parseHexSig: alternatives", () => {
  it("(aa|bb) is a set check, !(aa|bb) its complement", () => {
    const s = seg("1122(aa|bb)");
    expect(s.masks[2]).toBe(0);
    expect(setHas(s.checks[0], 0xaa) && setHas(s.checks[0], 0xbb) && !setHas(s.checks[0], 0xcc)).toBe(true);
    const n = seg("1122!(aa|bb)");
    expect(!setHas(n.checks[0], 0xaa) && setHas(n.checks[0], 0xcc)).toBe(true);
  });

  it("(aabb|ccdd) expands into alternatives; !(aabb|ccdd) is a notstr check", () => {
    const alts = parseHexSig("1122(aabb|ccdd)");
    expect(alts.map((a) => Buffer.from(a.parts[0].segs[0].bytes).toString("hex"))).toEqual(["1122aabb", "1122ccdd"]);
    const n = seg("1122!(aabb|ccdd)");
    expect(n.checks).toEqual([{ kind: "notstr", at: 2, strs: [Uint8Array.from([0xaa, 0xbb]), Uint8Array.from([0xcc, 0xdd])] }]);
    expect([...n.masks]).toEqual([0xff, 0xff, 0, 0]);
  });

  it("generic alternates (mixed lengths, nesting, nibbles) expand", () => {
    const alts = parseHexSig("1122(aa|bbcc|d?(ee|ff))");
    expect(alts.map((a) => Buffer.from(a.parts[0].segs[0].masks).toString("hex"))).toEqual(["ffffff", "ffffffff", "fffff0ff", "fffff0ff"]);
  });

  it("single-byte generic alternates stay a set; nocase adds both cases", () => {
    const s = seg("1122(41|6?)", { nocase: true, anyOption: true });
    for (const b of [0x41, 0x61, 0x60, 0x6f]) expect(setHas(s.checks[0], b), b.toString(16)).toBe(true);
    expect(setHas(s.checks[0], 0x42)).toBe(false);
  });

  it(`more than ${MAX_ALTERNATIVES} alternatives is an error, not a blow-up`, () => {
    fails("1122" + "(aabb|ccdd)".repeat(9), /more than 256/);
    fails("1122(" + Array.from({ length: 300 }, (_, i) => (i % 256).toString(16).padStart(2, "0") + "00").join("|") + ")", /more than 256/);
  });

  it("negation is refused where ClamAV refuses it", () => {
    fails("1122!(aa|bbcc)", /negation/);
    fails("1122!(aa|bb)", /negation/, { anyOption: true });
    fails("1122(aa|!(bb|cc))", /negation/);
  });
});

describe("parseHexSig: boundaries and anchors", () => {
  it("(B)(L)(W) at part edges are zero-width checks; !(B) at the end is negated", () => {
    const s = seg("(B)1122(L)");
    expect(s.bytes.length).toBe(2);
    expect(s.checks).toEqual([{ kind: "B", at: 0 }, { kind: "L", at: 2 }]);
    expect(seg("1122!(W)").checks).toEqual([{ kind: "W", at: 2, neg: true }]);
  });

  it("!(B) at the start and classes inside a part consume a byte (ClamAV)", () => {
    const s = seg("!(B)1122");
    expect(s.bytes.length).toBe(3);
    expect(setHas(s.checks[0], 0x41) && !setHas(s.checks[0], 0x20)).toBe(true);
    const l = parseHexSig("1122(L)3344");
    expect(l.map((a) => a.parts[0].segs[0].bytes.length)).toEqual([5, 6]);
  });

  it("hh[n-m] / [n-m]hh become near checks and keep the core as the segment", () => {
    const s = seg("aa[1-3]bbcc[0-2]dd");
    expect(Buffer.from(s.bytes).toString("hex")).toBe("bbcc");
    expect(s.checks).toEqual([
      { kind: "near", at: 0, dir: -1, byte: 0xaa, mask: 0xff, min: 1, max: 3 },
      { kind: "near", at: 2, dir: 1, byte: 0xdd, mask: 0xff, min: 0, max: 2 },
    ]);
  });

  it("rejects bad anchors", () => {
    fails("aa[1-33]bbcc", /anchor range/);
    fails("aa[3-1]bbcc", /anchor range/);
    fails("aabb[1-2]ccdd", /single byte/);
    fails("aa[1-2]bb", /shorter than 2/);
  });
});

describe("parseHexSig: ClamAV's validity rules", () => {
  it.each([
    ["", /empty/],
    ["aabbc", /odd/],
    ["aa", /shorter than 2/],
    ["aa??bb", /run of 2 fixed/],
    ["aabb*", /shorter than 2/],
    ["*aabb", /shorter than 2/],
    ["aabb**ccdd", /shorter than 2/],
    ["aabb(cc|dd", /missing '\)'/],
    ["aabb)cc", /unbalanced/],
    ["aabb(cc*|dd)eeff", /not allowed inside/],
    ["aabb{2-3}(cc{2-3}dd|ee)ff", /not allowed inside/],
    ["aabb{3-1}ccdd", /min > max/],
    ["aabb{x}ccdd", /bad number/],
    ["aabbzz", /invalid hex/],
    ["aabb()ccdd", /empty/],
    ["1122(" + "(".repeat(16) + "aa" + ")".repeat(16) + ")", /nested deeper/],
  ])("%s → error", (hex, re) => fails(hex, re));

  it("the prefilter rule applies only to prefiltered targets (measured: ??(…) load error)", () => {
    fails("??(aabb|ccdd)eeff0011", /prefilter/, { prefilter: true });
    fails("????(aa|aabb)eeff0011", /prefilter/, { prefilter: true });
    expect(parseHexSig("??(aabb|ccdd)eeff0011")).toHaveLength(2);
    expect(parseHexSig("(aabb|ccdd)eeff0011", { prefilter: true })).toHaveLength(2);
  });

  it("never hangs or throws anything but SigSyntaxError on junk", () => {
    const alphabet = "0123456789abcdef?*{}()[]|!-BLW,";
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    let ok = 0;
    for (let n = 0; n < 3000; n++) {
      let s = "";
      for (let k = Math.floor(rnd() * 40); k > 0; k--) s += alphabet[Math.floor(rnd() * alphabet.length)];
      try {
        parseHexSig(s);
        ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(SigSyntaxError);
      }
    }
    expect(ok).toBeGreaterThan(0);
    fails("(".repeat(30_000), /missing '\)'|nested/);
    fails("aabb" + "{127}".repeat(6000), /too many|longer/);
  });
});
