// INSTREAM benchmark (issue 3): throughput and latency of Bulwark's clamd protocol vs a real
// clamd, same 1.1 M-signature set (100k .ndb literals + 1M .hdb, gen-sigs.mjs, plus the few
// hashes the corpus plants), same ~0.5 MB MIME mails (gen-mails.mjs), same client, one run.
// `npm run bench:instream` (builds first); `node bench/instream.mjs` on an existing build.
//
// Each server is private: clamd with its own clamd.conf in bench/out/instream/clamd/, Bulwark
// as `bulwark daemon --foreground` with its own config (base_dir = the same signature
// directory, [clamd] agent on another loopback port, workers = 0 = one per core). They run
// one after the other, so neither competes with the other for the cores. The client is this
// process: N concurrent connections (BENCH_CLIENTS, default 1 and 4), each sending one mail per
// connection as `zINSTREAM\0`, 64 KiB chunks and the zero chunk (prebuilt in memory, so the
// client costs little), timing connect → reply. Every mail is sent once per (server, N) after
// a short untimed warm-up. Detections of the two servers must be equal mail by mail (and equal
// to what the corpus planted); otherwise the run is marked INVALID and exits 1. Reported per
// pass: mails/s, MB/s (10^6 B), median and p99 latency, CPU per mail of the server (all its
// processes) and of the client, and the CPU other processes took meanwhile (a pass disturbed
// by other jobs on the shared VM is repeated). Per server: start → PONG time and peak RSS.
// The section "INSTREAM vs clamd (issue 3)" of bench/RESULTS.md is replaced by this run's.
// bench/instream-profile.mjs breaks Bulwark's time down (scanner alone, agent hop, profiles).
//
// Environment:
//   BENCH_MAILS=200         mails in the corpus (~0.5 MB each)
//   BENCH_CLIENTS=1,4       concurrency levels
//   BENCH_CHUNK=65536       INSTREAM chunk size in bytes
//   BENCH_SERVERS=clamd,bulwark   which servers to measure (both for a valid comparison)
//   BENCH_NO_RESULTS=1      do not rewrite bench/RESULTS.md (numbers still go to bench/out)
import { spawnSync } from "node:child_process";
import { existsSync, statSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureSet, linkedSignatureDir } from "./gen-sigs.mjs";
import { ensureMailCorpus } from "./gen-mails.mjs";
import { freePort, percentile, processTree, startProcess, stopProcess } from "./processes.mjs";
import { writeResultsSection } from "./results-md.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const WORK = join(OUT, "instream");
const RESULTS_MD = join(ROOT, "bench", "RESULTS.md");
const HEADING = "## INSTREAM vs clamd (issue 3)";

