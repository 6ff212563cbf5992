// Where Bulwark's INSTREAM time goes: a diagnostic companion of bench/instream.mjs (same
// corpus and signature set; run that first). Not part of RESULTS.md's table; prints:
//  A. the scanner alone, in this process (createScanner from dist/, the daemon's options):
//     the cost of MIME decoding + hashing + matching without any socket;
//  B. the daemon: INSTREAM straight to the manager's own socket (daemon_socket_path, no agent
//     hop) vs through the [clamd] agent on TCP, CPU split per process;
//  C. with BENCH_PROFILE=1, V8 CPU profiles (--cpu-prof) of the daemon's processes during a
//     4-client pass, summarised as the top functions by self time.
// Usage: node bench/instream-profile.mjs   (BENCH_MAILS as for instream.mjs)
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureMailCorpus } from "./gen-mails.mjs";
import { frames, pass, procStats, request, signatureDir, startBulwark, stopProcess } from "./instream.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const WORK = join(OUT, "instream");
const MAILS = Number(process.env.BENCH_MAILS || 200);
const { createScanner } = await import(join(ROOT, "dist", "host", "index.js"));

const corpus = ensureMailCorpus(OUT, MAILS);
const sigs = signatureDir(corpus.hdb);
const mails = corpus.mails.map((m) => readFileSync(m.path));
const payloads = mails.map(frames);
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f1 = (x) => x.toFixed(1);

