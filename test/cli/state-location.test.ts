/**
 * `bulwark stats` and `bulwark quar` find the daemon's state through the configuration, as the
 * daemon does (host/cli/state-location.ts), through the real built CLI (./bin/bulwark -> dist/):
 * --config's cache_dir, $BULWARK_STATS / $BULWARK_QUARANTINE_DIR, $BULWARK_CONFIG, the
 * ./.bulwark/bulwark.cfg of a non-root user's working directory, and the errors and the note
 * when no configuration can be used.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { locateState } from "../../host/cli/state-location.js";
import { openQuarantine } from "../../host/quarantine/store.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { openStatistics } from "../../host/stats/persist.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "bulwark");
const dir = fs.mkdtempSync(join(tmpdir(), "bulwark-state-loc-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const INFECTED: Verdict = {
  status: "infected", infected: true, names: ["Win.Test.A"],
  detections: [{ name: "Win.Test.A", path: "mail/a.exe", kind: "signature" }], notScanned: [], objects: 2, bytesScanned: 100,
};

/** The environment without the variables under test (the developer's shell may export them). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const k of ["BULWARK_CONFIG", "BULWARK_STATS", "BULWARK_QUARANTINE_DIR"]) if (!(k in extra)) delete env[k];
  return env;
}

/** The default configuration of a non-root user is ./.bulwark/bulwark.cfg; root's is /etc, which a
 *  test must not touch. So when the tests run as root, those runs are made as nobody. */
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
function handOver(path: string): void {
  if (!IS_ROOT) return;
  fs.chownSync(path, NOBODY, NOBODY);
  if (fs.statSync(path).isDirectory()) for (const e of fs.readdirSync(path)) handOver(join(path, e));
}

