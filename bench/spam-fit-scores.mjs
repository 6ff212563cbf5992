#!/usr/bin/env node
// Learns rule scores and Bayes band scores from the TRAIN half only (not a test). Uses the
// cross-validated Bayes probabilities and rule hits of bench/spam-tune-joint.mjs, and fits the
// engine's own model: points = sum of the hit rules' scores + the score of the Bayes band,
// P(spam) = sigmoid((points - required_score) / POINTS_PER_NAT), by weighted logistic regression
// (projected gradient descent; deterministic, so the result is reproducible). Guards against
// overfitting 948 spam with ~80 rules:
//  - every score is pulled towards its hand-set value in the files (L2 prior, PRIOR_WEIGHT), so a
//    rule moves only as far as its hits justify, and rules with no hits keep their score;
//  - adjacent Bayes bands are pulled towards each other (SMOOTH_WEIGHT) and the result is made
//    monotone (pool adjacent violators), so the band table rises with the probability;
//  - a spam sign keeps a score in [MIN_SCORE, cap], where cap is what the rule's own hit rates
//    justify: POINTS_PER_NAT * ln(spam rate / ham rate) with half a hit added to each class
//    (a rule seen in 2 spam and no ham cannot earn more than a rule seen in 200); a ham sign
//    stays in [-cap, -MIN_SCORE] the same way;
//  - ham mails weigh HAM_WEIGHT times a spam mail: a false positive costs more than a miss.
// Prints the nested cross-validation result (fit on 9 folds, judge the 10th, for each fold),
// then the scores fitted on the whole train half. --write puts the rule scores into
// host/spam/rules/default.rules (the band scores are printed for host/spam/bayes.ts).
//   node bench/spam-fit-scores.mjs [folds=10] [--write]
// Env overrides for exploring: HAM_WEIGHT, PRIOR_WEIGHT, SMOOTH_WEIGHT, POINTS_PER_NAT.
// Result (2026-11-26): nested 10-fold FP 4 / FN 39 with the defaults, FP 7 / FN 40 with a
// weaker prior (PRIOR_WEIGHT 0.0005), FP 7 / FN 51 with 0.0001 and HAM_WEIGHT 8, against the
// hand-set scores' FP 3 / FN 39: the fit does not beat them, so nothing was written; the fitted
// band scores land within 0.3 of the shipped table, a check that the table is not far off.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { collectJoint, verdicts, oneMinusRoca } from "./spam-tune-joint.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { BAYES_BANDS, bandOf } = await import(pathToFileURL(path.join(root, "dist/host/spam/bayes.js")).href);

const num = (k, d) => (process.env[k] !== undefined ? Number(process.env[k]) : d);
/** one nat of log-odds is this many points (sets the spread of the probable zone) */
const POINTS_PER_NAT = num("POINTS_PER_NAT", 1.0);
const HAM_WEIGHT = num("HAM_WEIGHT", 4);
/** per mail-weight-sum unit: strength of the pull towards the hand-set scores */
const PRIOR_WEIGHT = num("PRIOR_WEIGHT", 0.002);
const SMOOTH_WEIGHT = num("SMOOTH_WEIGHT", 0.002);
const MIN_SCORE = 0.1;
/** rules not fitted: GTUBE is a test string, not evidence */
const FIXED = new Set(["GTUBE"]);
const ITERATIONS = 4000;
const STEP = 0.5;

const args = process.argv.slice(2);
const folds = Number(args.find((a) => !a.startsWith("--")) ?? 10);
const write = args.includes("--write");

const { rules, mails } = collectJoint(folds);
const required = rules.required;
const rulesFile = path.join(root, "host/spam/rules/default.rules");
const fileScores = new Map();
for (const line of fs.readFileSync(rulesFile, "utf8").split("\n")) {
  const m = /^score\s+([A-Z0-9_]+)\s+(-?[\d.]+)\s*$/.exec(line);
  if (m) fileScores.set(m[1], Number(m[2]));
}
const names = [...fileScores.keys()].filter((n) => !n.startsWith("__") && !FIXED.has(n));
const index = new Map(names.map((n, i) => [n, i]));
const R = names.length;
const B = BAYES_BANDS.length;
const bandIndex = (p) => BAYES_BANDS.indexOf(bandOf(p));

// design: per mail the hit rule indexes, its band (-1: no Bayes vote), label, weight
const rows = mails.map((m) => ({
  hits: m.hits.filter((h) => index.has(h)).map((h) => index.get(h)),
  fixed: m.hits.filter((h) => FIXED.has(h)).reduce((s, h) => s + fileScores.get(h), 0),
  band: m.bayesVotes ? bandIndex(m.prob) : -1,
  y: m.cls === "spam" ? 1 : 0,
  w: m.cls === "spam" ? 1 : HAM_WEIGHT,
  m,
}));

/** Bounds per rule from its hit rates in `train` rows. */
function bounds(train) {
  const hs = new Float64Array(R), hh = new Float64Array(R);
  let ns = 0, nh = 0;
  for (const r of train) {
    r.y ? ns++ : nh++;
    for (const i of r.hits) r.y ? hs[i]++ : hh[i]++;
  }
  return names.map((n, i) => {
    const llr = Math.log(((hs[i] + 0.5) / (ns + 1)) / ((hh[i] + 0.5) / (nh + 1)));
    const capPos = Math.max(MIN_SCORE, POINTS_PER_NAT * llr);
    const capNeg = Math.max(MIN_SCORE, -POINTS_PER_NAT * llr);
    return fileScores.get(n) >= 0 ? [MIN_SCORE, capPos] : [-capNeg, -MIN_SCORE];
  });
}

