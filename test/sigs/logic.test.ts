/**
 * .ldb logical expressions: structure and evaluation as ClamAV's cli_ac_chklsig does it.
 * The structural cases marked "measured" were checked with clamscan 1.4.6 (see logic.ts).
 */
import { describe, expect, it } from "vitest";
import { evalLogic, parseLogic } from "../../host/sigs/logic.js";
import { SigSyntaxError } from "../../host/sigs/hex.js";

const ev = (expr: string, counts: number[]) => evalLogic(parseLogic(expr, counts.length), counts);

describe("parseLogic", () => {
  it("a single subsig and parentheses around it", () => {
    expect(parseLogic("0", 1)).toEqual({ k: "sub", i: 0 });
    expect(parseLogic("((0))", 1)).toEqual({ k: "sub", i: 0 });
  });

  it("splits at the first top-level operator: 0&1|2 is 0&(1|2) (measured)", () => {
    expect(parseLogic("0&1|2", 3)).toEqual({ k: "and", a: { k: "sub", i: 0 }, b: { k: "or", a: { k: "sub", i: 1 }, b: { k: "sub", i: 2 } } });
    expect(ev("0&1|2", [0, 0, 1])).toBe(false);
  });

  it("inside parentheses it splits at the last operator: (0&1|2) is (0&1)|2 (measured)", () => {
    expect(parseLogic("(0&1|2)", 3)).toEqual({ k: "or", a: { k: "and", a: { k: "sub", i: 0 }, b: { k: "sub", i: 1 } }, b: { k: "sub", i: 2 } });
    expect(ev("(0&1|2)", [0, 0, 1])).toBe(true);
  });

  it("modifiers on blocks and on single subsigs", () => {
    expect(parseLogic("(0|1)>2,1", 2)).toEqual({ k: "cmp", e: { k: "or", a: { k: "sub", i: 0 }, b: { k: "sub", i: 1 } }, op: ">", x: 2, y: 1 });
    // ClamAV ignores ",y" on a single subsig (measured: 0>1,2 loads and acts as 0>1)
    expect(parseLogic("0>1,2", 1)).toEqual({ k: "cmp", e: { k: "sub", i: 0 }, op: ">", x: 1 });
  });

  it.each([
    ["(0)>1", 1, /needs an operator/], // measured: ClamAV "Missing opening parenthesis"
    ["0&", 1, /missing operand/],
    ["&0", 1, /missing operand/],
    ["(0|1", 2, /missing '\)'/],
    ["0|1)", 2, /missing '\('/],
    ["0a", 1, /characters other than/],
    ["0|1>", 2, /bad modifier/],
    ["(0|1)>1x", 2, /characters other than/],
    ["0|2", 2, /uses subsignatures 0..2 but the line has 2/],
    ["0|1", 3, /uses subsignatures 0..1 but the line has 3/],
    ["64", 65, /more than 64/],
    ["(0|1)2", 2, /bad modifier|expected =/],
  ])("%s (%i subsigs) is an error", (expr, n, re) => {
    let err: unknown;
    try {
      parseLogic(expr, n);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SigSyntaxError);
    expect((err as Error).message).toMatch(re);
  });

  it("bounds nesting instead of overflowing the stack", () => {
    expect(() => parseLogic("(".repeat(5000) + "0|0" + ")".repeat(5000), 1)).toThrow(SigSyntaxError);
    expect(parseLogic(Array.from({ length: 64 }, (_, i) => i).join("&"), 64).k).toBe("and");
  });
});

describe("evalLogic", () => {
  it("a subsig is true when it matched at least once", () => {
    expect(ev("0", [0])).toBe(false);
    expect(ev("0", [3])).toBe(true);
    expect(ev("0|1", [0, 1])).toBe(true);
    expect(ev("0&1", [1, 0])).toBe(false);
  });

  it("=x, >x, <x on a subsig's count; =0 is negation", () => {
    expect(ev("0=2", [2])).toBe(true);
    expect(ev("0=2", [3])).toBe(false);
    expect(ev("0>2", [3])).toBe(true);
    expect(ev("0<2", [1])).toBe(true);
    expect(ev("0<2", [2])).toBe(false);
    expect(ev("0=0", [0])).toBe(true);
    expect(ev("0=0&1", [1, 1])).toBe(false);
  });

  it("(A|B)>x compares the summed counts of the true members", () => {
    expect(ev("(0|1)>2", [2, 1])).toBe(true);
    expect(ev("(0|1)>2", [1, 1])).toBe(false);
    expect(ev("(0|1)=0", [0, 0])).toBe(true);
    expect(ev("(0|1)=0", [0, 1])).toBe(false);
    expect(ev("(0&1)=0", [5, 0])).toBe(true); // the block is false, so its count is 0
  });

  it(",y needs at least y distinct subsigs in the block", () => {
    expect(ev("(0|1)>1,2", [3, 0])).toBe(false);
    expect(ev("(0|1)>1,2", [1, 1])).toBe(true);
    expect(ev("(0|1|2)>0,3", [1, 1, 0])).toBe(false);
  });

  it("ClamAV quirks: a true `N=0` contributes its id; a nested block contributes no ids (measured)", () => {
    expect(ev("(0=0|1)>0,2", [0, 1])).toBe(true);
    expect(ev("((0|1)|2)>0,2", [1, 1, 0])).toBe(true);
    expect(ev("((0|1)>0|2)>0,2", [1, 1, 0])).toBe(false);
    expect(ev("((0|1)>0|2)>1", [1, 1, 0])).toBe(true); // but its count does carry over
  });
});
