/**
 * `bulwark stats` through the real built CLI (./bin/bulwark -> dist/, built by `npm run build`,
 * which `npm test` runs first): the table and --json over a state file written by the library,
 * one agent, resets (all, one, the three ways of naming the agent), a missing file, a corrupt
 * file left untouched, unknown agents and usage errors (exit 2), $BULWARK_STATS.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Verdict } from "../../host/scan/verdict.js";
import { COUNTER_NAMES, STATS_AGENTS } from "../../host/stats/counters.js";
import { openStatistics } from "../../host/stats/persist.js";
import { readStateFile } from "../../host/stats/state-file.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "bulwark");
const dir = mkdtempSync(join(tmpdir(), "bulwark-stats-cli-"));
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function bulwark(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, "stats", ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const MAIL_2_ATTACHMENTS_1_INFECTED: Verdict = {
  status: "infected", infected: true, names: ["Win.Test.A"],
  detections: [{ name: "Win.Test.A", path: "mail/invoice.exe", kind: "signature" }],
  notScanned: [], objects: 3, bytesScanned: 1000,
};
const CLEAN: Verdict = { status: "clean", infected: false, names: [], detections: [], notScanned: [], objects: 1, bytesScanned: 10 };

/** A state file: smtp scanned 3 infected 1 rejected 1; clamd scanned 2 accepted 2. */
async function sample(name: string): Promise<string> {
  const file = join(dir, name);
  const s = openStatistics(file, { now: () => T0 });
  s.recordScan("smtp", MAIL_2_ATTACHMENTS_1_INFECTED, false);
  s.recordDecision("smtp", "reject");
  for (let i = 0; i < 2; i++) {
    s.recordScan("clamd", CLEAN, false);
    s.recordDecision("clamd", "accept");
  }
  await s.close();
  return file;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "host", "cli", "stats-command.js"))) {
    throw new Error("dist/host/cli/stats-command.js is missing: run `npm run build` first (npm test does)");
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bulwark stats", () => {
  it("prints a table: one row per agent with the 8 counters, then the total", async () => {
    const file = await sample("table.json");
    const r = bulwark(["--file", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0].split(/\s{2,}/)).toEqual([
      "Agent", "Scanned", "Cleaned", "Infected", "Not scanned", "Accepted", "Deferred", "Discarded", "Rejected", "Since",
    ]);
    expect(lines).toHaveLength(1 + STATS_AGENTS.length + 1);
    const row = (agent: string) => lines.find((l) => l.startsWith(`${agent} `))!.trim().split(/\s+/);
    expect(row("smtp")).toEqual(["smtp", "3", "0", "1", "0", "0", "0", "0", "1", "2026-11-25", "12:00:00", "UTC"]);
    expect(row("clamd").slice(0, 9)).toEqual(["clamd", "2", "0", "0", "0", "2", "0", "0", "0"]);
    expect(row("imap").slice(0, 9)).toEqual(["imap", "0", "0", "0", "0", "0", "0", "0", "0"]);
    expect(lines.at(-1)!.trim().split(/\s+/)).toEqual(["total", "5", "0", "1", "0", "2", "0", "0", "1"]);
    // numbers are right-aligned under their titles
    const col = lines[0].indexOf("Scanned") + "Scanned".length - 1;
    expect(lines.find((l) => l.startsWith("smtp "))![col]).toBe("3");
    expect(lines.at(-1)![col]).toBe("5");
  });

  it("--json: every agent, the total, and --agent to select one", async () => {
    const file = await sample("json.json");
    const all = bulwark(["--file", file, "--json"]);
    expect(all.code).toBe(0);
    const doc = JSON.parse(all.stdout);
    expect(doc.file).toBe(file);
    expect(Object.keys(doc.agents)).toEqual([...STATS_AGENTS]);
    expect(doc.agents.smtp).toEqual({
      since: new Date(T0).toISOString(), scanned: 3, cleaned: 0, infected: 1, notScanned: 0, accepted: 0, deferred: 0, discarded: 0, rejected: 1,
    });
    expect(doc.total).toEqual({ scanned: 5, cleaned: 0, infected: 1, notScanned: 0, accepted: 2, deferred: 0, discarded: 0, rejected: 1 });

    for (const args of [["--agent", "clamd"], ["clamd"]]) {
      const one = bulwark(["--file", file, "--json", ...args]);
      expect(one.code).toBe(0);
      const d = JSON.parse(one.stdout);
      expect(Object.keys(d.agents)).toEqual(["clamd"]);
      expect(d.total).toEqual({ scanned: 2, cleaned: 0, infected: 0, notScanned: 0, accepted: 2, deferred: 0, discarded: 0, rejected: 0 });
    }
    const table = bulwark(["--file", file, "--agent", "smtp"]);
    expect(table.stdout.trimEnd().split("\n").map((l) => l.split(/\s+/)[0])).toEqual(["Agent", "smtp"]);
  });

  it("--reset zeroes one agent (three spellings) or every agent", async () => {
    for (const args of [["--reset", "smtp"], ["--reset=smtp"], ["--reset", "--agent", "smtp"]]) {
      const file = await sample(`reset-${args.join("")}.json`);
      const r = bulwark(["--file", file, ...args]);
      expect(r.stderr, args.join(" ")).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`reset the statistics of smtp in ${file}\n`);
      const st = readStateFile(file)!;
      expect(st.smtp?.scanned).toBe(0);
      expect(st.smtp?.rejected).toBe(0);
      expect(Date.parse(st.smtp!.since)).toBeGreaterThan(T0);
      expect(st.clamd?.accepted).toBe(2);
    }
    const file = await sample("reset-all.json");
    const r = bulwark(["--file", file, "--reset"]);
    expect(r.code).toBe(0);
    const st = readStateFile(file)!;
    for (const a of STATS_AGENTS) for (const k of COUNTER_NAMES) expect(st[a]?.[k]).toBe(0);
  });

  it("a missing file shows zeros with a note; $BULWARK_STATS names the file", async () => {
    const r = bulwark(["--json"], { BULWARK_STATS: join(dir, "none.json") });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no statistics in .*none\.json yet/);
    expect(JSON.parse(r.stdout).total.scanned).toBe(0);
    expect(existsSync(join(dir, "none.json"))).toBe(false); // showing writes nothing

    const file = await sample("env.json");
    const e = bulwark(["--json"], { BULWARK_STATS: file });
    expect(JSON.parse(e.stdout).total.scanned).toBe(5);
  });

  it("a corrupt file: showing fails (exit 2) and leaves it; --reset keeps it aside and writes zeros", () => {
    const file = join(dir, "corrupt.json");
    writeFileSync(file, '{"format":"bulwark-stats","version":1,"agents":{"smtp":{"since":');
    const r = bulwark(["--file", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ERROR: .*corrupt\.json is corrupt: not JSON/);
    expect(r.stdout).toBe("");
    expect(readFileSync(file, "utf8")).toMatch(/"since":$/);

    const z = bulwark(["--file", file, "--reset"]);
    expect(z.code).toBe(0);
    expect(z.stderr).toMatch(/WARNING: .*corrupt\.json is corrupt .*kept as .*corrupt\.json\.corrupt-/);
    expect(readdirSync(dir).filter((n) => n.startsWith("corrupt.json.corrupt-"))).toHaveLength(1);
    expect(readStateFile(file)?.smtp?.scanned).toBe(0);
  });

  it("unknown agents and contradictory arguments exit 2", async () => {
    const file = await sample("errors.json");
    const before = readFileSync(file, "utf8");
    const cases: Array<[string[], RegExp]> = [
      [["--agent", "smtpd"], /unknown agent "smtpd" \(known: smtp, pop3/],
      [["global"], /unknown agent "global"/],
      [["--reset", "nope"], /unknown agent "nope"/],
      [["--reset=smtp", "--agent", "pop3"], /two different agents/],
      [["--reset", "--json"], /--json applies to showing/],
      [["--bogus"], /Unsupported option name/],
    ];
    for (const [args, msg] of cases) {
      const r = bulwark(["--file", file, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(msg);
    }
    expect(readFileSync(file, "utf8")).toBe(before);
    const w = bulwark(["--file", join(dir, "no-such-dir", "s.json"), "--reset"]);
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/ERROR: cannot save statistics to .*no-such-dir/);
  });
});
