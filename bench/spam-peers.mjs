// The two reference filters of the anti-spam benchmark (bench/spam.mjs), each private and
// offline, trained on the TRAIN half and run over the TEST half of the same files:
//  - SpamAssassin 4.0.1: Bayes trained with sa-learn, then a private spamd (its own site
//    config and Bayes files in a temp dir, loopback port, 2 children) and spamc -c at
//    concurrency 2. No network: skip_rbl_checks, dns_available no, Razor/Pyzor off, so with
//    Bayes on SpamAssassin uses score set 2 (the notes' "rules + Bayes" baseline).
//  - bogofilter 1.2.5: its own word list directory (-d), -C (no system config), registration
//    with -s/-n and classification with -b -TT (file names on stdin, full-precision score).
// Talks to: the spamd it starts (127.0.0.1, free port). Writes: only its temp dirs. On
// failure (a peer missing, not starting, an unparseable answer) it throws: the benchmark fails.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { freePort, processTree, startProcess, stopProcess } from "./processes.mjs";
import { measured, timedPass } from "./spam-load.mjs";

/** Concurrency of the SpamAssassin leg: the 2 cores of the target machine, 2 spamd children
 *  and 2 spamc clients, as in the notes' 8.9 msg/s baseline. */
export const SA_CHILDREN = 2;
/** spamd compiles its rules before it answers; on this machine that takes a few seconds.
 *  A minute means it is broken. */
const SPAMD_START_TIMEOUT_MS = 60_000;
/** One message takes ~0.2 s in spamd; two minutes means it hangs. */
const SPAMC_TIMEOUT_MS = 120_000;
/** Untimed messages (from the TRAIN half) through spamd before the measured pass, so each
 *  child has run its first message (lazy loading) before the clock starts. */
const SA_WARMUP = 4;

const log = (s) => process.stderr.write(`bench:spam: ${s}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (is the Debian package installed?)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).slice(-2000)}`);
  return r;
}

/** CPU seconds (user + system) of a process tree, from /proc. */
function treeCpuS(pid) {
  let cpu = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpu += (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
    } catch {
      /* the process ended */
    }
  }
  return cpu;
}

