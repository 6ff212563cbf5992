/**
 * In-memory statistics: objects vs messages (SPEC §2) on constructed verdicts, every action,
 * snapshot/reset, saturation at MAX_SAFE_INTEGER, and rejection of unknown agents and bad input.
 */
import { describe, expect, it } from "vitest";
import type { Detection, NotScanned, Verdict } from "../../host/scan/verdict.js";
import {
  COUNTER_NAMES, STATS_AGENTS, Statistics, UnknownAgentError, objectCounts, saturatingAdd,
} from "../../host/stats/counters.js";

function verdict(objects: number, detections: Array<[string, string]> = [], notScanned: Array<[string, string]> = [], status?: Verdict["status"]): Verdict {
  const dets: Detection[] = detections.map(([path, name]) => ({ path, name, kind: "signature" }));
  const ns: NotScanned[] = notScanned.map(([path, name]) => ({ path, name, reason: "test" }));
  return {
    status: status ?? (dets.length ? "infected" : ns.length ? "not_scanned" : "clean"),
    infected: dets.length > 0,
    names: [...new Set(dets.map((d) => d.name))],
    detections: dets,
    notScanned: ns,
    objects,
    bytesScanned: 100,
  };
}

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

describe("Statistics counting", () => {
  it("counts objects for scans: a mail with 2 attachments, one infected, is scanned 3, infected 1", () => {
    const s = new Statistics({ now: () => T0 });
    s.recordScan("smtp", verdict(3, [["mail/invoice.exe", "Win.Test.A"]]), false);
    s.recordDecision("smtp", "reject");
    const a = s.snapshot().agents.smtp;
    expect(a).toMatchObject({ scanned: 3, infected: 1, cleaned: 0, notScanned: 0, rejected: 1, accepted: 0 });
  });

  it("an object with two signatures is one infected object; two infected members are two", () => {
    expect(objectCounts(verdict(3, [["a.exe", "X"], ["a.exe", "Y"]]), false).infected).toBe(1);
    expect(objectCounts(verdict(3, [["a.exe", "X"], ["b.exe", "X"]]), false).infected).toBe(2);
    // the input itself ("" path) and a member are different objects
    expect(objectCounts(verdict(2, [["", "X"], ["m/a", "X"]]), false).infected).toBe(2);
  });

  it("cleaned counts the removed infected objects only when cleaning removed every one", () => {
    const v = verdict(4, [["p/1", "X"], ["p/2", "Y"], ["p/2", "Z"]]);
    expect(objectCounts(v, true)).toEqual({ scanned: 4, cleaned: 2, infected: 2, notScanned: 0 });
    expect(objectCounts(v, false)).toEqual({ scanned: 4, cleaned: 0, infected: 2, notScanned: 0 });
    expect(() => objectCounts(verdict(1), true)).toThrow(/cleaned, but verdict status is clean/);
  });

  it("not-scanned counts distinct paths; an unreadable input is one object not scanned", () => {
    const v = verdict(5, [], [["a.zip", "Heuristics.Encrypted.Zip"], ["a.zip", "Heuristics.Limits.Exceeded.MaxFileSize"], ["b.zip", "Engine.Timeout"]]);
    expect(objectCounts(v, false)).toEqual({ scanned: 5, cleaned: 0, infected: 0, notScanned: 2 });
    const err = { ...verdict(0), status: "error" as const, error: "EACCES" };
    expect(objectCounts(err, false)).toEqual({ scanned: 0, cleaned: 0, infected: 0, notScanned: 1 });
  });

  it("counts every action as one message, independent of the objects in it", () => {
    const s = new Statistics({ now: () => T0 });
    const actions = ["accept", "defer", "discard", "reject"] as const;
    actions.forEach((a, i) => {
      for (let n = 0; n <= i; n++) s.recordDecision("pipe", a);
    });
    s.recordScan("pipe", verdict(7), false);
    expect(s.snapshot().agents.pipe).toMatchObject({ accepted: 1, deferred: 2, discarded: 3, rejected: 4, scanned: 7 });
    expect(() => s.recordDecision("pipe", "scan" as never)).toThrow(/unknown action "scan"/);
    expect(() => s.recordDecision("pipe", "toString" as never)).toThrow(/unknown action/);
  });

  it("keeps agents apart and totals them", () => {
    const s = new Statistics({ now: () => T0 });
    s.recordScan("smtp", verdict(3, [["x", "X"]]), false);
    s.recordScan("clamd", verdict(2), false);
    s.recordDecision("smtp", "accept");
    s.recordDecision("clamd", "accept");
    const snap = s.snapshot();
    expect(Object.keys(snap.agents)).toEqual([...STATS_AGENTS]);
    expect(snap.agents.smtp.scanned).toBe(3);
    expect(snap.agents.clamd.scanned).toBe(2);
    expect(snap.agents.imap.scanned).toBe(0);
    expect(snap.total).toEqual({ scanned: 5, cleaned: 0, infected: 1, notScanned: 0, accepted: 2, deferred: 0, discarded: 0, rejected: 0 });
    // a snapshot is a copy
    snap.agents.smtp.scanned = 999;
    expect(s.snapshot().agents.smtp.scanned).toBe(3);
  });

  it("reset zeroes one agent (restarting its since) or every agent", () => {
    let now = T0;
    const s = new Statistics({ now: () => now });
    s.recordScan("smtp", verdict(3), false);
    s.recordScan("pop3", verdict(2), false);
    now = T0 + 60_000;
    s.reset("smtp");
    let snap = s.snapshot();
    expect(snap.agents.smtp.scanned).toBe(0);
    expect(snap.agents.smtp.since).toBe(new Date(T0 + 60_000).toISOString());
    expect(snap.agents.pop3.scanned).toBe(2);
    expect(snap.agents.pop3.since).toBe(new Date(T0).toISOString());
    s.reset();
    snap = s.snapshot();
    for (const a of STATS_AGENTS) for (const k of COUNTER_NAMES) expect(snap.agents[a][k]).toBe(0);
  });

  it("saturates at Number.MAX_SAFE_INTEGER instead of losing precision", () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(saturatingAdd(max - 1, 1)).toBe(max);
    expect(saturatingAdd(max, 1)).toBe(max);
    expect(saturatingAdd(max, max)).toBe(max);
    const s = new Statistics({
      now: () => T0,
      initial: { smtp: { scanned: max - 2, cleaned: 0, infected: 0, notScanned: 0, accepted: max, deferred: 0, discarded: 0, rejected: 0, since: new Date(T0).toISOString() } },
    });
    s.recordScan("smtp", verdict(5), false);
    s.recordDecision("smtp", "accept");
    s.recordScan("pop3", verdict(max), false);
    const snap = s.snapshot();
    expect(snap.agents.smtp.scanned).toBe(max);
    expect(snap.agents.smtp.accepted).toBe(max);
    expect(snap.total.scanned).toBe(max);
    expect(Number.isSafeInteger(snap.total.scanned)).toBe(true);
  });

  it("rejects unknown agents and malformed verdicts without counting anything", () => {
    const s = new Statistics({ now: () => T0 });
    expect(() => s.recordScan("smtpd", verdict(1), false)).toThrow(UnknownAgentError);
    expect(() => s.recordDecision("__proto__", "accept")).toThrow(/unknown agent "__proto__"/);
    expect(() => s.reset("global")).toThrow(UnknownAgentError);
    expect(() => s.recordScan("smtp", verdict(-1), false)).toThrow(/non-negative integer/);
    expect(() => s.recordScan("smtp", verdict(1.5), false)).toThrow(/non-negative integer/);
    expect(() => s.recordScan("smtp", verdict(Number.NaN), false)).toThrow(/non-negative integer/);
    expect(s.snapshot().total).toEqual({ scanned: 0, cleaned: 0, infected: 0, notScanned: 0, accepted: 0, deferred: 0, discarded: 0, rejected: 0 });
    // clamd counts like an agent
    s.recordDecision("clamd", "accept");
    expect(s.snapshot().agents.clamd.accepted).toBe(1);
  });
});
