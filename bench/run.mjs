// Benchmark: bulwark vs clamscan on generated signature sets and corpora (npm run bench).
// For each case both tools scan identical inputs in one run; we report load time (scan of
// a 2-byte file), wall, user CPU, peak RSS, MB/s = bytes / (wall − load) with MB = 10^6 B,
// and the detections of each, which must be equal (a loud MISMATCH otherwise).
// clamscan is slow on some sets (20k wildcards: a few MB/s), so it scans a prefix slice of
// the corpus sized to finish within BENCH_CLAM_BUDGET seconds (measured on a small
// calibration slice first); bulwark scans the full corpus for its throughput, and the slice
// as well so that detections are compared on identical bytes.
//
// Environment:
//   BENCH_MB=128           corpus size in MiB (64–256 for real numbers; 8 for a quick run)
//   BENCH_REPEAT=3         bulwark runs per measurement (best wall kept; the VM is noisy)
//   BENCH_CLAM_BUDGET=60   target seconds per clamscan scan
//   BENCH_ONLY=a,b         only these cases (ids below, plus "load" and "scaling")
//   BENCH_SKIP_CLAMSCAN=1  bulwark only (no comparison)
//   BENCH_BULWARK=path     another bulwark launcher (e.g. to compare two builds)
import { rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureCorpus, ensureRandom, ensureTiny } from "./gen-corpus.mjs";
import { SETS, ensureSet } from "./gen-sigs.mjs";
import { bestOf, diffFound, ensureGnuTime, parseFound, timed } from "./measure.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const BULWARK = process.env.BENCH_BULWARK || join(ROOT, "bin", "bulwark");
const MiB = 1024 * 1024;

const env = (name, def) => {
  const v = process.env[name];
  if (v === undefined || v === "") return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
};
const MB = Math.floor(env("BENCH_MB", 128));
const REPEAT = Math.floor(env("BENCH_REPEAT", 3));
const CLAM_BUDGET = env("BENCH_CLAM_BUDGET", 60);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const SKIP_CLAM = process.env.BENCH_SKIP_CLAMSCAN === "1";
/** clamscan calibration slice: big enough that load time does not dominate at ~1 MB/s. */
const CAL_MIB = 4;

const CASES = [
  { id: "base", sets: ["base"], corpus: "random", targets: [] },
  { id: "lit1k", sets: ["lit1k"], corpus: "random", targets: [] },
  { id: "lit100k", sets: ["lit100k"], corpus: "random", targets: [["mbps", 1000], ["ratio", 100]] },
  { id: "wild20k", sets: ["wild20k"], corpus: "random", targets: [["mbps", 500]] },
  { id: "hdb1m", sets: ["hdb1m"], corpus: "random", targets: [] },
  { id: "ldb10k", sets: ["ldb10k"], corpus: "random", targets: [] },
  { id: "real10k", sets: ["real10k"], corpus: "elf", targets: [["mbps", 300], ["ratio", 300]] },
  { id: "mail-lit100k", sets: ["lit100k"], corpus: "mail", targets: [["mbps", 1000]] },
];

const clamArgs = (dbs) => ["--max-scantime=0", "--max-filesize=4000M", "--max-scansize=4000M", "--allmatch", "--no-summary", ...dbs.flatMap((d) => ["-d", d])];
const bwArgs = (dbs, workers) => [
  "scan",
  "--allmatch",
  "--workers",
  String(workers),
  "--no-summary",
  "--no-builtin",
  "--max-filesize=4000M",
  "--max-scansize=4000M",
  "--max-scantime=600000",
  ...dbs.flatMap((d) => ["-d", d]),
];
const bwEnv = { ...process.env, XDG_CACHE_HOME: join(OUT, "cache") };

