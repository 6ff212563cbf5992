#!/usr/bin/env node
// Joint tuning harness for the spam verdict (not a test): k-fold cross-validation of the
// COMBINED score the engine gives (host/spam/engine.ts without network checks): the sum of the
// rule scores (host/spam/rules/default.rules) plus the Bayes band score (BAYES_BANDS in
// host/spam/bayes.ts), judged at the rules file's required_score (spam) and probable_score.
// Reads the TRAIN half of the corpus ONLY (even index of each group's sorted file list, THE
// SPLIT in the anti-spam notes); the odd half is the test set and is never opened here.
// For each fold a MemoryCounts learns the other folds and scores the held-out one; the rules do
// not learn, so they are evaluated once per mail. Prints FP % (ham called spam), FN % (spam not
// called spam), probable counts, (1-ROCA) % of the total score, the spread over folds, and the
// CPU time of parse + features + rules + Bayes per mail.
// Runs the compiled code: `npx tsc -p .` first.
//   node bench/spam-tune-joint.mjs [folds=10] [extra.rules ...]   (extra rules files are read
//   after the default one, as as_rules_file is); LIST=1 names the train mails on the wrong side;
//   REPEATS=n also runs n seeded reshuffles of the folds and prints each one's FP/FN and the mean.
// bench/spam-fit-scores.mjs imports collectJoint() from here.
// Result (2026-11-26, train half 2,075 ham / 948 spam): before the joint tuning, 10 folds FP 0.19%
// (4) FN 5.27% (50); after it (bands and three rule scores) FP 0.14% (3) FN 4.11% (39); after
// header and body evidence were weighted apart in bayes.ts, FP 0.10% (2) FN 1.69% (16),
// (1-ROCA)% 0.026 (5 folds: FP 2, FN 18); ~0.30 ms CPU per mail for the local classification.
// The test half (bench/spam.mjs) came out harder: FP 0.14% (3) FN 3.38% (32).
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { oneMinusRocArea } from "./spam-metrics.mjs";
import { readTrainHalf } from "./spam-corpus.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = (f) => import(pathToFileURL(path.join(root, "dist/host/spam", f)).href);
const { parseMail } = await dist("message.js");
const { features } = await dist("tokenize.js");
const { bayesScore, bandOf, MemoryCounts } = await dist("bayes.js");
const { loadRules, defaultRulesPath } = await dist("rules.js");

/** The train half, parsed, with features and rule hits (rules do not depend on the fold). */
export function loadTrain(extraRules = []) {
  const rules = loadRules([defaultRulesPath(), ...extraRules]);
  const mails = [];
  for (const { group, file, cls, raw } of readTrainHalf()) {
    const mail = parseMail(raw);
    const reasons = rules.evaluate(mail, raw);
    mails.push({
      cls, group, file, raw, feats: features(mail),
      hits: reasons.map((r) => r.name),
      ruleScore: reasons.reduce((s, r) => s + r.score, 0),
      fold: 0, prob: 0.5, bayesVotes: false,
    });
  }
  return { rules, mails };
}

/** Assign stratified folds and fill each mail's held-out Bayes probability. seed 0: round
 *  robin in file order (the tuning runs); other seeds: a seeded shuffle per class first, so
 *  the spread over several seeds shows how much a result owes to one split into folds. */
export function crossValidate(mails, folds, seed = 0) {
  let state = seed;
  const rnd = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const cls of ["ham", "spam"]) {
    const list = mails.filter((m) => m.cls === cls);
    if (seed !== 0) {
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [list[i], list[j]] = [list[j], list[i]];
      }
    }
    list.forEach((m, i) => { m.fold = i % folds; });
  }
  for (let k = 0; k < folds; k++) {
    const counts = new MemoryCounts(1 << 20);
    for (const m of mails) if (m.fold !== k) counts.add(m.feats, m.cls);
    for (const m of mails) {
      if (m.fold !== k) continue;
      const b = bayesScore(m.feats, counts);
      m.prob = b.probability;
      // no band when no feature carries evidence: the engine then adds no Bayes score
      m.bayesVotes = b.reason !== undefined;
    }
  }
  return mails;
}

/** The Bayes band's score as the engine adds it (0 when the filter does not vote). */
export function bayesPoints(m) {
  return m.bayesVotes ? bandOf(m.prob).score : 0;
}

