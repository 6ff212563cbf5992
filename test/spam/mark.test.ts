import { describe, expect, it } from "vitest";
import { findSubject, formatScore, markMail, ownFieldIndexes, setSubject, spamHeaderFields, stripOwnFields, subjectTag, taggedSubject } from "../../host/spam/mark.js";
import type { SpamResult } from "../../host/spam/types.js";

const result = (status: SpamResult["status"], score: number, extra: Partial<SpamResult> = {}): SpamResult => ({
  status, score, required: 5, probable: 3, reasons: [{ name: "GTUBE", score: 1000 }, { name: "BAYES_00", score: -3 }], ...extra,
});

describe("spam header fields", () => {
  it("say status, score and reasons, strongest first", () => {
    const f = spamHeaderFields(result("spam", 997));
    expect(f.map((x) => x.name)).toEqual(["X-Bulwark-Spam-Status", "X-Bulwark-Spam-Score", "X-Bulwark-Spam-Reasons"]);
    expect(f[0].value).toBe("Yes, score=997.0 required=5.0");
    expect(f[1].value).toBe("997.0");
    expect(f[2].value).toBe("GTUBE=1000.0, BAYES_00=-3.0");
  });
  it("name a skip instead of a score", () => {
    expect(spamHeaderFields(result("ham", 0, { skipped: "approved client 10.0.0.1", reasons: [] }))[0].value).toBe("No, skipped (approved client 10.0.0.1)");
  });
  it("round scores like SpamAssassin and never print -0.0", () => {
    expect(formatScore(4.96)).toBe("5.0");
    expect(formatScore(-0.04)).toBe("0.0");
  });
  it("cannot be used to inject header lines through a reason", () => {
    const f = spamHeaderFields(result("spam", 6, { reasons: [{ name: "X\r\nBcc: victim@example.com", score: 6 }] }));
    expect(f[2].value).not.toMatch(/[\r\n]/);
  });
});

describe("subject template", () => {
  it("expands %asstatus% for spam and probable spam only", () => {
    expect(subjectTag(result("spam", 9), "[%asstatus%]")).toBe("[SPAM]");
    expect(subjectTag(result("probable", 4), "[%asstatus%]")).toBe("[PROBABLE SPAM]");
    expect(subjectTag(result("ham", 0), "[%asstatus%]")).toBe("");
    expect(subjectTag(result("spam", 9), "")).toBe("");
  });
  it("is not added twice", () => {
    expect(taggedSubject("[SPAM] cheap pills", "[SPAM]")).toBeUndefined();
    expect(taggedSubject("cheap pills", "[SPAM]")).toBe("[SPAM] cheap pills");
    expect(taggedSubject(undefined, "[SPAM]")).toBe("[SPAM]");
  });
});

describe("setSubject / findSubject", () => {
  it("replace a folded Subject field and keep every other byte", () => {
    const mail = Buffer.from("From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\r\n\r\nSubject: not a header\r\n");
    expect(findSubject(mail)!.value).toBe("one two");
    const out = setSubject(mail, "[SPAM] one two").toString();
    expect(out).toBe("From: a@b\r\nSubject: [SPAM] one two\r\nTo: c@d\r\n\r\nSubject: not a header\r\n");
  });
  it("add a Subject field at the end of a header without one, in the mail's own line ends", () => {
    const mail = Buffer.from("From: a@b\nTo: c@d\n\nbody\n");
    expect(findSubject(mail)).toBeUndefined();
    expect(setSubject(mail, "[SPAM]").toString()).toBe("From: a@b\nTo: c@d\nSubject: [SPAM]\n\nbody\n");
  });
  it("keep 8-bit subject bytes one for one", () => {
    const mail = Buffer.concat([Buffer.from("Subject: "), Buffer.from([0xe9, 0xe8]), Buffer.from("\n\nx\n")]);
    const out = setSubject(mail, `[SPAM] ${findSubject(mail)!.value}`);
    expect([...out.subarray(16, 18)]).toEqual([0xe9, 0xe8]);
  });
  it("do not find a Subject in the body", () => {
    expect(findSubject(Buffer.from("From: a\n\nSubject: x\n"))).toBeUndefined();
  });
});

describe("markMail (spamd PROCESS)", () => {
  it("adds the fields in front and tags the subject", () => {
    const out = markMail(Buffer.from("Subject: hi\r\n\r\nbody\r\n"), result("spam", 1000), { subjectTemplate: "[%asstatus%]", headers: true }).toString();
    expect(out).toMatch(/^X-Bulwark-Spam-Status: Yes, score=1000\.0 required=5\.0\r\nX-Bulwark-Spam-Score: 1000\.0\r\nX-Bulwark-Spam-Reasons: [^\r\n]+\r\nSubject: \[SPAM\] hi\r\n\r\nbody\r\n$/);
  });
  it("leaves ham untouched without fields", () => {
    const raw = Buffer.from("Subject: hi\n\nbody\n");
    expect(markMail(raw, result("ham", 0), { subjectTemplate: "[%asstatus%]", headers: false }).equals(raw)).toBe(true);
  });
});

describe("incoming X-Bulwark-* fields (forged, or an earlier hop's)", () => {
  const mail = Buffer.from("Received: x\r\nX-Bulwark-Spam-Status: No,\r\n score=-9\r\nSubject: s\r\nx-bulwark-verdict: clean\r\nX-Bulwark-Spam-Status: No\r\nX-Bulwarky: keep\r\n\r\nX-Bulwark-Verdict: in the body\r\n");
  it("are removed with their folded lines, every other byte kept, the body untouched", () => {
    expect(stripOwnFields(mail).toString()).toBe("Received: x\r\nSubject: s\r\nX-Bulwarky: keep\r\n\r\nX-Bulwark-Verdict: in the body\r\n");
  });
  it("are listed for the milter last first, with their per-name index", () => {
    expect(ownFieldIndexes(mail)).toEqual([
      { name: "X-Bulwark-Spam-Status", index: 2 },
      { name: "x-bulwark-verdict", index: 1 },
      { name: "X-Bulwark-Spam-Status", index: 1 },
    ]);
  });
  it("leave a mail without them as it is (same buffer)", () => {
    const plain = Buffer.from("Subject: s\n\nbody\n");
    expect(stripOwnFields(plain)).toBe(plain);
  });
  it("are removed by markMail before its own fields go in", () => {
    const out = markMail(mail, result("spam", 1000), { subjectTemplate: "", headers: true }).toString();
    expect(out.match(/^X-Bulwark-Spam-Status:/gim)).toEqual(["X-Bulwark-Spam-Status:"]);
    expect(out).not.toContain("score=-9");
  });
});
