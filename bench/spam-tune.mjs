// Tuning harness for the spam filter's core (not a test): parser, tokenizer and Bayes, with
// k-fold cross-validation on the TRAIN half of the corpus ONLY (even indices of each
// group's sorted file list; the odd half is the test set and is never read here).
// Prints per configuration: FP % of ham and FN % of spam at several probability cutoffs
// (0.99 is the lower edge of BAYES_99, the band that alone reaches required_score 5.0),
// (1-ROCA) % from the probability, and msg/s of parse + features + score on one core.
// The TypeScript sources are bundled with esbuild (a vitest dependency) into bench/out/.
// Usage: node bench/spam-tune.mjs [folds=5] [config ...]   (no config: every named one below)
//   a config is a name from CONFIGS or ad hoc options, e.g. "osbWindow=2,strength=0.05";
//   HIST=1 prints how many ham / spam fall in each probability bin, LIST=1 names the train
//   messages on the wrong side (ham >= 0.6, spam < 0.2).
// Result with the defaults, 10 folds (2026-11-26): (1-ROCA)% 0.044; FP/FN at 0.5 0.29/3.59 %,
// at 0.6 0.05/10.55 %, at 0.99 0.05/21.41 %; ~5,500 msg/s of CPU time on one core.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { oneMinusRocArea } from "./spam-metrics.mjs";
import { readTrainHalf } from "./spam-corpus.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = `${root}bench/out/spam-core.bundle.mjs`;
await build({
  stdin: {
    contents: `export * from "./host/spam/message.ts"; export * from "./host/spam/tokenize.ts"; export * from "./host/spam/bayes.ts";`,
    resolveDir: root, sourcefile: "spam-core-entry.ts", loader: "ts",
  },
  bundle: true, platform: "node", format: "esm", outfile, logLevel: "warning",
});
const core = await import(outfile);
const { parseMail, features, bayesScore, MemoryCounts, DEFAULT_TOKENIZER, DEFAULT_BAYES } = core;

const folds = Number(process.argv[2] ?? 5);
const only = process.argv.slice(3);
/** The train half: even indices of each group's sorted .txt names (spam-corpus.mjs). */
const train = readTrainHalf().map(({ group, file, cls, raw }) => ({ raw, cls, group, name: file, fold: 0 }));
// folds: stratified round robin per class so each fold has the same mix
const perClass = { ham: 0, spam: 0 };
for (const m of train) m.fold = perClass[m.cls]++ % folds;
console.log(`train half: ${train.filter((m) => m.cls === "ham").length} ham, ${train.filter((m) => m.cls === "spam").length} spam, ${folds} folds`);

let t0 = process.hrtime.bigint();
const parsed = train.map((m) => parseMail(m.raw));
const parseMs = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(`parse: ${(parseMs / train.length * 1000).toFixed(0)} us/msg, truncated: ${parsed.filter((p) => p.truncated).length}`);

const CONFIGS = {
  default: { tok: {}, bayes: {} },
  uni: { tok: { osbWindow: 0 }, bayes: {} },
  bigram: { tok: { osbWindow: 2 }, bayes: {} },
  osb4: { tok: { osbWindow: 4 }, bayes: {} },
  osb5: { tok: { osbWindow: 5 }, bayes: {} },
  nohdr: { tok: { headerWords: false, headerNames: false }, bayes: {} },
  nonames: { tok: { headerNames: false }, bayes: {} },
  nofold: { tok: { fold: false }, bayes: {} },
  min3: { tok: { minWord: 3 }, bayes: {} },
  max16: { tok: { maxWord: 16 }, bayes: {} },
  max40: { tok: { maxWord: 40 }, bayes: {} },
  nometa: { tok: { meta: false, uriHosts: false }, bayes: {} },
  s01: { tok: {}, bayes: { strength: 0.1 } },
  s05: { tok: {}, bayes: { strength: 0.5 } },
  s1: { tok: {}, bayes: { strength: 1 } },
  x045: { tok: {}, bayes: { prior: 0.45 } },
  x055: { tok: {}, bayes: { prior: 0.55 } },
  ms01: { tok: {}, bayes: { minStrength: 0.1 } },
  ms02: { tok: {}, bayes: { minStrength: 0.2 } },
  ms04: { tok: {}, bayes: { minStrength: 0.4 } },
  n50: { tok: {}, bayes: { maxTokens: 50 } },
  n300: { tok: {}, bayes: { maxTokens: 300 } },
  n1000: { tok: {}, bayes: { maxTokens: 1000 } },
};