// ---------------------------------------------------------------- A. scanner alone
async function scannerAlone(label, opts, inFlight) {
  const scanner = await createScanner({ cacheDir: join(WORK, "bulwark", "cache", "db-cache"), builtin: true, ...opts });
  for (let i = 0; i < 10; i++) await scanner.scan(mails[i], { name: "stream" });
  const lat = [];
  let found = 0;
  let next = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (;;) {
        const i = next++;
        if (i >= mails.length) return;
        const s = performance.now();
        const v = await scanner.scan(mails[i], { name: "stream" });
        lat.push(performance.now() - s);
        if (v.status !== "clean") found++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  await scanner.close();
  console.log(
    `A ${label.padEnd(44)} in flight ${inFlight}: ${f1(mails.length / wall)} mails/s, median ${f1(med(lat))} ms, process CPU ${f1((cu.user + cu.system) / 1000 / mails.length)} ms/mail, not clean ${found} (24 infected planted per 200)`,
  );
}

const SKIP_AB = process.env.BENCH_PROFILE_ONLY === "1";
if (!SKIP_AB) await scannerAlone("1.1M sigs, workers 0 (main thread)", { databases: [sigs.dir], workers: 0 }, 1);
if (!SKIP_AB) await scannerAlone("1.1M sigs, workers 1", { databases: [sigs.dir], workers: 1 }, 1);
if (!SKIP_AB) await scannerAlone("1.1M sigs, workers 2", { databases: [sigs.dir], workers: 2 }, 1);
if (!SKIP_AB) await scannerAlone("1.1M sigs, workers 2", { databases: [sigs.dir], workers: 2 }, 4);
if (!SKIP_AB) await scannerAlone("built-in EICAR only, workers 0", { databases: [], workers: 0 }, 1);

// ---------------------------------------------------------------- B. daemon, with and without the agent hop
async function daemonPasses(label) {
  const srv = await startBulwark(sigs.dir, label);
  try {
    for (const [where, target] of [
      ["manager socket (no agent)", srv.managerSocket],
      ["[clamd] agent, TCP", srv.port],
    ]) {
      for (const n of [1, 4]) {
        const p = await pass(srv, payloads, n, target);
        const split = p.cpuByProcess.map((x) => f1((x.cpuS * 1000) / p.mails)).join(" + ");
        console.log(
          `B ${where.padEnd(27)} clients ${n}: ${f1(p.mails / p.wall)} mails/s, median ${f1(p.median)} ms, p99 ${f1(p.p99)} ms, server CPU ${f1((p.serverCpuS * 1000) / p.mails)} ms/mail (manager + agent: ${split}), client CPU ${f1((p.clientCpuS * 1000) / p.mails)} ms/mail`,
        );
      }
    }
    console.log(`B RSS ${procStats(srv.child.pid).each.map((e) => `${e.pid}: ${Math.round(e.hwmMiB)} MiB`).join(", ")}`);
  } finally {
    await stopProcess(srv.child);
  }
}
if (!SKIP_AB) await daemonPasses("profile");

// ---------------------------------------------------------------- C. CPU profiles
/** Top functions by self time among the samples taken in [fromUs, toUs] (CLOCK_MONOTONIC µs,
 *  the clock of both V8's profiler and process.hrtime), i.e. during the passes only. */
function summarise(file, fromUs, toUs, top = 18) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  let at = prof.startTime;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    at += dt;
    if (at < fromUs || at > toUs) return;
    const n = byId.get(id);
    const cf = n.callFrame;
    const key = `${cf.functionName || "(anonymous)"} ${cf.url.replace(/^.*\/(dist|node_modules)\//, "$1/").replace(/^node:/, "node:")}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`C ${file.split("/").pop()}: ${f1(total / 1000)} ms sampled during the passes`);
  for (const [k, us] of rows) console.log(`    ${f1((100 * us) / total).padStart(5)}%  ${k}`);
}

if (process.env.BENCH_PROFILE === "1") {
  // --cpu-prof is refused in NODE_OPTIONS and the supervisor starts the agent with plain
  // `node`, so run the two halves by hand: the manager, and a second [clamd] agent entry (dist/agents/clamd/main.js) with an IPC channel, as the supervisor would, on
  // the same cache_dir (hence the same daemon socket).
  const dir = join(WORK, "prof");
  const window = { from: 0, to: Infinity };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "manager"), { recursive: true });
  mkdirSync(join(dir, "agent"), { recursive: true });
  const cache = join(dir, "cache");
  mkdirSync(cache, { recursive: true });
  const port = await freePort();
  const global = `[global]\ncache_dir = "${cache}"\nbase_dir = "${sigs.dir}"\nworkers = 0\n`;
  // the manager answers zBWSCAN for [clamd] only while that agent is enabled, so its own
  // supervised agent runs too, on another port (idle); the profiled one is started below
  const idlePort = await freePort();
  writeFileSync(join(dir, "manager.cfg"), `${global}\n[clamd]\nagent_enabled = yes\nlisten_addr = 127.0.0.1\nlisten_port = ${idlePort}\nsocket_path = ""\n`);
  writeFileSync(join(dir, "agent.cfg"), `${global}\n[clamd]\nagent_enabled = yes\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nsocket_path = ""\nstream_max_length = 4M\n`);
  const spawnLogged = (args, name, extra = {}) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe", ...(extra.ipc ? ["ipc"] : [])] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.exited = new Promise((r) => child.on("exit", r));
    child.errText = () => err;
    return child;
  };
  const until = async (target, child) => {
    for (let t = 0; t < 600; t++) {
      if (child.exitCode !== null) throw new Error(`exited: ${child.errText()}`);
      const r = await request(target, Buffer.from("zPING\0"), 1000).catch(() => null);
      if (r?.reply === "PONG") return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no PONG: ${child.errText()}`);
  };
  // an unprofiled first start compiles the set into this cache_dir, so the profile shows scanning only
  const warm = spawnLogged([join(ROOT, "bin", "bulwark"), "daemon", "--config", join(dir, "manager.cfg"), "--foreground"], "warm-up");
  await until(join(cache, "bulwark.sock"), warm);
  warm.kill("SIGTERM");
  await warm.exited;
  const manager = spawnLogged([`--cpu-prof`, `--cpu-prof-dir=${join(dir, "manager")}`, join(ROOT, "bin", "bulwark"), "daemon", "--config", join(dir, "manager.cfg"), "--foreground"], "manager");
  await until(join(cache, "bulwark.sock"), manager);
  const agent = spawnLogged([`--cpu-prof`, `--cpu-prof-dir=${join(dir, "agent")}`, join(ROOT, "dist", "agents", "clamd", "main.js"), "--config", join(dir, "agent.cfg")], "agent", { ipc: true });
  try {
    await until(port, agent);
    const srv = { child: manager, port };
    window.from = Number(process.hrtime.bigint() / 1000n);
    for (const n of [1, 4]) {
      const p = await pass(srv, payloads, n, port);
      const wrong = p.names.filter((x, i) => x !== corpus.mails[i].expected).length;
      if (wrong) throw new Error(`profiled run: ${wrong} wrong replies, e.g. ${p.names.find((x, i) => x !== corpus.mails[i].expected)}`);
      console.log(`C profiled run, clients ${n}: ${f1(p.mails / p.wall)} mails/s, median ${f1(p.median)} ms (profilers on: slower), detections as planted`);
    }
    window.to = Number(process.hrtime.bigint() / 1000n);
  } finally {
    agent.kill("SIGTERM");
    await agent.exited;
    manager.kill("SIGTERM");
    await manager.exited;
  }
  for (const who of ["manager", "agent"]) for (const f of readdirSync(join(dir, who)).filter((f) => f.endsWith(".cpuprofile"))) {
    console.log(`C --- ${who}`);
    summarise(join(dir, who, f), window.from, window.to);
  }
}
