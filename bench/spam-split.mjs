// Split checks (b) and (c) of the anti-spam benchmark (bench/spam.mjs; (a) is in
// spam-corpus.mjs). Issue 5 requires "no training on the test half, no rule written from
// test-half messages: the bench checks the split".
//  (b) the Bulwark Bayes database's `learned` table (host/spam/bayes-schema.ts: digest BLOB =
//      SHA-256 of the message after its mbox "From " line, class 'spam'|'ham') holds exactly the
//      TRAIN half's digests, each with its class, and no TEST digest.
//  (c) every rule of host/spam/rules/default.rules that hits a class's test messages often also
//      hits that class's train messages about as often. The halves are the same size and drawn
//      the same way, so an honest rule's hits fall in either half like coin flips; a rule
//      written from test messages hits them and (almost) nothing in train.
// Reads only; returns failure strings (empty = ok) and a per-rule table for the record.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { binomialUpperTail } from "./spam-metrics.mjs";

/** A rule with at least this many test hits in one class and none in the same class of the
 *  train half fails. For an honest rule all hits land in test with probability 2^-hits:
 *  2^-10 ≈ 0.001 per rule and class, so the ~100 rules give a false alarm in a few % of
 *  corpora at worst, while a rule copied from a test message is caught from 10 hits up. */
export const MIN_TEST_HITS = 10;
/** A rule whose test hits outnumber its train hits this improbably (one-sided binomial test,
 *  hits split 1/2 : 1/2 under an honest rule) fails too: it matches test-half messages at a
 *  rate the train half does not explain. 1e-4 keeps the family-wise false alarm rate over
 *  ~100 rules × 2 classes near 2 %. */
export const MAX_RATE_P = 1e-4;

/** Rule names defined in a rules file (not sub-rules `__X`, which are never reported). */
export function ruleNames(rulesFile) {
  const names = new Set();
  for (const line of readFileSync(rulesFile, "utf8").split("\n")) {
    const m = /^\s*(header|body|rawbody|uri|full|meta|eval)\s+([A-Za-z0-9_]+)\s/.exec(line);
    if (m && !m[2].startsWith("__")) names.add(m[2]);
  }
  return names;
}

/** Check (b). `corpus`: [{ half, cls, digest, group, file }]. */
export function checkLearnedTable(root, bayesDb, corpus) {
  const failures = [];
  const Database = createRequire(`${root}/package.json`)("better-sqlite3");
  const db = new Database(bayesDb, { readonly: true, fileMustExist: true });
  let rows;
  try {
    const cols = db.prepare("PRAGMA table_info(learned)").all().map((c) => c.name);
    if (!cols.includes("digest") || !cols.includes("class")) return { failures: [`(b) ${bayesDb}: table learned has columns [${cols.join(", ")}], expected digest and class`], learned: 0 };
    rows = db.prepare("SELECT digest, class FROM learned").all();
  } finally {
    db.close();
  }
  const learned = new Map();
  for (const r of rows) {
    const hex = Buffer.isBuffer(r.digest) ? r.digest.toString("hex") : String(r.digest).toLowerCase();
    learned.set(hex, r.class);
  }
  let missing = 0;
  let wrongClass = 0;
  let leaked = 0;
  const example = (what, m) => failures.length < 20 && failures.push(`(b) ${what}: ${m.half} ${m.group}/${m.file}`);
  const known = new Set();
  for (const m of corpus) {
    known.add(m.digest);
    const cls = learned.get(m.digest);
    if (m.half === "test") {
      if (cls !== undefined) { leaked++; example("TEST message learned", m); }
    } else if (cls === undefined) { missing++; example("train message not learned", m); }
    else if (cls !== m.cls) { wrongClass++; example(`learned as ${cls}, is ${m.cls}`, m); }
  }
  const foreign = [...learned.keys()].filter((d) => !known.has(d)).length;
  if (foreign) failures.push(`(b) ${foreign} learned digests belong to no corpus message`);
  if (leaked) failures.push(`(b) ${leaked} TEST-half messages are in the learned table`);
  if (missing) failures.push(`(b) ${missing} train-half messages are not in the learned table`);
  if (wrongClass) failures.push(`(b) ${wrongClass} train-half messages learned with the wrong class`);
  return { failures, learned: learned.size };
}

/**
 * Check (c). `test`/`train`: Bulwark results with `names` (the reasons that fired) and `spam`.
 * Returns failures and one row per rule that hit anything: hits per half and class.
 */
export function checkRuleHits(rulesFile, train, test) {
  const names = ruleNames(rulesFile);
  const failures = [];
  const count = (results) => {
    const c = new Map();
    for (const r of results) {
      for (const n of new Set(r.names)) {
        if (!names.has(n)) continue;
        const e = c.get(n) ?? { ham: 0, spam: 0 };
        e[r.spam ? "spam" : "ham"]++;
        c.set(n, e);
      }
    }
    return c;
  };
  const tr = count(train);
  const te = count(test);
  const rows = [];
  for (const n of [...names].sort()) {
    const a = tr.get(n) ?? { ham: 0, spam: 0 };
    const b = te.get(n) ?? { ham: 0, spam: 0 };
    if (!a.ham && !a.spam && !b.ham && !b.spam) continue;
    rows.push({ rule: n, trainHam: a.ham, testHam: b.ham, trainSpam: a.spam, testSpam: b.spam });
    for (const cls of ["ham", "spam"]) {
      const t = b[cls];
      const r = a[cls];
      if (t >= MIN_TEST_HITS && r === 0) failures.push(`(c) rule ${n} hits ${t} test ${cls} but no train ${cls}`);
      else if (t > r) {
        const p = binomialUpperTail(t, t + r);
        if (p < MAX_RATE_P) failures.push(`(c) rule ${n} hits ${t} test ${cls} but only ${r} train ${cls} (p = ${p.toExponential(1)})`);
      }
    }
  }
  return { failures, rows, ruleCount: names.size };
}
