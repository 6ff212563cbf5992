/**
 * The decision-to-wire table: what SMTP, milter, POP3/IMAP and pipe/MDA exit codes say for each
 * decision, stated here independently, and the properties the table must keep (discard looks like
 * accept to the sender, reply classes agree, exit codes are distinct, the table cannot be patched).
 */
import { describe, expect, it } from "vitest";
import { DECISION_ACTIONS, type Action } from "../../host/policy/actions.js";
import { WIRE_TABLE, smtpReplyLine, wireOf, type Wire } from "../../host/policy/wire.js";

const d = (action: Action) => ({ action, reason: "test", cleaned: false });

describe("wire table", () => {
  it.each([
    // action, smtp code, enhanced class, milter command, mailbox behaviour, exit code
    ["accept", 250, "2.", "c", "pass", 0],
    ["defer", 451, "4.", "y", "temporary-error", 75],
    ["reject", 554, "5.", "y", "replace-with-notice", 69],
    ["discard", 250, "2.", "d", "replace-with-notice", 99],
  ] as const)("%s: smtp %d, milter %s, mailbox %s, exit %d", (action, code, cls, milter, mailbox, exit) => {
    const smtp = wireOf(d(action), "smtp");
    expect(smtp.code).toBe(code);
    expect(smtp.enhanced.startsWith(cls)).toBe(true);
    expect(smtp.enhanced).toMatch(/^[245]\.\d{1,3}\.\d{1,3}$/);
    expect(smtp.text).toMatch(/^[\x20-\x7e]+$/);
    expect(wireOf(d(action), "milter").command).toBe(milter);
    expect(wireOf(d(action), "pop3").behaviour).toBe(mailbox);
    expect(wireOf(d(action), "imap").behaviour).toBe(mailbox);
    expect(wireOf(d(action), "exit")).toBe(exit);
  });

  it("tells the sender of a discarded mail exactly what it tells the sender of an accepted one", () => {
    expect(wireOf(d("discard"), "smtp")).toEqual(wireOf(d("accept"), "smtp"));
  });

  it("milter reply lines are SMTP replies of the right class", () => {
    expect(wireOf(d("defer"), "milter").reply).toBe(smtpReplyLine(wireOf(d("defer"), "smtp")));
    expect(wireOf(d("defer"), "milter").reply).toMatch(/^451 4\.\d+\.\d+ \S/);
    expect(wireOf(d("reject"), "milter").reply).toMatch(/^554 5\.\d+\.\d+ \S/);
    expect(wireOf(d("accept"), "milter").reply).toBeUndefined();
  });

  it("mailbox temporary errors use the standard response codes", () => {
    expect(wireOf(d("defer"), "pop3").response).toMatch(/^-ERR \[SYS\/TEMP\] /);
    expect(wireOf(d("defer"), "imap").response).toMatch(/^NO \[UNAVAILABLE\] /);
  });

  it("exit codes of the four decisions are distinct, and defer is EX_TEMPFAIL", () => {
    const codes = DECISION_ACTIONS.map((a) => wireOf(d(a), "exit"));
    expect(new Set(codes).size).toBe(4);
    expect(wireOf(d("defer"), "exit")).toBe(75);
    expect(wireOf(d("accept"), "exit")).toBe(0);
  });

  it("an action outside the table answers as defer on every wire", () => {
    for (const wire of ["smtp", "milter", "pop3", "imap", "exit"] as Wire[]) {
      for (const action of ["quarantine", "", "__proto__", "constructor", undefined])
        expect(wireOf({ action: action as Action }, wire)).toEqual(wireOf(d("defer"), wire));
    }
  });

  it("an unknown wire is a programming error, not a silent undefined", () => {
    expect(() => wireOf(d("accept"), "ftp" as Wire)).toThrow(/unknown wire/);
  });

  it("cannot be patched at run time, and answers are copies", () => {
    expect(Object.isFrozen(WIRE_TABLE.accept.smtp)).toBe(true);
    expect(() => {
      (WIRE_TABLE.accept.smtp as { code: number }).code = 550;
    }).toThrow();
    const copy = wireOf(d("reject"), "smtp");
    copy.code = 250;
    expect(wireOf(d("reject"), "smtp").code).toBe(554);
  });
});
