#!/usr/bin/env node
/**
 * Rule hit rates on the TRAIN half of the npm SpamAssassin corpus (even file index within each
 * group, THE SPLIT in the anti-spam notes): for every active rule, hits in train ham, hard ham and
 * spam; then the rules-only verdict at required_score (FP/FN) and evaluate()'s time per mail.
 * Never reads the test half (odd indexes). Runs the compiled code: `npx tsc -p .` first.
 *   node scripts/spam-rule-hits.mjs [extra.rules ...] [--all]   (--all: also rules with 0 hits)
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readTrainHalf } from "../bench/spam-corpus.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { loadRules, defaultRulesPath } = await import(path.join(root, "dist/host/spam/rules.js"));
const { parseMail } = await import(path.join(root, "dist/host/spam/message.js"));

const args = process.argv.slice(2);
const showAll = args.includes("--all");
const extra = args.filter((a) => !a.startsWith("--"));
const rules = loadRules([defaultRulesPath(), ...extra]);

// hard ham is counted apart: the rules must not hit it
const mails = readTrainHalf().map(({ group, file, cls, raw }) => ({ cls: group === "hard-ham-1" ? "hard" : cls, group, file, raw, mail: parseMail(raw) }));

const counts = new Map(); // name -> {ham, hard, spam, score}
const total = { ham: 0, hard: 0, spam: 0 };
let fp = 0, fn = 0, probableHam = 0;
const fpList = [];
for (const m of mails) {
  total[m.cls]++;
  const reasons = rules.evaluate(m.mail, m.raw);
  let score = 0;
  for (const r of reasons) {
    score += r.score;
    const c = counts.get(r.name) ?? { ham: 0, hard: 0, spam: 0, score: r.score };
    c[m.cls]++;
    counts.set(r.name, c);
  }
  m.score = score;
  m.reasons = reasons;
  if (m.cls !== "spam" && score >= rules.required) fp++, fpList.push(m);
  if (m.cls !== "spam" && score >= rules.probable) probableHam++;
  if (m.cls === "spam" && score < rules.required) fn++;
}

const pct = (n, d) => ((100 * n) / Math.max(1, d)).toFixed(1).padStart(5);
const pct2 = (n, d) => ((100 * n) / Math.max(1, d)).toFixed(2);
console.log(`train half: ${total.ham} easy ham, ${total.hard} hard ham, ${total.spam} spam`);
console.log("rule                              score   ham%  hard%  spam%   (counts)");
for (const name of rules.activeRules) {
  if (name.startsWith("__")) continue;
  const c = counts.get(name) ?? { ham: 0, hard: 0, spam: 0, score: NaN };
  if (!showAll && c.ham + c.hard + c.spam === 0) continue;
  console.log(
    `${name.padEnd(32)} ${String(c.score).padStart(6)} ${pct(c.ham, total.ham)} ${pct(c.hard, total.hard)} ${pct(c.spam, total.spam)}   (${c.ham}/${c.hard}/${c.spam})`,
  );
}
const ham = total.ham + total.hard;
console.log(`rules only at ${rules.required}: FP ${fp}/${ham} = ${pct2(fp, ham)}% of ham, FN ${fn}/${total.spam} = ${pct2(fn, total.spam)}% of spam; ham at or above probable ${rules.probable}: ${probableHam}`);
for (const m of fpList.slice(0, 20)) console.log(`  FP ${m.group}/${m.file} ${m.score.toFixed(1)} ${m.reasons.map((r) => r.name).join(",")}`);

// speed: evaluate only (the mail is parsed already), several rounds, best round; CPU time of this
// process (wall time is meaningless on a loaded host) and wall time
let best = Infinity;
let bestWall = Infinity;
for (let round = 0; round < 7; round++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const m of mails) rules.evaluate(m.mail, m.raw);
  bestWall = Math.min(bestWall, Number(process.hrtime.bigint() - t0) / 1e6);
  const c = process.cpuUsage(c0);
  best = Math.min(best, (c.user + c.system) / 1000);
}
const bytes = mails.reduce((s, m) => s + m.raw.length, 0);
console.log(`evaluate: ${(best / mails.length).toFixed(4)} ms CPU per mail, ${(bestWall / mails.length).toFixed(4)} ms wall (best of 7 rounds over ${mails.length} mails, avg ${(bytes / mails.length / 1024).toFixed(1)} KiB)`);