/** Everything the fit script needs: train mails with hits, Bayes probability and fold. */
export function collectJoint(folds, extraRules = []) {
  const t = loadTrain(extraRules);
  crossValidate(t.mails, folds);
  return t;
}

/** 100 * P(a random ham scores above a random spam), ties count half (bench/spam-metrics.mjs). */
export function oneMinusRoca(hamS, spamS) {
  return 100 * oneMinusRocArea([...hamS.map((score) => ({ score, spam: false })), ...spamS.map((score) => ({ score, spam: true }))]);
}

/** Verdict counts of `scored` ({cls, total}) at the thresholds. */
export function verdicts(scored, required, probable) {
  const r = { ham: 0, spam: 0, fp: 0, fn: 0, hamProbable: 0, spamProbable: 0 };
  for (const m of scored) {
    r[m.cls]++;
    if (m.cls === "ham") {
      if (m.total >= required) r.fp++;
      else if (m.total >= probable) r.hamProbable++;
    } else {
      if (m.total < required) r.fn++;
      if (m.total >= probable && m.total < required) r.spamProbable++;
    }
  }
  r.fpPct = (100 * r.fp) / r.ham;
  r.fnPct = (100 * r.fn) / r.spam;
  return r;
}

function report(folds, extra) {
  const { rules, mails } = collectJoint(folds, extra);
  for (const m of mails) m.total = m.ruleScore + bayesPoints(m);
  const v = verdicts(mails, rules.required, rules.probable);
  const roca = oneMinusRoca(mails.filter((m) => m.cls === "ham").map((m) => m.total), mails.filter((m) => m.cls === "spam").map((m) => m.total));
  console.log(`train half: ${v.ham} ham, ${v.spam} spam, ${folds} folds; required ${rules.required}, probable ${rules.probable}`);
  console.log(`combined at ${rules.required}: FP ${v.fpPct.toFixed(2)}% (${v.fp})  FN ${v.fnPct.toFixed(2)}% (${v.fn})  probable: ham ${v.hamProbable}, spam ${v.spamProbable}  (1-ROCA)% ${roca.toFixed(3)}`);
  const per = [];
  for (let k = 0; k < folds; k++) {
    const f = verdicts(mails.filter((m) => m.fold === k), rules.required, rules.probable);
    per.push(`${f.fp}/${f.fn}`);
  }
  console.log(`per fold FP/FN counts: ${per.join(" ")}`);
  for (const cut of [3, 4, 4.5, 5.5, 6]) {
    const c = verdicts(mails, cut, -Infinity);
    console.log(`  at ${cut}: FP ${c.fpPct.toFixed(2)}% (${c.fp})  FN ${c.fnPct.toFixed(2)}% (${c.fn})`);
  }
  if (process.env.LIST) {
    for (const m of mails) {
      const wrong = m.cls === "ham" ? m.total >= rules.probable : m.total < rules.required;
      if (wrong) console.log(`  ${m.cls} ${m.total.toFixed(1)} p=${m.prob.toFixed(4)} ${m.group}/${m.file} ${m.hits.join(",")}`);
    }
  }
  const repeats = Number(process.env.REPEATS ?? 0);
  if (repeats > 0) {
    const res = [];
    for (let r = 1; r <= repeats; r++) {
      crossValidate(mails, folds, r * 7919);
      for (const m of mails) m.total = m.ruleScore + bayesPoints(m);
      res.push(verdicts(mails, rules.required, rules.probable));
    }
    const mean = (k) => res.reduce((a, x) => a + x[k], 0) / res.length;
    console.log(`${repeats} reshuffled ${folds}-fold splits, FP/FN: ${res.map((x) => `${x.fp}/${x.fn}`).join(" ")}; mean FP ${mean("fpPct").toFixed(2)}% FN ${mean("fnPct").toFixed(2)}%`);
  }
  // speed: the whole local classification per mail, model = all of the train half
  const counts = new MemoryCounts(1 << 20);
  for (const m of mails) counts.add(m.feats, m.cls);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const c0 = process.cpuUsage();
    for (const m of mails) {
      const mail = parseMail(m.raw);
      rules.evaluate(mail, m.raw);
      bayesScore(features(mail), counts);
    }
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  console.log(`classify (parse + features + rules + Bayes): ${(best / mails.length).toFixed(3)} ms CPU per mail, ${(1000 * mails.length / best).toFixed(0)} mail/s on one core (best of 3)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const folds = Number(process.argv[2] ?? 10);
  report(folds, process.argv.slice(3));
}