const CUTOFFS = [0.45, 0.5, 0.51, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999];

function evaluate(name, cfg) {
  const tok = { ...DEFAULT_TOKENIZER, ...cfg.tok };
  const bopt = { ...DEFAULT_BAYES, ...cfg.bayes };
  const feats = parsed.map((p) => features(p, tok));
  const probs = new Float64Array(train.length);
  for (let k = 0; k < folds; k++) {
    const counts = new MemoryCounts(1 << 20);
    train.forEach((m, i) => { if (m.fold !== k) counts.add(feats[i], m.cls); });
    train.forEach((m, i) => { if (m.fold === k) probs[i] = bayesScore(feats[i], counts, bopt).probability; });
  }
  const hamP = [], spamP = [];
  train.forEach((m, i) => (m.cls === "ham" ? hamP : spamP).push(probs[i]));
  const cut = CUTOFFS.map((c) => {
    const fp = hamP.filter((p) => p >= c).length;
    const fn = spamP.filter((p) => p < c).length;
    return `${c}: FP ${(100 * fp / hamP.length).toFixed(2)}% (${fp}) FN ${(100 * fn / spamP.length).toFixed(2)}% (${fn})`;
  });
  // speed: parse + features + score on one core, model = all of the train half
  const counts = new MemoryCounts(1 << 20);
  train.forEach((m, i) => counts.add(feats[i], m.cls));
  const t = process.hrtime.bigint();
  for (let r = 0; r < 2; r++) for (const m of train) bayesScore(features(parseMail(m.raw), tok), counts, bopt);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const avgFeat = feats.reduce((a, f) => a + f.length, 0) / feats.length;
  console.log(`${name}\n          (1-ROCA)% ${oneMinusRoca(hamP, spamP).toFixed(3)}  ${(2 * train.length / s).toFixed(0)} msg/s  ${avgFeat.toFixed(0)} feat/msg  db ${counts.size}`);
  console.log(`         ${cut.join(" | ")}`);
  if (process.env.LIST) {
    train.forEach((m, i) => {
      if ((m.cls === "ham" && probs[i] >= 0.6) || (m.cls === "spam" && probs[i] < 0.2)) console.log(`         ${m.cls} ${probs[i].toFixed(4)} ${m.group}/${m.name}`);
    });
  }
  if (process.env.HIST) {
    const edges = [0, 0.01, 0.05, 0.2, 0.4, 0.45, 0.49, 0.499, 0.5, 0.501, 0.51, 0.55, 0.6, 0.8, 0.95, 0.99, 0.999, 1.01];
    const row = (ps) => edges.slice(0, -1).map((e, i) => ps.filter((p) => p >= e && p < edges[i + 1]).length);
    console.log(`         bins ${edges.slice(0, -1).join(" ")}\n         ham  ${row(hamP).join(" ")}\n         spam ${row(spamP).join(" ")}`);
  }
}

/** 100 * P(a random ham scores above a random spam), ties count half (bench/spam-metrics.mjs). */
function oneMinusRoca(hamP, spamP) {
  return 100 * oneMinusRocArea([...hamP.map((score) => ({ score, spam: false })), ...spamP.map((score) => ({ score, spam: true }))]);
}

/** An ad-hoc configuration on the command line: "osbWindow=0,strength=0.02" (keys of
 *  either options object). */
function adHoc(spec) {
  const cfg = { tok: {}, bayes: {} };
  for (const kv of spec.split(",")) {
    const [k, v] = kv.split("=");
    const val = v === "true" ? true : v === "false" ? false : Number(v);
    if (k in DEFAULT_TOKENIZER) cfg.tok[k] = val;
    else if (k in DEFAULT_BAYES || k === "logTail") cfg.bayes[k] = val;
    else throw new Error(`unknown option ${k}`);
  }
  return cfg;
}

if (only.length === 0) for (const [name, cfg] of Object.entries(CONFIGS)) evaluate(name, cfg);
for (const name of only) evaluate(name, CONFIGS[name] ?? adHoc(name));
