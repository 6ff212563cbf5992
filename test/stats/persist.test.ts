/**
 * Persisted statistics: counts survive close + reopen, saving is throttled to one write per
 * SAVE_INTERVAL_MS (an injected clock and a hand-fired scheduler: no sleeping), a corrupt,
 * partial or oversized state file is reported, kept aside and replaced by zeros, a failed save
 * is reported and retried, and close() refuses further changes.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Verdict } from "../../host/scan/verdict.js";
import { SAVE_INTERVAL_MS, type Scheduler, openStatistics } from "../../host/stats/persist.js";
import { MAX_STATE_FILE_BYTES, readStateFile } from "../../host/stats/state-file.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-stats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const freshFile = () => join(dir, `s${++seq}.json`);

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const CLEAN3: Verdict = { status: "clean", infected: false, names: [], detections: [], notScanned: [], objects: 3, bytesScanned: 10 };

/** A scheduler the test fires by hand; records each requested delay. */
function manualScheduler() {
  const pending: Array<{ fn: () => void; ms: number; live: boolean }> = [];
  const schedule: Scheduler = (fn, ms) => {
    const job = { fn, ms, live: true };
    pending.push(job);
    return () => {
      job.live = false;
    };
  };
  const live = () => pending.filter((j) => j.live);
  return {
    schedule,
    live,
    /** fire every live job, as their timers would */
    fire() {
      for (const j of live()) {
        j.live = false;
        j.fn();
      }
    },
  };
}

/** Let a fired save (async fs work) complete, without starting another. */
async function settle(stats: { idle(): Promise<void> }) {
  await stats.idle();
}

