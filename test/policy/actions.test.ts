/**
 * Handle Object Policy (SPEC §4): every combination of the five options and five scan outcomes,
 * checked against a statement of the rules written here as a small table (not a copy of
 * host/policy/actions.ts), plus the never-lose-mail edges: unknown values, missing or
 * self-contradicting outcomes, unknown statuses.
 */
import { describe, expect, it } from "vitest";
import {
  ACTION_AV_VALUES,
  CLEAN_MODES,
  DECISION_ACTIONS,
  decide,
  shouldClean,
  shouldScan,
  type PolicyOptions,
  type ScanOutcome,
} from "../../host/policy/actions.js";
import type { Verdict } from "../../host/scan/verdict.js";

const OUTCOMES = ["clean", "infected-cleaned", "infected-not-cleanable", "not-scanned", "error"] as const;
type OutcomeKind = (typeof OUTCOMES)[number];

/**
 * The rules, restated. For action_av = scan: which option decides, or a fixed result ("=x"),
 * depending on whether cleaning is on (av_clean_mode != none).
 * - a cleaned object is judged by action_av_deleted; cleaning cannot have happened with
 *   av_clean_mode = none, so such an outcome is a contradiction and defers;
 * - an infected object that could not be cleaned is judged by action_av_infected;
 * - an unreadable input (status error) defers whatever the options say (our failure, never mail loss);
 * - "not scanned" is judged by action_av_notscanned, never as clean.
 * For action_av != scan the object gets action_av, whatever the outcome.
 */
const RULES: Record<OutcomeKind, { cleaningOff: string; cleaningOn: string; cleanedCopy: boolean }> = {
  clean: { cleaningOff: "=accept", cleaningOn: "=accept", cleanedCopy: false },
  "infected-cleaned": { cleaningOff: "=defer", cleaningOn: "action_av_deleted", cleanedCopy: true },
  "infected-not-cleanable": { cleaningOff: "action_av_infected", cleaningOn: "action_av_infected", cleanedCopy: false },
  "not-scanned": { cleaningOff: "action_av_notscanned", cleaningOn: "action_av_notscanned", cleanedCopy: false },
  error: { cleaningOff: "=defer", cleaningOn: "=defer", cleanedCopy: false },
};

function expected(o: PolicyOptions, kind: OutcomeKind): { action: string; cleaned: boolean } {
  if (o.action_av !== "scan") return { action: o.action_av, cleaned: false };
  const cleaningOn = o.av_clean_mode !== "none";
  const rule = cleaningOn ? RULES[kind].cleaningOn : RULES[kind].cleaningOff;
  const action = rule.startsWith("=") ? rule.slice(1) : o[rule as keyof PolicyOptions];
  return { action, cleaned: RULES[kind].cleanedCopy && cleaningOn };
}

function verdictOf(kind: OutcomeKind): Verdict {
  const base = { objects: 2, bytesScanned: 100, detections: [], names: [], notScanned: [], infected: false } as Verdict;
  switch (kind) {
    case "clean":
      return { ...base, status: "clean" };
    case "infected-cleaned":
    case "infected-not-cleanable":
      return {
        ...base,
        status: "infected",
        infected: true,
        names: ["Eicar-Test-Signature"],
        detections: [{ name: "Eicar-Test-Signature", path: "mail/eicar.com", kind: "signature" }],
      };
    case "not-scanned":
      return {
        ...base,
        status: "not_scanned",
        notScanned: [{ name: "Heuristics.Encrypted.Zip", path: "mail/a.zip", reason: "encrypted" }],
      };
    case "error":
      return { ...base, status: "error", objects: 0, error: "EACCES" };
  }
}

const outcomeOf = (kind: OutcomeKind): ScanOutcome => ({ verdict: verdictOf(kind), cleaned: kind === "infected-cleaned" });

const SCAN_DEFAULTS: PolicyOptions = {
  action_av: "scan",
  action_av_infected: "reject",
  action_av_notscanned: "defer",
  action_av_deleted: "accept",
  av_clean_mode: "standard",
};