function checked(tool, r) {
  if (r.code !== 0 && r.code !== 1) throw new Error(`${tool} exited ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return r;
}
const clam = (dbs, files) => checked("clamscan", timed("clamscan", [...clamArgs(dbs), ...files]));
const bw = (dbs, files, workers = 1) => checked("bulwark", timed(process.execPath, [BULWARK, ...bwArgs(dbs, workers), ...files], { env: bwEnv }));

/** Below this scan time (wall − load) the difference of two noisy timings says nothing;
 *  such a rate is reported as n/a (raise BENCH_MB). */
const MIN_SCAN_S = 0.2;
const mbps = (bytes, wall, load) => (wall - load >= MIN_SCAN_S ? bytes / 1e6 / (wall - load) : NaN);
const log = (s) => process.stderr.write(`bench: ${s}\n`);

/** Can the bulwark half run at all? (The engine may not have landed yet.) */
function bulwarkStatus() {
  try {
    const r = bw(ensureSet(OUT, "base"), [ensureTiny(OUT)]);
    if (r.code !== 0 || !r.stdout.includes(": OK")) return `unexpected result on a 2-byte file: exit ${r.code}, ${JSON.stringify((r.stdout + r.stderr).slice(0, 300))}`;
    return null;
  } catch (e) {
    return e.message;
  }
}

function runCase(c, bwBroken) {
  const dbs = c.sets.flatMap((s) => ensureSet(OUT, s));
  const tiny = ensureTiny(OUT);
  const full = ensureCorpus(OUT, c.corpus, MB, MB);
  const row = { id: c.id, describe: c.sets.map((s) => SETS[s].describe).join(" + "), corpus: c.corpus, targets: c.targets };
  let slice = { mib: MB, path: full };
  if (!SKIP_CLAM) {
    log(`${c.id}: clamscan load`);
    const load = bestOf(Math.min(REPEAT, 2), () => clam(dbs, [tiny]));
    const calMib = Math.min(CAL_MIB, MB);
    const calPath = ensureCorpus(OUT, c.corpus, calMib, MB);
    log(`${c.id}: clamscan calibration on ${calMib} MiB`);
    const cal = clam(dbs, [calPath]);
    const rate = (calMib * MiB) / Math.max(cal.wall - load.wall, 0.01);
    const sliceMib = Math.max(calMib, Math.min(MB, Math.floor((rate * CLAM_BUDGET) / MiB)));
    slice = { mib: sliceMib, path: sliceMib === calMib ? calPath : ensureCorpus(OUT, c.corpus, sliceMib, MB) };
    let run = cal;
    if (sliceMib !== calMib) {
      log(`${c.id}: clamscan on ${sliceMib} MiB`);
      run = clam(dbs, [slice.path]);
    }
    row.clam = { load: load.wall, mib: sliceMib, wall: run.wall, user: run.user, rss: run.rssMiB, mbps: mbps(sliceMib * MiB, run.wall, load.wall), found: parseFound(run.stdout) };
  }
  if (!bwBroken) {
    log(`${c.id}: bulwark load and ${MB} MiB scan (best of ${REPEAT})`);
    bw(dbs, [tiny]); // warms the compiled-database cache (cold load is measured in "load")
    const load = bestOf(REPEAT, () => bw(dbs, [tiny]));
    const run = bestOf(REPEAT, () => bw(dbs, [full]));
    row.bw = { load: load.wall, mib: MB, wall: run.wall, user: run.user, rss: run.rssMiB, mbps: mbps(MB * MiB, run.wall, load.wall), found: parseFound(run.stdout) };
    if (row.clam) {
      const onSlice = slice.mib === MB ? run : bw(dbs, [slice.path]);
      row.bw.sliceFound = parseFound(onSlice.stdout);
      row.bw.sliceRss = onSlice.rssMiB;
      row.mismatch = diffFound(row.clam.found, row.bw.sliceFound);
      if (row.mismatch) log(`!!!!!!!! MISMATCH in ${c.id} (${slice.mib} MiB): ${row.mismatch}`);
    }
  }
  return row;
}

function runLoad(bwBroken) {
  const dbs = [...ensureSet(OUT, "lit100k"), ...ensureSet(OUT, "hdb1m")];
  const tiny = ensureTiny(OUT);
  const row = { id: "load" };
  if (!SKIP_CLAM) {
    log("load: clamscan 100k ndb + 1M hdb");
    const r = bestOf(Math.min(REPEAT, 2), () => clam(dbs, [tiny]));
    row.clam = { wall: r.wall, rss: r.rssMiB, user: r.user };
  }
  if (!bwBroken) {
    log("load: bulwark cold (empty cache) and warm");
    rmSync(join(OUT, "cache"), { recursive: true, force: true });
    const cold = bw(dbs, [tiny]);
    const warm = bestOf(REPEAT, () => bw(dbs, [tiny]));
    row.bwCold = { wall: cold.wall, rss: cold.rssMiB, user: cold.user };
    row.bw = { wall: warm.wall, rss: warm.rssMiB, user: warm.user };
  }
  return row;
}

function runScaling() {
  const dbs = ensureSet(OUT, "lit100k");
  const files = [ensureRandom(OUT, MB), ensureRandom(OUT, MB, { seed: "random-corpus-nomatch", plants: false })];
  const tiny = ensureTiny(OUT);
  const one = (w) => {
    log(`scaling: two ${MB} MiB files, --workers ${w}`);
    bw(dbs, [tiny], w); // warm the compiled-database cache
    const load = bestOf(REPEAT, () => bw(dbs, [tiny], w));
    const run = bestOf(REPEAT, () => bw(dbs, files, w));
    return { load: load.wall, wall: run.wall, user: run.user, rss: run.rssMiB, mbps: mbps(2 * MB * MiB, run.wall, load.wall) };
  };
  const w1 = one(1);
  const w2 = one(2);
  const t1 = w1.wall - w1.load;
  const t2 = w2.wall - w2.load;
  return { id: "scaling", w1, w2, speedup: t1 >= MIN_SCAN_S && t2 >= MIN_SCAN_S ? t1 / t2 : NaN };
}

// ------------------------------------------------------------------ report

const f1 = (x) => (x === undefined ? "–" : Number.isNaN(x) ? "n/a" : x.toFixed(1));
const f2 = (x) => (x === undefined ? "–" : Number.isNaN(x) ? "n/a" : x.toFixed(2));
const pass = (ok) => (ok ? "PASS" : "**FAIL**");
/** A target on a rate that could not be measured is neither met nor missed. */
const judge = (value, ok) => (Number.isNaN(value) ? "n/a" : pass(ok));

function caseTable(rows) {
  const lines = [
    "| case | tool | input MiB | load s | wall s | user s | peak RSS MiB | MB/s | × clamscan | detections | target |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const r of rows) {
    const c = r.clam;
    const b = r.bw;
    if (c) lines.push(`| ${r.id} (${r.describe}, ${r.corpus}) | clamscan | ${c.mib} | ${f2(c.load)} | ${f2(c.wall)} | ${f2(c.user)} | ${f1(c.rss)} | ${f1(c.mbps)} | | ${c.found.total} | |`);
    if (!b) continue;
    const ratio = c ? b.mbps / c.mbps : undefined;
    const targets = r.targets.map(([k, v]) => (k === "mbps" ? `≥ ${v} MB/s ${judge(b.mbps, b.mbps >= v)}` : ratio === undefined ? `≥ ${v}× –` : `≥ ${v}× ${judge(ratio, ratio >= v)}`));
    if (c) targets.push(`RSS ≤ clamscan ${pass(b.sliceRss <= c.rss)} (${f1(b.sliceRss)} on the same ${c.mib} MiB)`);
    const det = c ? `${b.found.total} (on clamscan's ${c.mib} MiB: ${b.sliceFound.total}, ${r.mismatch ? "**MISMATCH**" : "equal"})` : `${b.found.total}`;
    lines.push(`| ${r.id} | bulwark | ${b.mib} | ${f2(b.load)} | ${f2(b.wall)} | ${f2(b.user)} | ${f1(b.rss)} | ${f1(b.mbps)} | ${ratio === undefined ? "–" : f1(ratio)} | ${det} | ${targets.join("; ")} |`);
  }
  return lines.join("\n");
}

function loadTable(r) {
  const lines = ["| load of 100k .ndb + 1M .hdb | wall s | user s | peak RSS MiB | × clamscan | target ≤ 0.25× |", "|---|---:|---:|---:|---:|---|"];
  const c = r.clam;
  if (c) lines.push(`| clamscan | ${f2(c.wall)} | ${f2(c.user)} | ${f1(c.rss)} | | |`);
  for (const [label, b] of [["bulwark, cold cache", r.bwCold], ["bulwark, warm cache", r.bw]]) {
    if (!b) continue;
    const x = c ? b.wall / c.wall : undefined;
    lines.push(`| ${label} | ${f2(b.wall)} | ${f2(b.user)} | ${f1(b.rss)} | ${f2(x)} | ${x === undefined ? "–" : pass(x <= 0.25)} |`);
  }
  return lines.join("\n");
}

function scalingTable(r) {
  return [
    `| two ${MB} MiB files, 100k literals | load s | wall s | user s | peak RSS MiB | MB/s |`,
    "|---|---:|---:|---:|---:|---:|",
    `| --workers 1 | ${f2(r.w1.load)} | ${f2(r.w1.wall)} | ${f2(r.w1.user)} | ${f1(r.w1.rss)} | ${f1(r.w1.mbps)} |`,
    `| --workers 2 | ${f2(r.w2.load)} | ${f2(r.w2.wall)} | ${f2(r.w2.user)} | ${f1(r.w2.rss)} | ${f1(r.w2.mbps)} |`,
    "",
    `Speed-up 2 vs 1 worker: ${f2(r.speedup)}× (target ≥ 1.8×: ${judge(r.speedup, r.speedup >= 1.8)})`,
  ].join("\n");
}

// ------------------------------------------------------------------ main

ensureGnuTime();
mkdirSync(OUT, { recursive: true });
const selected = (id) => !ONLY || ONLY.has(id);
const bwBroken = bulwarkStatus();
if (bwBroken) log(`bulwark is not usable yet (${bwBroken}); measuring clamscan only`);
const rows = [];
let failed = false;
for (const c of CASES.filter((c) => selected(c.id))) {
  try {
    rows.push(runCase(c, bwBroken));
  } catch (e) {
    failed = true;
    log(`${c.id} failed: ${e.message}`);
  }
}
const load = selected("load") ? runLoad(bwBroken) : null;
const scaling = selected("scaling") && !bwBroken ? runScaling() : null;

const report = [
  `## Bulwark benchmark (${new Date().toISOString()}, BENCH_MB=${MB}, best of ${REPEAT} for bulwark)`,
  "",
  "MB/s = input bytes / (wall − load), MB = 10^6 bytes; load = scanning a 2-byte file with the same databases (warm compiled-database cache for bulwark).",
  `n/a: wall − load below ${MIN_SCAN_S} s, too small to measure; raise BENCH_MB.`,
  "clamscan scans a prefix slice of the corpus sized to finish in about " + `${CLAM_BUDGET} s (input MiB column); bulwark scans the full corpus and, for the detection comparison, the same slice.`,
  "bulwark runs with --workers 1 (one scanning thread), clamscan is single-threaded.",
  "",
  caseTable(rows),
  "",
  load ? loadTable(load) : "",
  "",
  scaling ? scalingTable(scaling) : bwBroken ? `Scaling: not measured (bulwark not usable: ${bwBroken})` : "",
  "",
].join("\n");
process.stdout.write(report);
writeFileSync(join(OUT, "results.md"), report);
writeFileSync(
  join(OUT, "results.json"),
  JSON.stringify({ mb: MB, repeat: REPEAT, rows, load, scaling }, (k, v) => (v instanceof Map ? Object.fromEntries(v) : v), 2),
);
const mismatches = rows.filter((r) => r.mismatch);
if (mismatches.length) {
  process.stdout.write(`\n!!!!!!!! MISMATCH: detections differ in ${mismatches.map((r) => r.id).join(", ")} !!!!!!!!\n`);
  for (const r of mismatches) process.stdout.write(`  ${r.id}: ${r.mismatch}\n`);
}
process.exitCode = failed || mismatches.length ? 1 : 0;