describe("openStatistics", () => {
  it("keeps the counts across close and reopen", async () => {
    const file = freshFile();
    const problems: string[] = [];
    const a = openStatistics(file, { now: () => T0, onProblem: (m) => problems.push(m) });
    a.recordScan("smtp", CLEAN3, false);
    a.recordDecision("smtp", "accept");
    a.recordDecision("clamd", "reject");
    await a.close();
    expect(() => a.recordDecision("smtp", "accept")).toThrow(/closed/);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);

    const b = openStatistics(file, { now: () => T0 + 1000, onProblem: (m) => problems.push(m) });
    const snap = b.snapshot();
    expect(snap.agents.smtp).toMatchObject({ scanned: 3, accepted: 1, since: new Date(T0).toISOString() });
    expect(snap.agents.clamd.rejected).toBe(1);
    b.recordScan("smtp", CLEAN3, false);
    await b.close();
    expect(readStateFile(file)?.smtp?.scanned).toBe(6);
    expect(problems).toEqual([]);
  });

  it("saves at most once per SAVE_INTERVAL_MS, and on close", async () => {
    const file = freshFile();
    let now = T0;
    const sched = manualScheduler();
    const s = openStatistics(file, { now: () => now, schedule: sched.schedule });
    expect(sched.live()).toEqual([]); // nothing changed, nothing to save

    s.recordDecision("pipe", "accept");
    s.recordDecision("pipe", "accept");
    expect(sched.live().map((j) => j.ms)).toEqual([0]); // first save may happen at once; one job for both
    expect(readStateFile(file)).toBeNull(); // but only when the timer fires
    sched.fire();
    await settle(s);
    expect(readStateFile(file)?.pipe?.accepted).toBe(2);

    now += 1000;
    s.recordDecision("pipe", "defer");
    s.recordDecision("pipe", "defer");
    expect(sched.live().map((j) => j.ms)).toEqual([SAVE_INTERVAL_MS - 1000]);
    now += 500;
    s.recordDecision("pipe", "defer"); // already scheduled: no second job
    expect(sched.live()).toHaveLength(1);
    expect(readStateFile(file)?.pipe?.deferred).toBe(0);
    now = T0 + SAVE_INTERVAL_MS;
    sched.fire();
    await settle(s);
    expect(readStateFile(file)?.pipe?.deferred).toBe(3);

    now += 10 * SAVE_INTERVAL_MS; // long idle: the next change may be saved at once
    s.recordDecision("pipe", "discard");
    expect(sched.live().map((j) => j.ms)).toEqual([0]);

    await s.close(); // close saves without waiting for the timer and cancels it
    expect(sched.live()).toEqual([]);
    expect(readStateFile(file)?.pipe?.discarded).toBe(1);
  });

  it("replaces a corrupt or partial state file by zeros, keeping the bad copy aside", async () => {
    const good = freshFile();
    const g = openStatistics(good, { now: () => T0 });
    g.recordScan("smtp", CLEAN3, false);
    await g.close();
    const text = readFileSync(good, "utf8");

    const cases: Array<[string, string | Buffer, RegExp]> = [
      ["truncated", text.slice(0, text.length >> 1), /not JSON/],
      ["garbage", Buffer.from([0xff, 0x00, 0x13, 0x37]), /not JSON/],
      ["negative counter", text.replace('"scanned": 3', '"scanned": -3'), /agents\.smtp\.scanned is not a non-negative integer/],
      ["fractional counter", text.replace('"scanned": 3', '"scanned": 3.5'), /agents\.smtp\.scanned/],
      ["unsafe counter", text.replace('"scanned": 3', '"scanned": 9007199254740993'), /agents\.smtp\.scanned/],
      ["unknown agent", text.replace('"pop3":', '"pop4":'), /unknown agent "pop4"/],
      ["bad since", text.replace(/"since": "[^"]+"/, '"since": "yesterday"'), /since is not an ISO/],
      ["wrong format", text.replace('"bulwark-stats"', '"other"'), /format/],
      ["array", "[]", /not a JSON object/],
      ["oversized", Buffer.alloc(MAX_STATE_FILE_BYTES + 1, 0x20), /larger than/],
    ];
    for (const [name, content, reason] of cases) {
      const sub = join(dir, `corrupt-${name.replace(/ /g, "-")}`);
      mkdirSync(sub);
      const file = join(sub, "stats.json");
      writeFileSync(file, content);
      const problems: string[] = [];
      const s = openStatistics(file, { now: () => T0, onProblem: (m) => problems.push(m) });
      expect(problems, name).toHaveLength(1);
      expect(problems[0], name).toMatch(reason);
      expect(problems[0], name).toMatch(/kept as .*stats\.json\.corrupt-20261125T120000Z-/);
      expect(s.snapshot().total.scanned, name).toBe(0);
      const aside = readdirSync(sub).filter((n) => n.startsWith("stats.json.corrupt-"));
      expect(aside, name).toHaveLength(1);
      expect(readFileSync(join(sub, aside[0])).equals(Buffer.from(content)), name).toBe(true);
      await s.close(); // zeros replace the corrupt state even without any new count
      expect(readStateFile(file)?.smtp?.scanned, name).toBe(0);
    }
  });

  it("a missing file starts at zero silently; an unreadable one is reported, never thrown", async () => {
    const problems: string[] = [];
    const s = openStatistics(freshFile(), { now: () => T0, onProblem: (m) => problems.push(m) });
    expect(s.snapshot().total.accepted).toBe(0);
    await s.close();
    expect(problems).toEqual([]);

    const asDir = join(dir, "is-a-directory");
    mkdirSync(asDir);
    const d = openStatistics(asDir, { now: () => T0, onProblem: (m) => problems.push(m) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/cannot read .*is-a-directory.*counting starts at zero/);
    d.recordDecision("smtp", "accept");
    await expect(d.close()).rejects.toThrow(/cannot save statistics to .*is-a-directory/);
  });

  it("reports a failed save once, retries each interval, and reports the recovery", async () => {
    const sub = join(dir, "later");
    const file = join(sub, "stats.json"); // its directory does not exist yet
    let now = T0;
    const sched = manualScheduler();
    const problems: string[] = [];
    const s = openStatistics(file, { now: () => now, schedule: sched.schedule, onProblem: (m) => problems.push(m) });
    s.recordDecision("mda", "reject");
    sched.fire();
    await settle(s);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/cannot save .*ENOENT.*retrying/);
    // the retry is scheduled by itself, an interval after the failed attempt
    expect(sched.live().map((j) => j.ms)).toEqual([SAVE_INTERVAL_MS]);
    now += SAVE_INTERVAL_MS;
    sched.fire();
    await settle(s);
    expect(problems).toHaveLength(1); // not repeated
    mkdirSync(sub);
    now += SAVE_INTERVAL_MS;
    sched.fire();
    await settle(s);
    expect(problems[1]).toMatch(/works again/);
    expect(readStateFile(file)?.mda?.rejected).toBe(1);
    await s.close();
  });
});