function bulwark(args: string[], opts: { env?: Record<string, string>; cwd?: string; nonRoot?: boolean } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? dir, env: cleanEnv(opts.env), encoding: "utf8", timeout: 30_000,
    ...(opts.nonRoot && IS_ROOT ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A configuration in `site` with cache_dir `cacheDir` (relative: next to the file), and a
 *  daemon-shaped state there: smtp statistics and one quarantined message. */
async function site(name: string, smtpScans: number, cfgName = "bulwark.cfg"): Promise<{ cfg: string; cache: string; id: string }> {
  const siteDir = join(dir, name);
  const cfg = join(siteDir, cfgName);
  fs.mkdirSync(join(cfg, ".."), { recursive: true });
  fs.writeFileSync(cfg, `[global]\ncache_dir = "state-${name}"\n`);
  const cache = join(cfg, "..", `state-${name}`);
  fs.mkdirSync(cache); // the daemon makes cache_dir at start
  const stats = openStatistics(join(cache, "stats.json"));
  for (let i = 0; i < smtpScans; i++) stats.recordScan("smtp", INFECTED, false);
  await stats.close();
  const q = await openQuarantine(join(cache, "quarantine"));
  const { id } = await q.put(Buffer.from(`From: a@${name}.example\r\n\r\nbody\r\n`), { names: ["Win.Test.A"], status: "infected", agent: "smtp" });
  await q.close();
  return { cfg, cache, id };
}

const statsOf = (r: { stdout: string }) => JSON.parse(r.stdout) as { file: string; agents: Record<string, { scanned: number }> };
const idsOf = (r: { stdout: string }) => (JSON.parse(r.stdout) as Array<{ id: string }>).map((e) => e.id);

let a: Awaited<ReturnType<typeof site>>;
let b: Awaited<ReturnType<typeof site>>;
beforeAll(async () => {
  if (!fs.existsSync(join(ROOT, "dist", "host", "cli", "state-location.js"))) {
    throw new Error("dist/host/cli/state-location.js is missing: run `npx tsc -p .` first");
  }
  a = await site("a", 1);
  b = await site("b", 2);
});

describe("bulwark stats and quar find the daemon's state through the configuration", () => {
  it("--config FILE: stats.json and quarantine/ in its cache_dir (relative to the file)", () => {
    const s = bulwark(["stats", "--config", a.cfg, "--json"]);
    expect(s).toMatchObject({ code: 0, stderr: "" });
    expect(statsOf(s).file).toBe(join(a.cache, "stats.json"));
    expect(statsOf(s).agents.smtp.scanned).toBe(2);
    const q = bulwark(["quar", "list", "--config", b.cfg, "--json"]);
    expect(q).toMatchObject({ code: 0, stderr: "" });
    expect(idsOf(q)).toEqual([b.id]);
  });

  it("$BULWARK_CONFIG stands in for --config; the state variables beat it, --config beats them", () => {
    expect(statsOf(bulwark(["stats", "--json"], { env: { BULWARK_CONFIG: b.cfg } })).agents.smtp.scanned).toBe(4);
    expect(idsOf(bulwark(["quar", "list", "--json"], { env: { BULWARK_CONFIG: b.cfg } }))).toEqual([b.id]);

    const vars = { BULWARK_CONFIG: b.cfg, BULWARK_STATS: join(a.cache, "stats.json"), BULWARK_QUARANTINE_DIR: join(a.cache, "quarantine") };
    expect(statsOf(bulwark(["stats", "--json"], { env: vars })).agents.smtp.scanned).toBe(2);
    expect(idsOf(bulwark(["quar", "list", "--json"], { env: vars }))).toEqual([a.id]);

    expect(statsOf(bulwark(["stats", "--json", "--config", b.cfg], { env: vars })).agents.smtp.scanned).toBe(4);
    expect(idsOf(bulwark(["quar", "list", "--json", "--config", b.cfg], { env: vars }))).toEqual([b.id]);
  });

  it("finds ./.bulwark/bulwark.cfg in the working directory of a non-root user, as `bulwark daemon` does", async () => {
    const checkout = join(dir, "checkout");
    const local = await site("checkout", 3, join(".bulwark", "bulwark.cfg"));
    fs.chmodSync(dir, 0o755);
    handOver(checkout);
    const s = bulwark(["stats", "--json"], { cwd: checkout, nonRoot: true });
    expect(s).toMatchObject({ code: 0, stderr: "" });
    expect(statsOf(s).file).toBe(join(checkout, ".bulwark", "state-checkout", "stats.json"));
    expect(statsOf(s).agents.smtp.scanned).toBe(6);
    const q = bulwark(["quar", "list", "--json"], { cwd: checkout, nonRoot: true });
    expect(q).toMatchObject({ code: 0, stderr: "" });
    expect(idsOf(q)).toEqual([local.id]);
  });

  it("an unreadable --config, or --config with --file/--dir, is an error (exit 2)", () => {
    const missing = join(dir, "nope.cfg");
    for (const args of [["stats", "--config", missing], ["quar", "list", "--config", missing]]) {
      const r = bulwark(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`ERROR: ${missing}:0: cannot read the configuration`);
    }
    const both = bulwark(["stats", "--config", a.cfg, "--file", join(a.cache, "stats.json")]);
    expect(both).toMatchObject({ code: 2, stdout: "" });
    expect(both.stderr).toMatch(/give --file or --config, not both/);
    expect(bulwark(["quar", "list", "--config", a.cfg, "--dir", join(a.cache, "quarantine")]).stderr).toMatch(/give --dir or --config, not both/);
  });
});

describe("locateState without a usable configuration", () => {
  const req = (env: Record<string, string>, fallback: string) =>
    locateState({ explicit: undefined, explicitFlag: "--file", configOption: undefined, envName: "BULWARK_STATS", leaf: "stats.json", fallback, env });

  it("falls back to the system default, with a note only when that does not exist either", () => {
    const fallback = join(dir, "fallback-stats.json");
    const missing = join(dir, "missing.cfg");
    const noted = req({ BULWARK_CONFIG: missing }, fallback);
    expect(noted.path).toBe(fallback);
    expect(noted.note).toContain(`${missing}:0: cannot read the configuration`);
    expect(noted.note).toContain(`using ${fallback}`);
    expect(noted.note).toContain("$BULWARK_STATS");
    fs.writeFileSync(fallback, "{}");
    expect(req({ BULWARK_CONFIG: missing }, fallback)).toEqual({ path: fallback });
  });

  it("a broken cache_dir line is a fallback too (with its line in the note); other errors are not", () => {
    const cfg = join(dir, "broken.cfg");
    fs.writeFileSync(cfg, '[global]\ncache_dir = "unterminated\n');
    const r = req({ BULWARK_CONFIG: cfg }, join(dir, "absent.json"));
    expect(r.path).toBe(join(dir, "absent.json"));
    expect(r.note).toContain(`${cfg}:2: `);
    fs.writeFileSync(cfg, '[global]\ncache_dir = "kept"\nworkers = many\n');
    expect(req({ BULWARK_CONFIG: cfg }, join(dir, "absent.json"))).toEqual({ path: join(dir, "kept", "stats.json") });
  });
});