describe("decision table", () => {
  it("every combination of options and outcome decides as the rules say", () => {
    const failures: string[] = [];
    const seen = new Map<string, number>();
    let n = 0;
    for (const action_av of ACTION_AV_VALUES)
      for (const action_av_infected of DECISION_ACTIONS)
        for (const action_av_notscanned of DECISION_ACTIONS)
          for (const action_av_deleted of DECISION_ACTIONS)
            for (const av_clean_mode of CLEAN_MODES)
              for (const kind of OUTCOMES) {
                n++;
                const o = { action_av, action_av_infected, action_av_notscanned, action_av_deleted, av_clean_mode };
                // a real agent only hands over an outcome when it scanned; giving one anyway must not matter
                const d = decide(o, outcomeOf(kind));
                const e = expected(o, kind);
                if (d.action !== e.action || d.cleaned !== e.cleaned || !d.reason)
                  failures.push(`${JSON.stringify(o)} ${kind}: got ${JSON.stringify(d)}, want ${JSON.stringify(e)}`);
                seen.set(d.action, (seen.get(d.action) ?? 0) + 1);
              }
    expect(n).toBe(5 * 4 * 4 * 4 * 4 * 5);
    expect(failures.slice(0, 10)).toEqual([]);
    expect([...seen.keys()].sort()).toEqual(["accept", "defer", "discard", "reject"]);
  });

  it("decides at once without an outcome when action_av is not scan", () => {
    for (const a of DECISION_ACTIONS) {
      expect(decide({ ...SCAN_DEFAULTS, action_av: a })).toMatchObject({ action: a, cleaned: false });
      expect(shouldScan({ ...SCAN_DEFAULTS, action_av: a })).toBe(false);
      expect(shouldClean({ ...SCAN_DEFAULTS, action_av: a })).toBe(false);
    }
    expect(shouldScan(SCAN_DEFAULTS)).toBe(true);
    expect(shouldClean(SCAN_DEFAULTS)).toBe(true);
    expect(shouldClean({ ...SCAN_DEFAULTS, av_clean_mode: "none" })).toBe(false);
  });

  it("names the deciding option and the detections in the reason", () => {
    expect(decide(SCAN_DEFAULTS, outcomeOf("infected-not-cleanable")).reason).toMatch(/Eicar-Test-Signature.*action_av_infected=reject/);
    expect(decide(SCAN_DEFAULTS, outcomeOf("infected-cleaned")).reason).toMatch(/action_av_deleted=accept/);
    expect(decide(SCAN_DEFAULTS, outcomeOf("not-scanned")).reason).toMatch(/action_av_notscanned=defer/);
    expect(decide(SCAN_DEFAULTS, outcomeOf("error")).reason).toMatch(/EACCES/);
  });
});

describe("several options apply to one object (infected and partly not scanned)", () => {
  // Restated: accepted only if every applicable option says accept; otherwise the first blocking
  // one in the order infected (or deleted, when cleaned) > notscanned.
  it("accepts only when all applicable options accept", () => {
    for (const cleaned of [false, true])
      for (const first of DECISION_ACTIONS)
        for (const ns of DECISION_ACTIONS) {
          const verdict = verdictOf("infected-not-cleanable");
          verdict.notScanned = [{ name: "Heuristics.Limits.Exceeded.MaxFileSize", path: "mail/big.iso", reason: "limit" }];
          const o = { ...SCAN_DEFAULTS, action_av_notscanned: ns, [cleaned ? "action_av_deleted" : "action_av_infected"]: first };
          const want = first !== "accept" ? first : ns;
          expect(decide(o, { verdict, cleaned }), `${cleaned} ${first} ${ns}`).toMatchObject({ action: want, cleaned });
        }
  });
});

