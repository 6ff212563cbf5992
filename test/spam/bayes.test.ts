import { describe, expect, it } from "vitest";
import { BAYES_BANDS, DEFAULT_BAYES, MIN_LEARNED_EACH, MemoryCounts, bandOf, bayesScore, chi2Q } from "../../host/spam/bayes.js";
import { HEADER_LANE } from "../../host/spam/feature-hash.js";

/** Feature ids for the tiny hand-made vocabularies below: header features (full weight, see
 *  the lane tests for body features). */
const header = (ids: number[]) => ids.map((i) => HEADER_LANE + i);
const SPAMMY = header([101, 102, 103, 104, 105, 106, 107, 108]);
const HAMMY = header([201, 202, 203, 204, 205, 206, 207, 208]);
const NEUTRAL = header([301, 302, 303]);
const UNKNOWN = header([901, 902, 903]);
const NEW_WORD = HEADER_LANE + 401;

/** `n` spam each holding the spammy words (and neutral ones), `n` ham the hammy ones. */
function trained(n: number): MemoryCounts {
  const c = new MemoryCounts(16);
  for (let i = 0; i < n; i++) {
    c.add([...SPAMMY.filter((_, j) => (i + j) % 3 !== 0), ...NEUTRAL], "spam");
    c.add([...HAMMY.filter((_, j) => (i + j) % 3 !== 0), ...NEUTRAL], "ham");
  }
  return c;
}

describe("bayesScore", () => {
  const counts = trained(MIN_LEARNED_EACH);

  it("scores spammy features near 1 and hammy ones near 0, with their bands", () => {
    const spam = bayesScore(SPAMMY.slice(0, 5), counts);
    expect(spam.probability).toBeGreaterThan(0.9);
    expect(spam.tokensUsed).toBe(5);
    expect(spam.reason?.name).toMatch(/^BAYES_99/);
    const ham = bayesScore([...HAMMY.slice(0, 5), ...NEUTRAL], counts);
    expect(ham.probability).toBeLessThan(0.1);
    expect(ham.tokensUsed).toBe(5); // neutral features fall under the minimum strength
    expect(ham.reason?.name).toBe("BAYES_00");
    expect(ham.reason!.score).toBeLessThan(0);
  });

  it("says 0.5 with no reason for unknown or neutral features, 0.5 with a reason for an even mix", () => {
    expect(bayesScore(UNKNOWN, counts)).toEqual({ probability: 0.5, tokensUsed: 0 });
    expect(bayesScore(NEUTRAL, counts)).toEqual({ probability: 0.5, tokensUsed: 0 });
    const mix = bayesScore([...SPAMMY.slice(0, 4), ...HAMMY.slice(0, 4)], counts);
    expect(mix.probability).toBeCloseTo(0.5, 6);
    expect(mix.tokensUsed).toBe(8);
    expect(mix.reason?.name).toMatch(/^BAYES_(45|50)$/);
  });

  it("gives no reason and 0.5 until each class has MIN_LEARNED_EACH messages", () => {
    const young = trained(MIN_LEARNED_EACH - 1);
    const r = bayesScore(SPAMMY, young);
    expect(r).toEqual({ probability: 0.5, tokensUsed: 0 });
    young.add([], "spam");
    expect(bayesScore(SPAMMY, young).reason).toBeUndefined(); // ham still one short
    young.add([], "ham");
    expect(bayesScore(SPAMMY, young).reason).toBeDefined();
  });

  it("combines at most maxTokens features, the most extreme ones", () => {
    const r = bayesScore([...SPAMMY, ...HAMMY.slice(0, 1)], counts, { strength: 0.2, prior: 0.5, minStrength: 0.1, maxTokens: 3 });
    expect(r.tokensUsed).toBe(3);
  });

  it("moves with learning and unlearning", () => {
    const c = trained(MIN_LEARNED_EACH);
    const before = bayesScore([NEW_WORD], c).probability;
    for (let i = 0; i < 20; i++) c.add([NEW_WORD], "spam");
    const after = bayesScore([NEW_WORD], c).probability;
    expect(before).toBe(0.5);
    expect(after).toBeGreaterThan(0.9);
    for (let i = 0; i < 20; i++) c.add([NEW_WORD], "spam", -1);
    expect(c.get(NEW_WORD)).toEqual([0, 0]);
    expect(bayesScore([NEW_WORD], c).probability).toBe(0.5);
  });

  it("weighs body features (below HEADER_LANE) less than header features, by bodyWeight", () => {
    const c = new MemoryCounts(16);
    const bodyWord = 501;
    const headerWord = HEADER_LANE + 501;
    for (let i = 0; i < MIN_LEARNED_EACH; i++) {
      c.add(i < 20 ? [bodyWord, headerWord] : [], "spam");
      c.add([], "ham");
    }
    const inBody = bayesScore([bodyWord], c);
    const inHeader = bayesScore([headerWord], c);
    expect(inBody.tokensUsed).toBe(1);
    expect(inHeader.probability).toBeGreaterThan(0.9);
    expect(inBody.probability).toBeGreaterThan(0.5);
    expect(inBody.probability).toBeLessThan(inHeader.probability);
    // with bodyWeight 1 and the header lane's strength settings, the lanes agree
    const even = { ...DEFAULT_BAYES, bodyWeight: 1, bodyStrength: DEFAULT_BAYES.strength, minStrength: DEFAULT_BAYES.headerMinStrength! };
    expect(bayesScore([bodyWord], c, even).probability).toBeCloseTo(inHeader.probability, 12);
  });
});

