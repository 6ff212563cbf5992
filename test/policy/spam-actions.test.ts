import { describe, expect, it } from "vitest";
import { decide } from "../../host/policy/actions.js";
import { decideSpam, shouldClassify, stricter } from "../../host/policy/spam-actions.js";
import type { SpamResult } from "../../host/spam/types.js";

const ACTIONS = ["accept", "defer", "discard", "reject"] as const;
const res = (status: SpamResult["status"], skipped?: string): SpamResult => ({
  status, score: status === "spam" ? 9 : status === "probable" ? 4 : 0, required: 5, probable: 3,
  reasons: status === "ham" ? [] : [{ name: "RULE_A", score: 4 }], ...(skipped ? { skipped } : {}),
});

describe("anti-spam decision table (SPEC §6, like action_av)", () => {
  for (const a of ACTIONS) {
    it(`action_as=${a} decides without a classification`, () => {
      const o = { action_as: a, action_as_spam: "reject", action_as_probable: "reject" };
      expect(shouldClassify(o)).toBe(false);
      expect(decideSpam(o, undefined).action).toBe(a);
      expect(decideSpam(o, res("spam")).action).toBe(a);
    });
  }
  for (const spamAction of ACTIONS) {
    for (const probableAction of ACTIONS) {
      it(`scan: spam->${spamAction}, probable->${probableAction}, ham->accept, skipped->accept`, () => {
        const o = { action_as: "scan", action_as_spam: spamAction, action_as_probable: probableAction };
        expect(shouldClassify(o)).toBe(true);
        expect(decideSpam(o, res("spam")).action).toBe(spamAction);
        expect(decideSpam(o, res("probable")).action).toBe(probableAction);
        expect(decideSpam(o, res("ham")).action).toBe("accept");
        expect(decideSpam(o, res("spam", "approved client 10.1.1.1")).action).toBe("accept");
      });
    }
  }
  it("defers without a classification or with an unknown value, never accepts", () => {
    expect(decideSpam({ action_as: "scan", action_as_spam: "reject", action_as_probable: "accept" }).action).toBe("defer");
    expect(decideSpam({ action_as: "bounce", action_as_spam: "reject", action_as_probable: "accept" }, res("ham")).action).toBe("defer");
    expect(decideSpam({ action_as: "scan", action_as_spam: "quarantine", action_as_probable: "accept" }, res("ham")).action).toBe("defer");
    expect(decideSpam({ action_as: "scan", action_as_spam: "reject", action_as_probable: "accept" }, { ...res("spam"), status: "weird" as never }).action).toBe("defer");
  });
  it("names the rules in the reason", () => {
    expect(decideSpam({ action_as: "scan", action_as_spam: "reject", action_as_probable: "accept" }, res("spam")).reason).toMatch(/spam, score 9\.0 \(RULE_A\): action_as_spam=reject/);
  });
});

describe("stricter (antivirus and anti-spam for one recipient)", () => {
  const d = (action: (typeof ACTIONS)[number]) => ({ action, reason: action, cleaned: false });
  it("takes defer over reject over discard over accept, the antivirus one on a tie", () => {
    const order = ["accept", "discard", "reject", "defer"] as const;
    for (const a of order) for (const b of order) {
      const s = stricter(d(a), { ...d(b), reason: "as" });
      expect(s.action).toBe(order.indexOf(b) > order.indexOf(a) ? b : a);
      if (a === b) expect(s.reason).toBe(a);
    }
  });
  it("joins with the real antivirus decision", () => {
    const av = decide({ action_av: "accept", action_av_infected: "reject", action_av_notscanned: "reject", action_av_deleted: "accept", av_clean_mode: "none" });
    expect(stricter(av, decideSpam({ action_as: "scan", action_as_spam: "discard", action_as_probable: "accept" }, res("spam"))).action).toBe("discard");
  });
});
