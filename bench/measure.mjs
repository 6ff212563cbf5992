// Runs one scanner command under /usr/bin/time and returns wall time, user CPU, peak RSS
// and the detections it printed (`path: NAME FOUND`), so clamscan and bulwark are
// measured and compared the same way.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TIME = "/usr/bin/time";

/** Install GNU time (the `time` package) if missing: the shell keyword has no %M (RSS). */
export function ensureGnuTime() {
  if (existsSync(TIME)) return;
  process.stderr.write("bench: /usr/bin/time missing, installing the 'time' package with apt-get\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "time"]]) {
    const r = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed; install GNU time (package 'time') and rerun`);
  }
}

/** Output of a scanner run: one FOUND line per (file, signature). */
export function parseFound(stdout) {
  const names = new Map(); // signature name (".UNOFFICIAL" stripped) → count
  // Not-scanned verdicts (limits, encryption, engine failures): a run with any of these did
  // not scan everything and is not comparable; they are never counted as signatures.
  const heuristics = [];
  for (const line of stdout.split("\n")) {
    const m = /^(.*): (\S+) FOUND$/.exec(line);
    if (!m) continue;
    const name = m[2].replace(/\.UNOFFICIAL$/, "");
    if (name.startsWith("Heuristics.") || name.startsWith("Bulwark.Error.")) heuristics.push(name);
    else names.set(name, (names.get(name) ?? 0) + 1);
  }
  // `total` counts distinct signatures: clamscan --allmatch sometimes reports one signature
  // twice for one file (seen on large random inputs: the file is scanned raw and again
  // as its detected type), so lines are not comparable between tools; names are.
  return { names, total: names.size, lines: [...names.values()].reduce((a, b) => a + b, 0), heuristics };
}

/** Time one command: wall (hrtime, s), user CPU (s), peak RSS (MiB), exit code, output. */
export function timed(cmd, args, { env, timeoutMs = 30 * 60_000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bench-time-"));
  const out = join(dir, "time.txt");
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TIME, ["-o", out, "-f", "%e %U %M", cmd, ...args], {
      env: env ?? process.env,
      encoding: "utf8",
      maxBuffer: 512 * 1024 * 1024,
      timeout: timeoutMs,
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.error) throw r.error;
    // GNU time prefixes "Command exited with non-zero status N" when the exit code is not 0.
    const last = existsSync(out) ? readFileSync(out, "utf8").trim().split("\n").pop() : "";
    const [, user, rssKb] = last.split(/\s+/).map(Number);
    return { wall, user, rssMiB: rssKb / 1024, code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Best (lowest wall) of n runs; the VM is noisy, the minimum is the most repeatable. */
export function bestOf(n, run) {
  let best = null;
  for (let i = 0; i < n; i++) {
    const r = run();
    if (!best || r.wall < best.wall) best = r;
  }
  return best;
}

/** Compare the distinct signatures two runs found; returns null when equal, else a short
 *  description. A run that reported a Heuristics.* verdict hit a limit and is flagged. */
export function diffFound(a, b) {
  const onlyA = [...a.names.keys()].filter((k) => !b.names.has(k));
  const onlyB = [...b.names.keys()].filter((k) => !a.names.has(k));
  const limits = [...a.heuristics.map((h) => `clamscan ${h}`), ...b.heuristics.map((h) => `bulwark ${h}`)];
  if (onlyA.length + onlyB.length + limits.length === 0) return null;
  const show = (xs) => xs.slice(0, 5).join(", ") + (xs.length > 5 ? `, … (${xs.length})` : "");
  return [
    onlyA.length ? `only clamscan: ${show(onlyA)}` : "",
    onlyB.length ? `only bulwark: ${show(onlyB)}` : "",
    limits.length ? `limits hit: ${show(limits)}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}