const envInt = (name, def) => {
  const v = process.env[name];
  if (v === undefined || v === "") return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
};
const MAILS = envInt("BENCH_MAILS", 200);
const CLIENTS = (process.env.BENCH_CLIENTS || "1,4").split(",").map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_CLIENTS: bad level "${x}"`);
  return n;
});
const CHUNK = envInt("BENCH_CHUNK", 64 * 1024);
const SERVERS = (process.env.BENCH_SERVERS || "clamd,bulwark").split(",");
/** Untimed mails sent before each measured pass (thread pools, JIT, first-touch pages). */
const WARMUP = Math.min(10, MAILS);
/** clamd loading 1.1 M sigs takes seconds; Bulwark's first load parses, compiles and caches the
 *  set (several seconds on 2 vCPUs). A server that needs more than this is broken. */
const START_TIMEOUT_MS = 300_000;
/** One 0.5 MB mail takes tens of ms in clamd; a minute means the server is stuck. */
const MAIL_TIMEOUT_MS = 60_000;
/** Time a server gets to exit after SIGTERM before SIGKILL. */
/** StreamMaxLength for both: above the largest mail, far below anything that could hurt. */
const STREAM_MAX = 4 * 1024 * 1024;
/** A pass during which other processes used more than this share of the machine's CPU (a
 *  shared VM, other jobs) is repeated, up to PASS_TRIES times; the table shows the load of the
 *  pass kept, so a number measured under contention is visible as such. */
const MAX_OTHER_LOAD_PCT = 10;
const PASS_TRIES = 3;
/** The targets of issue 3. */
const TARGET_RATIO = 10;
const TARGET_MEDIAN_MS = 5;

const log = (s) => process.stderr.write(`bench:instream: ${s}\n`);

// ------------------------------------------------------------------ inputs

/** The signature directory both servers load: hard links (copies across filesystems) of
 *  the generated sets, so it holds nothing else. Left alone when already right, so that
 *  Bulwark's compiled-database cache stays valid from one run to the next. */
function signatureDir(plantsHdb) {
  const dir = join(WORK, "db");
  const files = [...ensureSet(OUT, "lit100k"), ...ensureSet(OUT, "hdb1m"), ...(plantsHdb ? [plantsHdb] : [])];
  const { count } = linkedSignatureDir(dir, files);
  return { dir, count };
}

export function frames(mail) {
  const parts = [Buffer.from("zINSTREAM\0")];
  for (let i = 0; i < mail.length; i += CHUNK) {
    const c = mail.subarray(i, Math.min(mail.length, i + CHUNK));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(c.length);
    parts.push(len, c);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------ processes


/** One clamd-protocol request on 127.0.0.1:port (or a unix socket path); resolves with the
 *  reply up to the NUL and the time from connect to reply. */
export function request(port, payload, timeoutMs = MAIL_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const sock = typeof port === "string" ? net.connect(port) : net.connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    let got = "";
    let settled = false;
    const done = (err, reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve({ reply, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    };
    const timer = setTimeout(() => done(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    sock.on("connect", () => sock.write(payload));
    sock.on("data", (d) => {
      got += d.toString("latin1");
      const end = got.indexOf("\0");
      if (end >= 0) done(null, got.slice(0, end));
    });
    sock.on("error", (e) => done(e));
    sock.on("close", () => done(new Error(`closed without a reply (got ${JSON.stringify(got)})`)));
  });
}

async function waitForPong(port, child, what, logFile) {
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) during start-up; see ${logFile}`);
    const r = await request(port, Buffer.from("zPING\0"), 2_000).catch(() => null);
    if (r?.reply === "PONG") return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > START_TIMEOUT_MS) throw new Error(`${what} did not answer PING within ${START_TIMEOUT_MS / 1000} s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}




/** Peak RSS (VmHWM, MiB) of each process of the tree, and CPU seconds (user + system). */
function procStats(pid) {
  const tree = processTree(pid);
  const tick = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  let hwm = 0;
  let cpu = 0;
  const each = [];
  for (const p of tree) {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const c = (Number(f[11]) + Number(f[12])) / tick; // utime, stime
      hwm += kb / 1024;
      cpu += c;
      each.push({ pid: p, hwmMiB: kb / 1024, cpuS: c });
    } catch {
      /* the process ended */
    }
  }
  return { hwmMiB: hwm, cpuS: cpu, each };
}

async function startClamd(db) {
  const dir = join(WORK, "clamd");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, "clamd.conf");
  // MaxThreads: twice the cores, so 4 clients on 2 vCPUs are all served at once and the CPU,
  // not the thread pool, is the limit (clamd's default is 10; more threads only add switching).
  const threads = Math.max(2, 2 * os.cpus().length);
  writeFileSync(
    conf,
    [
      "Foreground yes",
      `TCPSocket ${port}`,
      "TCPAddr 127.0.0.1",
      `LocalSocket ${join(dir, "clamd.sock")}`,
      `DatabaseDirectory ${db}`,
      `PidFile ${join(dir, "clamd.pid")}`,
      `TemporaryDirectory ${dir}`,
      `LogFile ${join(dir, "clamd.log")}`,
      `MaxThreads ${threads}`,
      `StreamMaxLength ${STREAM_MAX}`,
      "ConcurrentDatabaseReload no",
      // clamd remembers the MD5 of every clean object and skips it next time; each measured pass
      // sends the same mails again (and mail attachments rarely repeat in real traffic), so
      // the cache would turn passes after the first into hash lookups. Bulwark has no such cache.
      "DisableCache yes",
      "SelfCheck 0",
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "stderr.log");
  const child = startProcess("clamd", [`--config-file=${conf}`], logFile);
  const load = await waitForPong(port, child, "clamd", logFile);
  return { name: "clamd", child, port, load, config: { maxThreads: threads } };
}

async function startBulwark(db, label) {
  const dir = join(WORK, "bulwark");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const cfg = join(dir, "bulwark.cfg");
  const cache = join(dir, "cache");
  writeFileSync(
    cfg,
    [
      "[global]",
      `cache_dir = "${cache}"`,
      `base_dir = "${db}"`,
      "workers = 0",
      "",
      "[clamd]",
      "agent_enabled = yes",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      'socket_path = ""',
      `stream_max_length = ${STREAM_MAX}`,
      "",
    ].join("\n"),
  );
  const logFile = join(dir, `daemon-${label}.log`);
  const child = startProcess(process.execPath, [join(ROOT, "bin", "bulwark"), "daemon", "--config", cfg, "--foreground"], logFile);
  const load = await waitForPong(port, child, "bulwark daemon", logFile);
  return { name: "bulwark", child, port, load, logFile, managerSocket: join(cache, "bulwark.sock"), cfg };
}

// ------------------------------------------------------------------ measuring

const normName = (reply) => {
  const m = /^stream: (.+) FOUND$/.exec(reply);
  if (m) return m[1].replace(/\.UNOFFICIAL$/, "");
  if (reply === "stream: OK") return null;
  return `ERROR(${reply})`;
};


/** Busy CPU seconds of the whole machine so far (all processes, from /proc/stat). */
function machineBusyS() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const tick = 100; // USER_HZ: /proc/stat is always in 1/100 s on Linux
  return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / tick; // minus idle and iowait
}

export async function pass(server, payloads, clients, target = server.port) {
  for (let i = 0; i < WARMUP; i++) await request(target, payloads[i]);
  const before = procStats(server.child.pid);
  const busy0 = machineBusyS();
  const c0 = process.cpuUsage();
  const lat = new Array(payloads.length);
  const names = new Array(payloads.length);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const i = next++;
        if (i >= payloads.length) return;
        const r = await request(target, payloads[i]);
        lat[i] = r.ms;
        names[i] = normName(r.reply);
      }
    }),
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0);
  const after = procStats(server.child.pid);
  const busy = machineBusyS() - busy0;
  const sorted = [...lat].sort((a, b) => a - b);
  return {
    clients,
    mails: payloads.length,
    wall,
    median: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    serverCpuS: after.cpuS - before.cpuS,
    // per process of the server's tree (Bulwark: the manager, then the [clamd] agent)
    cpuByProcess: after.each.map((e) => ({ pid: e.pid, cpuS: e.cpuS - (before.each.find((b) => b.pid === e.pid)?.cpuS ?? 0) })),
    clientCpuS: (cu.user + cu.system) / 1e6,
    // CPU used by everything else on the machine during the pass (other jobs on a shared VM),
    // as a share of all cores: a high value means the pass competed for the CPU
    foreignPct: Math.max(0, (100 * (busy - (after.cpuS - before.cpuS) - (cu.user + cu.system) / 1e6)) / (os.cpus().length * wall)),
    names,
  };
}

// ------------------------------------------------------------------ report

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : "n/a");
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
const pass_ = (ok) => (ok ? "PASS" : "**FAIL**");

function machine() {
  const cpus = os.cpus();
  const clamdVersion = spawnSync("clamd", ["--version"], { encoding: "utf8" }).stdout.trim();
  return { cores: cpus.length, cpu: cpus[0]?.model ?? "?", node: process.version, clamd: clamdVersion, kernel: os.release(), memGiB: os.totalmem() / 2 ** 30 };
}

function report(r) {
  const m = r.machine;
  const totalMB = r.corpus.bytes / 1e6;
  const lines = [
    HEADING,
    "",
    `Run of \`npm run bench:instream\` (bench/instream.mjs), ${r.date}. ${m.cores} vCPU (${m.cpu}), ${f0(m.memGiB)} GiB RAM, kernel ${m.kernel}; Node ${m.node}; ${m.clamd}.`,
    `Signatures: ${r.sigCount.toLocaleString("en-US")} (100k .ndb literals + 1M .hdb + ${r.plantHashes} planted .hdb), the same directory for both.`,
    `Corpus: ${r.corpus.count} MIME mails (text + HTML + base64 attachment), ${f1(totalMB)} MB, ${f0(r.corpus.min / 1e3)}–${f0(r.corpus.max / 1e3)} kB each (mean ${f0(r.corpus.bytes / r.corpus.count / 1e3)} kB); ${r.corpus.infected} infected (planted literal in the attachment, or a planted attachment hash).`,
    `Client: this Node process, one TCP connection per mail on 127.0.0.1, \`zINSTREAM\` with ${CHUNK / 1024} KiB chunks (prebuilt in memory); latency = connect → reply; ${WARMUP} untimed warm-up mails per pass. Servers run one at a time. "other load": CPU used by other processes of the (shared) machine during the pass, as a share of all cores; a pass above ${MAX_OTHER_LOAD_PCT}% is repeated (up to ${PASS_TRIES} tries, the least disturbed kept).`,
    `clamd: MaxThreads ${r.servers.clamd?.config.maxThreads ?? "–"}, StreamMaxLength ${STREAM_MAX / 1048576}M, DisableCache yes (see the script), otherwise defaults (ScanMail on). Bulwark: \`bulwark daemon --foreground\`, workers = 0 (one per core), [clamd] agent on TCP.`,
    "",
    "| server | clients | mails/s | MB/s | median ms | p99 ms | server CPU ms/mail | client CPU ms/mail | other load % | wall s | detections |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const p of r.passes) {
    const split = p.cpuByProcess.length > 1 ? ` (${p.cpuByProcess.map((x) => f1((x.cpuS * 1000) / p.mails)).join(" + ")})` : "";
    lines.push(`| ${p.server} | ${p.clients} | ${f1(p.mails / p.wall)} | ${f1(totalMB / p.wall)} | ${f1(p.median)} | ${f1(p.p99)} | ${f1((p.serverCpuS * 1000) / p.mails)}${split} | ${f1((p.clientCpuS * 1000) / p.mails)} | ${f0(p.foreignPct)} | ${f2(p.wall)} | ${p.detected} of ${p.mails} |`);
  }
  lines.push("");
  lines.push("| server | load s (start → PONG) | peak RSS MiB when ready | peak RSS MiB after the passes (VmHWM, all processes) |", "|---|---:|---:|---:|");
  for (const s of Object.values(r.servers)) {
    const loads = s.loads.map((l) => `${f2(l.s)}${l.note ? ` (${l.note})` : ""}`).join(", ");
    lines.push(`| ${s.name} | ${loads} | ${f0(s.readyHwmMiB)} | ${f0(s.hwmMiB)}${s.each.length > 1 ? ` (${s.each.map((e) => f0(e.hwmMiB)).join(" + ")})` : ""} |`);
  }
  lines.push("");
  if (r.valid === false) lines.push(`**INVALID RUN: detections differ** (${r.mismatch}). The numbers below compare nothing.`, "");
  else if (r.valid === true) lines.push(`Detections: equal mail by mail for every pass (${r.corpus.infected} infected, names as planted).`, "");
  if (r.ratios.length) {
    lines.push("| clients | Bulwark/clamd mails/s | target ≥ 10× | Bulwark median ms | target ≤ 5 ms (0.5 MB mails) |", "|---:|---:|---|---:|---|");
    for (const x of r.ratios) lines.push(`| ${x.clients} | ${f1(x.ratio)}× | ${pass_(x.ratio >= TARGET_RATIO)} | ${f1(x.median)} | ${pass_(x.median <= TARGET_MEDIAN_MS)} |`);
    lines.push("");
  }
  if (r.notes?.length) lines.push(...r.notes, "");
  return lines.join("\n");
}