/** Pool adjacent violators: the non-decreasing sequence nearest to v (weights cnt). */
function monotone(v, cnt) {
  const blocks = v.map((x, i) => ({ sum: x * Math.max(cnt[i], 1e-3), w: Math.max(cnt[i], 1e-3), n: 1 }));
  const out = [];
  for (const b of blocks) {
    out.push(b);
    while (out.length > 1 && out[out.length - 2].sum / out[out.length - 2].w > out[out.length - 1].sum / out[out.length - 1].w) {
      const top = out.pop();
      const prev = out[out.length - 1];
      prev.sum += top.sum; prev.w += top.w; prev.n += top.n;
    }
  }
  return out.flatMap((b) => Array(b.n).fill(b.sum / b.w));
}

/** Fit rule scores s[R] and band scores v[B] on `train` rows. */
function fit(train) {
  const s = Float64Array.from(names, (n) => fileScores.get(n));
  const v = Float64Array.from(BAYES_BANDS, (b) => b.score);
  const s0 = Float64Array.from(s), v0 = Float64Array.from(v);
  const lim = bounds(train);
  const W = train.reduce((a, r) => a + r.w, 0);
  const bandCount = new Float64Array(B);
  for (const r of train) if (r.band >= 0) bandCount[r.band]++;
  const gs = new Float64Array(R), gv = new Float64Array(B);
  for (let it = 0; it < ITERATIONS; it++) {
    gs.fill(0); gv.fill(0);
    for (const r of train) {
      let pts = r.fixed + (r.band >= 0 ? v[r.band] : 0);
      for (const i of r.hits) pts += s[i];
      const z = (pts - required) / POINTS_PER_NAT;
      const p = 1 / (1 + Math.exp(-z));
      const g = (r.w * (p - r.y)) / POINTS_PER_NAT / W;
      for (const i of r.hits) gs[i] += g;
      if (r.band >= 0) gv[r.band] += g;
    }
    for (let i = 0; i < R; i++) gs[i] += 2 * PRIOR_WEIGHT * (s[i] - s0[i]);
    for (let j = 0; j < B; j++) {
      gv[j] += 2 * PRIOR_WEIGHT * (v[j] - v0[j]);
      if (j > 0) gv[j] += 2 * SMOOTH_WEIGHT * (v[j] - v[j - 1]);
      if (j < B - 1) gv[j] += 2 * SMOOTH_WEIGHT * (v[j] - v[j + 1]);
    }
    for (let i = 0; i < R; i++) s[i] = Math.min(lim[i][1], Math.max(lim[i][0], s[i] - STEP * 100 * gs[i]));
    for (let j = 0; j < B; j++) v[j] -= STEP * 100 * gv[j];
  }
  const vm = monotone([...v], [...bandCount]);
  const round = (x) => Math.round(x * 10) / 10;
  return { s: [...s].map(round), v: vm.map(round) };
}

function points(r, f) {
  let pts = r.fixed + (r.band >= 0 ? f.v[r.band] : 0);
  for (const i of r.hits) pts += f.s[i];
  return pts;
}

// nested cross-validation: the scores of fold k come from a fit on the other folds
const scored = [];
for (let k = 0; k < folds; k++) {
  const f = fit(rows.filter((r) => r.m.fold !== k));
  for (const r of rows) if (r.m.fold === k) scored.push({ cls: r.m.cls, total: points(r, f), fold: k, m: r.m });
}
const v = verdicts(scored, required, rules.probable);
const roca = oneMinusRoca(scored.filter((x) => x.cls === "ham").map((x) => x.total), scored.filter((x) => x.cls === "spam").map((x) => x.total));
console.log(`HAM_WEIGHT ${HAM_WEIGHT} PRIOR_WEIGHT ${PRIOR_WEIGHT} SMOOTH_WEIGHT ${SMOOTH_WEIGHT} POINTS_PER_NAT ${POINTS_PER_NAT}`);
console.log(`nested ${folds}-fold CV of fitted scores at ${required}: FP ${v.fpPct.toFixed(2)}% (${v.fp})  FN ${v.fnPct.toFixed(2)}% (${v.fn})  probable: ham ${v.hamProbable}, spam ${v.spamProbable}  (1-ROCA)% ${roca.toFixed(3)}`);
const per = [];
for (let k = 0; k < folds; k++) {
  const f = verdicts(scored.filter((x) => x.fold === k), required, rules.probable);
  per.push(`${f.fp}/${f.fn}`);
}
console.log(`per fold FP/FN counts: ${per.join(" ")}`);
if (process.env.LIST) for (const x of scored) {
  if (x.cls === "ham" ? x.total >= rules.probable : x.total < required) console.log(`  ${x.cls} ${x.total.toFixed(1)} p=${x.m.prob.toFixed(4)} ${x.m.group}/${x.m.file} ${x.m.hits.join(",")}`);
}

// final fit on the whole train half
const f = fit(rows);
console.log("Bayes bands (name min: file -> fitted):");
BAYES_BANDS.forEach((b, j) => console.log(`  ${b.name} ${b.min}: ${b.score} -> ${f.v[j]}`));
console.log("rule scores changed (file -> fitted):");
names.forEach((n, i) => { if (f.s[i] !== fileScores.get(n)) console.log(`  ${n} ${fileScores.get(n)} -> ${f.s[i]}`); });
if (write) {
  const fitted = new Map(names.map((n, i) => [n, f.s[i]]));
  const text = fs.readFileSync(rulesFile, "utf8").replace(/^score\s+([A-Z0-9_]+)\s+(-?[\d.]+)\s*$/gm, (line, n) => (fitted.has(n) ? `score ${n} ${fitted.get(n)}` : line));
  fs.writeFileSync(rulesFile, text);
  console.log(`wrote ${rulesFile}`);
}