describe("chi2Q", () => {
  it("matches closed forms of the chi-square upper tail", () => {
    // v = 2: P = e^(-x/2); v = 4: e^(-x/2) (1 + x/2)
    expect(chi2Q(3, 2)).toBeCloseTo(Math.exp(-1.5), 12);
    expect(chi2Q(5, 4)).toBeCloseTo(Math.exp(-2.5) * 3.5, 12);
    expect(chi2Q(0, 10)).toBe(1);
    // the log-space branch agrees with the direct one where both work
    const direct = chi2Q(1398, 1600);
    const logSpace = chi2Q(1402, 1600);
    expect(direct).toBeGreaterThan(logSpace);
    expect(direct / logSpace).toBeLessThan(1.2);
  });
});

describe("bands", () => {
  it("cover [0, 1] in order; ham bands subtract; BAYES_99 and BAYES_999 alone reach 5.0", () => {
    expect(BAYES_BANDS[0].min).toBe(0);
    for (let i = 1; i < BAYES_BANDS.length; i++) expect(BAYES_BANDS[i].min).toBeGreaterThan(BAYES_BANDS[i - 1].min);
    for (const b of BAYES_BANDS) if (b.min + 1e-9 < 0.4) expect(b.score).toBeLessThan(0);
    expect(bandOf(0.995).name).toBe("BAYES_99");
    expect(bandOf(0.9995).name).toBe("BAYES_999");
    expect(bandOf(0.995).score).toBeGreaterThanOrEqual(5);
    expect(bandOf(1).score).toBeGreaterThanOrEqual(5);
    expect(bandOf(0).name).toBe("BAYES_00");
  });
});

describe("MemoryCounts", () => {
  it("stores 53-bit features exactly and grows", () => {
    const c = new MemoryCounts(4);
    const big = [2 ** 53 - 1, 2 ** 32, 2 ** 32 + 1, 0, 1];
    for (let i = 0; i < 1000; i++) big.push(i * 4294967296 + 7);
    c.add(big, "ham");
    c.add(big.slice(0, 2), "spam");
    expect(c.size).toBe(big.length);
    expect(c.get(2 ** 53 - 1)).toEqual([1, 1]);
    expect(c.get(2 ** 32 + 1)).toEqual([0, 1]);
    expect(c.get(999 * 4294967296 + 7)).toEqual([0, 1]);
    expect(c.get(12345)).toBeUndefined();
    expect([c.nspam, c.nham]).toEqual([1, 1]);
  });
});