/** Resolves when the private spamd answers the protocol's PING (spamd/PROTOCOL). */
async function waitSpamd(port, child, logFile) {
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`spamd exited (${child.exitCode}) during start-up; see ${logFile}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      let got = "";
      s.setTimeout(2000, () => { s.destroy(); resolve(false); });
      s.on("connect", () => s.write("PING SPAMC/1.5\r\n\r\n"));
      s.on("data", (d) => { got += d; });
      s.on("error", () => resolve(false));
      s.on("close", () => resolve(/^SPAMD\/1\.\d+ 0 PONG/.test(got)));
    });
    if (ok) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > SPAMD_START_TIMEOUT_MS) throw new Error(`spamd did not answer PING within ${SPAMD_START_TIMEOUT_MS / 1000} s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `spamc args < file`: stdout and exit code (spamc -c exits 1 for spam, 0 for ham). */
function spamc(port, args, file) {
  return new Promise((resolve, reject) => {
    const c = spawn("spamc", ["-d", "127.0.0.1", "-p", String(port), "-x", ...args], { stdio: [file.fd, "pipe", "pipe"] });
    let out = "";
    let err = "";
    const t = setTimeout(() => c.kill("SIGKILL"), SPAMC_TIMEOUT_MS);
    c.stdout.on("data", (d) => { out += d; });
    c.stderr.on("data", (d) => { err += d; });
    c.on("error", (e) => { clearTimeout(t); reject(new Error(`spamc: ${e.message} (package spamc installed?)`)); });
    c.on("close", (code) => { clearTimeout(t); resolve({ out, err, code }); });
  });
}

async function spamcFile(port, args, path) {
  const fd = openSync(path, "r");
  try {
    return await spamc(port, args, { fd });
  } finally {
    closeSync(fd);
  }
}

/** SpamAssassin leg. `train`/`test`: [{ path, spam }]. */
export async function runSpamAssassin(train, test) {
  const dir = mkdtempSync(join(os.tmpdir(), "bulwark-bench-sa-"));
  const site = join(dir, "site");
  const home = join(dir, "home");
  const bayesDir = join(dir, "bayes");
  for (const d of [site, home, bayesDir]) mkdirSync(d, { recursive: true });
  // The Debian plugin set (*.pre) and Debian's own rules file, so spamd runs as installed;
  // local.cf replaces the site's (empty) one with the offline Bayes settings.
  for (const f of readdirSync("/etc/spamassassin")) if (f.endsWith(".pre") || f === "65_debian.cf") copyFileSync(join("/etc/spamassassin", f), join(site, f));
  writeFileSync(
    join(site, "local.cf"),
    [
      "# bench/spam.mjs: offline SpamAssassin with Bayes (score set 2)",
      "use_bayes 1",
      `bayes_path ${join(bayesDir, "bayes")}`,
      // spamd's children run as nobody when started as root; they must read the database
      "bayes_file_mode 0777",
      "bayes_auto_learn 0",
      "bayes_auto_expire 0",
      "skip_rbl_checks 1",
      "dns_available no",
      "use_razor2 0",
      "use_pyzor 0",
      "",
    ].join("\n"),
  );
  chmodSync(dir, 0o777);
  for (const d of [site, home, bayesDir]) chmodSync(d, 0o777);
  const env = { ...process.env, HOME: home };
  const files = (cls) => train.filter((m) => m.spam === (cls === "spam")).map((m) => m.path);
  const r = { name: "SpamAssassin 4.0.1 (rules + Bayes, set 2)", dir };
  let spamd;
  try {
    log(`SpamAssassin: sa-learn on ${train.length} train messages`);
    const t0 = process.hrtime.bigint();
    for (const cls of ["spam", "ham"]) {
      // file lists through a file (-f), not argv: thousands of paths
      const list = join(dir, `train-${cls}.list`);
      writeFileSync(list, files(cls).join("\n") + "\n");
      run("sa-learn", ["--siteconfigpath", site, `--${cls}`, "-f", list], { env });
    }
    r.trainS = Number(process.hrtime.bigint() - t0) / 1e9;
    const magic = run("sa-learn", ["--siteconfigpath", site, "--dump", "magic"], { env }).stdout;
    r.learned = { spam: Number(/(\d+)\s+0\s+non-token data: nspam/.exec(magic)?.[1]), ham: Number(/(\d+)\s+0\s+non-token data: nham/.exec(magic)?.[1]) };
    r.tokens = Number(/(\d+)\s+0\s+non-token data: ntokens/.exec(magic)?.[1]);
    for (const f of readdirSync(bayesDir)) chmodSync(join(bayesDir, f), 0o666);

    const port = await freePort();
    const logFile = join(dir, "spamd.log");
    const args = [
      "--siteconfigpath", site, "-x", "-H", home, "-i", `127.0.0.1:${port}`, "-A", "127.0.0.1",
      "-m", String(SA_CHILDREN), "--min-children", String(SA_CHILDREN), "--min-spare", "1", "--max-spare", String(SA_CHILDREN),
      "-s", "stderr", "-r", join(dir, "spamd.pid"),
      ...(process.getuid?.() === 0 ? ["-u", "nobody"] : []),
    ];
    spamd = startProcess("spamd", args, logFile, { env });
    r.startS = await waitSpamd(port, spamd, logFile);
    log(`SpamAssassin: spamd ready in ${r.startS.toFixed(1)} s on port ${port}`);

    // Bayes must be in use (score set 2), or this is not the baseline being compared with.
    const probe = await spamcFile(port, ["-y"], train.find((m) => m.spam).path);
    if (!/BAYES_\d+/.test(probe.out)) throw new Error(`SpamAssassin did not use Bayes on a trained spam (symbols: ${probe.out.trim()}); see ${logFile}`);
    for (const m of train.slice(0, SA_WARMUP)) await spamcFile(port, ["-c"], m.path);

    log(`SpamAssassin: spamc -c over ${test.length} test messages, concurrency ${SA_CHILDREN}`);
    const results = new Array(test.length);
    let next = 0;
    const cpu0 = treeCpuS(spamd.pid);
    const t1 = process.hrtime.bigint();
    // one pass only (it takes minutes): its disturbance is reported, not retried
    const pass = await measured(() => Promise.all(
      Array.from({ length: SA_CHILDREN }, async () => {
        for (;;) {
          const i = next++;
          if (i >= test.length) return;
          const a = await spamcFile(port, ["-c"], test[i].path);
          const m = /^(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\s*$/.exec(a.out);
          if (!m || (a.code !== 0 && a.code !== 1)) throw new Error(`spamc -c on ${test[i].path}: exit ${a.code}, "${a.out.trim()}" ${a.err.trim()}`);
          const score = Number(m[1]);
          const required = Number(m[2]);
          results[i] = { spam: test[i].spam, score, required, verdict: score >= required ? "spam" : "ham" };
          if ((a.code === 1) !== (score >= required)) throw new Error(`spamc exit ${a.code} disagrees with ${a.out.trim()} on ${test[i].path}`);
        }
      }),
    ));
    r.testS = Number(process.hrtime.bigint() - t1) / 1e9;
    r.otherLoadPct = pass.otherLoadPct;
    r.cpuPerMsgMs = ((treeCpuS(spamd.pid) - cpu0) * 1000) / test.length;
    r.results = results;
    r.required = [...new Set(results.map((x) => x.required.toFixed(1)))].join(", ");
    return r;
  } finally {
    if (spamd) await stopProcess(spamd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** bogofilter's cutoffs as it reports them with -C (compiled-in defaults, no config file). */
function bogofilterDefaults() {
  const q = run("bogofilter", ["-C", "-Q"]).stdout;
  return { spamCutoff: Number(/spam_cutoff\s*=\s*([\d.]+)/.exec(q)?.[1]), hamCutoff: Number(/ham_cutoff\s*=\s*([\d.]+)/.exec(q)?.[1]) };
}

/** `bogofilter -C -d DIR args` with `input` on stdin; resolves with stdout. */
function bogofilter(dir, args, input) {
  return new Promise((resolve, reject) => {
    const c = spawn("bogofilter", ["-C", "-d", dir, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => { out += d; });
    c.stderr.on("data", (d) => { err += d; });
    c.on("error", (e) => reject(new Error(`bogofilter: ${e.message} (package bogofilter installed?)`)));
    // -b exits 0 (ham), 1 (spam), 2 (unsure) for the last message; 3 is an error
    c.on("close", (code) => (code === 3 || err.trim() ? reject(new Error(`bogofilter ${args.join(" ")}: exit ${code}: ${err.slice(-2000)}`)) : resolve(out)));
    c.stdin.end(input);
  });
}

/** Classifies `test` with `procs` bogofilter processes (an equal share each); wall seconds and
 *  score per message. */
async function bogofilterPass(dir, test, procs) {
  const shares = Array.from({ length: procs }, (_, p) => test.map((m, i) => [m, i]).filter(([, i]) => i % procs === p));
  const t0 = process.hrtime.bigint();
  const outs = await Promise.all(shares.map((s) => bogofilter(dir, ["-b", "-TT"], s.map(([m]) => m.path).join("\n") + "\n")));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const scores = new Array(test.length);
  outs.forEach((out, p) => {
    const lines = out.split("\n").filter(Boolean);
    if (lines.length !== shares[p].length) throw new Error(`bogofilter -b answered ${lines.length} lines for ${shares[p].length} files`);
    lines.forEach((line, k) => {
      const [m, i] = shares[p][k];
      const sp = line.lastIndexOf(" ");
      if (line.slice(0, sp) !== m.path) throw new Error(`bogofilter -b: line for ${line.slice(0, sp)}, expected ${m.path}`);
      const score = Number(line.slice(sp + 1));
      if (!Number.isFinite(score)) throw new Error(`bogofilter -b: no score in "${line}"`);
      scores[i] = score;
    });
  });
  return { wall, scores };
}

/** bogofilter leg: results at the 0.5 cutoff (the notes' baseline) and at its default. */
export async function runBogofilter(train, test) {
  const dir = mkdtempSync(join(os.tmpdir(), "bulwark-bench-bogofilter-"));
  try {
    const defaults = bogofilterDefaults();
    log(`bogofilter: registering ${train.length} train messages`);
    const t0 = process.hrtime.bigint();
    await bogofilter(dir, ["-s", "-b"], train.filter((m) => m.spam).map((m) => m.path).join("\n") + "\n");
    await bogofilter(dir, ["-n", "-b"], train.filter((m) => !m.spam).map((m) => m.path).join("\n") + "\n");
    const trainS = Number(process.hrtime.bigint() - t0) / 1e9;
    const counts = run("bogoutil", ["-w", join(dir, "wordlist.db"), ".MSG_COUNT"]).stdout;
    const m = /\.MSG_COUNT\s+(\d+)\s+(\d+)/.exec(counts);
    const learned = { spam: Number(m?.[1]), ham: Number(m?.[2]) };
    log(`bogofilter: classifying ${test.length} test messages (1 process, then 2)`);
    const one = (await timedPass(() => bogofilterPass(dir, test, 1), "bogofilter, 1 process", log)).value;
    const twoPass = await timedPass(() => bogofilterPass(dir, test, 2), "bogofilter, 2 processes", log);
    const two = twoPass.value;
    for (let i = 0; i < test.length; i++) {
      if (one.scores[i] !== two.scores[i]) throw new Error(`bogofilter: scores differ between passes on ${test[i].path}`);
    }
    const at = (cut) => test.map((t, i) => ({ spam: t.spam, score: two.scores[i], verdict: two.scores[i] >= cut ? "spam" : "ham" }));
    // the tristate view at the defaults: unsure between ham_cutoff and spam_cutoff
    const tristate = test.map((t, i) => {
      const s = two.scores[i];
      return { spam: t.spam, score: s, verdict: s >= defaults.spamCutoff ? "spam" : s <= defaults.hamCutoff ? "ham" : "unsure" };
    });
    return { name: "bogofilter 1.2.5", trainS, learned, defaults, testS: two.wall, otherLoadPct: twoPass.otherLoadPct, tries: twoPass.tries, testS1: one.wall, at05: at(0.5), atDefault: tristate };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