// ------------------------------------------------------------------ main

async function main() {
  mkdirSync(WORK, { recursive: true });
  log(`corpus: ${MAILS} mails`);
  const corpus = ensureMailCorpus(OUT, MAILS);
  log("signatures: 100k .ndb + 1M .hdb");
  const sigs = signatureDir(corpus.hdb);
  const mails = corpus.mails.map((m) => readFileSync(m.path));
  const payloads = mails.map(frames);
  const expected = corpus.mails.map((m) => m.expected);
  const sizes = mails.map((b) => b.length);
  const r = {
    date: new Date().toISOString(),
    machine: machine(),
    sigCount: sigs.count,
    plantHashes: corpus.hdb ? readFileSync(corpus.hdb, "utf8").split("\n").filter(Boolean).length : 0,
    corpus: { count: mails.length, bytes: sizes.reduce((a, b) => a + b, 0), min: Math.min(...sizes), max: Math.max(...sizes), infected: expected.filter(Boolean).length },
    servers: {},
    passes: [],
    ratios: [],
    valid: null,
    notes: [],
  };
  const mismatches = [];
  const check = (server, p) => {
    p.detected = p.names.filter(Boolean).length;
    const bad = p.names.map((n, i) => [i, n]).filter(([i, n]) => n !== expected[i]);
    if (bad.length) mismatches.push(`${server}, ${p.clients} clients: ${bad.slice(0, 4).map(([i, n]) => `mail ${i}: ${n ?? "OK"} (planted ${expected[i] ?? "none"})`).join("; ")}${bad.length > 4 ? `; … ${bad.length} mails` : ""}`);
  };

  for (const name of SERVERS) {
    let srv;
    const loads = [];
    if (name === "clamd") {
      log("clamd: starting");
      srv = await startClamd(sigs.dir);
      loads.push({ s: srv.load });
    } else if (name === "bulwark") {
      log("bulwark: starting");
      // The first start compiles and caches the set when it changed (or was never cached); the
      // restart is the everyday start, and the process measured (RSS without the compile peak).
      srv = await startBulwark(sigs.dir, "first");
      loads.push({ s: srv.load, note: "first start: compiles the set unless cached" });
      await stopProcess(srv.child);
      srv = await startBulwark(sigs.dir, "restart");
      loads.push({ s: srv.load, note: "restart, cached" });
    } else throw new Error(`BENCH_SERVERS: unknown server "${name}"`);
    log(`${name}: ready in ${srv.load.toFixed(2)} s (port ${srv.port})`);
    const idle = procStats(srv.child.pid);
    try {
      for (const n of CLIENTS) {
        log(`${name}: ${mails.length} mails, ${n} client(s)`);
        let p = await pass(srv, payloads, n);
        for (let t = 1; t < PASS_TRIES && p.foreignPct > MAX_OTHER_LOAD_PCT; t++) {
          log(`${name} ×${n}: other processes used ${p.foreignPct.toFixed(0)}% of the CPU; repeating the pass`);
          await new Promise((r) => setTimeout(r, 5_000));
          const again = await pass(srv, payloads, n);
          if (again.foreignPct < p.foreignPct) p = again;
        }
        p.server = name;
        check(name, p);
        r.passes.push(p);
        log(`${name} ×${n}: ${(p.mails / p.wall).toFixed(1)} mails/s, median ${p.median.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms`);
      }
      const st = procStats(srv.child.pid);
      r.servers[name] = { name, loads, hwmMiB: st.hwmMiB, each: st.each, readyHwmMiB: idle.hwmMiB, config: srv.config ?? {} };
    } finally {
      await stopProcess(srv.child);
    }
  }

  if (SERVERS.includes("clamd") && SERVERS.includes("bulwark")) {
    r.valid = mismatches.length === 0;
    r.mismatch = mismatches.join(" | ");
    for (const n of CLIENTS) {
      const c = r.passes.find((p) => p.server === "clamd" && p.clients === n);
      const b = r.passes.find((p) => p.server === "bulwark" && p.clients === n);
      r.ratios.push({ clients: n, ratio: c.wall / b.wall, median: b.median });
    }
  } else if (mismatches.length) {
    r.valid = false;
    r.mismatch = mismatches.join(" | ");
  }
  for (const p of r.passes) delete p.names;
  const section = report(r);
  process.stdout.write(section + "\n");
  writeFileSync(join(WORK, "results.json"), JSON.stringify(r, null, 2));
  writeFileSync(join(WORK, "results.md"), section + "\n");
  if (process.env.BENCH_NO_RESULTS !== "1" && r.valid !== null) writeResultsSection(RESULTS_MD, HEADING, section);
  if (r.valid === false) {
    process.stdout.write(`\n!!!!!!!! INVALID: detections differ: ${r.mismatch}\n`);
    process.exitCode = 1;
  }
}

export { startBulwark, startClamd, stopProcess, signatureDir, procStats, normName };

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    log(`failed: ${e.stack ?? e}`);
    process.exitCode = 1;
  });
}