describe("never lose mail", () => {
  const bad = ["Scan", "", " accept", "quarantine", "yes", undefined, null, 1];
  it.each(["action_av", "action_av_infected", "action_av_notscanned", "action_av_deleted", "av_clean_mode"])(
    "an unknown value of %s defers, even when the object is clean",
    (key) => {
      for (const value of bad) {
        const o = { ...SCAN_DEFAULTS, action_av: "accept", [key]: value } as unknown as PolicyOptions;
        const d = decide(o, outcomeOf("clean"));
        expect(d.action, `${key}=${String(value)}`).toBe("defer");
        expect(d.reason).toContain(key);
      }
    },
  );

  it("defers when options are missing entirely", () => {
    expect(decide(null as unknown as PolicyOptions).action).toBe("defer");
    expect(decide({} as PolicyOptions, outcomeOf("clean")).action).toBe("defer");
  });

  it("defers when scanning was asked for but there is no outcome", () => {
    expect(decide(SCAN_DEFAULTS)).toMatchObject({ action: "defer", cleaned: false });
  });

  const contradictions: Array<[string, () => ScanOutcome]> = [
    ["clean with a detection", () => ({ verdict: { ...verdictOf("infected-not-cleanable"), status: "clean" }, cleaned: false })],
    ["clean with an unscanned part", () => ({ verdict: { ...verdictOf("not-scanned"), status: "clean" }, cleaned: false })],
    ["infected without names", () => ({ verdict: { ...verdictOf("clean"), status: "infected", infected: true }, cleaned: false })],
    ["not_scanned without unscanned parts", () => ({ verdict: { ...verdictOf("clean"), status: "not_scanned" }, cleaned: false })],
    ["not_scanned with a detection", () => ({ verdict: { ...verdictOf("infected-not-cleanable"), status: "not_scanned", notScanned: verdictOf("not-scanned").notScanned }, cleaned: false })],
    ["cleaned but clean", () => ({ verdict: verdictOf("clean"), cleaned: true })],
    ["cleaned but not scanned", () => ({ verdict: verdictOf("not-scanned"), cleaned: true })],
    ["unknown status", () => ({ verdict: { ...verdictOf("clean"), status: "suspicious" as never }, cleaned: false })],
    ["no verdict", () => ({ verdict: undefined as unknown as Verdict, cleaned: false })],
    ["names not a list", () => ({ verdict: { ...verdictOf("clean"), names: "x" as never }, cleaned: false })],
    ["cleaned not a boolean", () => ({ verdict: verdictOf("clean"), cleaned: "no" as never })],
  ];
  it.each(contradictions)("defers on a self-contradicting outcome: %s", (_name, make) => {
    // permissive options everywhere, so only the contradiction can produce the defer
    const o = { action_av: "scan", action_av_infected: "accept", action_av_notscanned: "accept", action_av_deleted: "accept", av_clean_mode: "strict" };
    expect(decide(o, make())).toMatchObject({ action: "defer", cleaned: false });
  });

  it("never treats not scanned as clean: with notscanned=defer a not-scanned mail is deferred", () => {
    expect(decide({ ...SCAN_DEFAULTS, action_av_notscanned: "defer" }, outcomeOf("not-scanned")).action).toBe("defer");
  });

  it("a getter that throws inside the outcome is a defer, not an exception", () => {
    const outcome = {
      cleaned: false,
      get verdict(): Verdict {
        throw new Error("boom");
      },
    };
    expect(decide(SCAN_DEFAULTS, outcome)).toMatchObject({ action: "defer" });
    expect(decide(SCAN_DEFAULTS, outcome).reason).toContain("boom");
  });
});

describe("an internal fault is ours: defer, whatever action_av_notscanned says", () => {
  // Restated: a part not scanned because Bulwark failed (a name under Bulwark.Error.: a killed
  // worker, an unpacker bug) must neither pass (accept) nor bounce or drop (reject/discard) the mail.
  const faulted = (kind: "not-scanned" | "infected-not-cleanable"): Verdict => {
    const v = verdictOf(kind);
    v.notScanned = [{ name: "Bulwark.Error.ECRASHED", path: "", reason: "worker died" }];
    return v;
  };
  it("not scanned because of a crashed worker defers for every action_av_notscanned", () => {
    for (const ns of DECISION_ACTIONS) {
      const d = decide({ ...SCAN_DEFAULTS, action_av_notscanned: ns }, { verdict: faulted("not-scanned"), cleaned: false });
      expect(d.action, ns).toBe("defer");
      expect(d.reason).toContain("Bulwark.Error.ECRASHED");
    }
  });
  it("a limit is still a verdict of its own", () => {
    for (const ns of DECISION_ACTIONS) expect(decide({ ...SCAN_DEFAULTS, action_av_notscanned: ns }, outcomeOf("not-scanned")).action).toBe(ns);
  });
  it("infected with a fault elsewhere: a blocking infected action wins, an accepting one defers", () => {
    for (const inf of DECISION_ACTIONS) {
      const d = decide({ ...SCAN_DEFAULTS, action_av_infected: inf, action_av_notscanned: "accept" }, { verdict: faulted("infected-not-cleanable"), cleaned: false });
      expect(d.action, inf).toBe(inf === "accept" ? "defer" : inf);
    }
  });
});
