/**
 * agents/smtp/ehlo-filter.ts: the keywords the SMTP agent announces, from the downstream's EHLO
 * reply and the agent's own abilities.
 */
import { describe, expect, it } from "vitest";
import { type AgentAbilities, filterEhlo, parseEhloKeywords } from "../../agents/smtp/ehlo-filter.js";

const AGENT: AgentAbilities = { maxMessageBytes: 10_000_000, pipelining: true, eightBitMime: true, smtputf8: true, dsn: true };

/** What Postfix 3.7 announces on a reinjection port, plus extensions the agent must never pass. */
const POSTFIX = [
  "PIPELINING",
  "SIZE 20480000",
  "VRFY",
  "ETRN",
  "STARTTLS",
  "AUTH PLAIN LOGIN",
  "ENHANCEDSTATUSCODES",
  "8BITMIME",
  "DSN",
  "SMTPUTF8",
  "CHUNKING",
  "BINARYMIME",
  "XCLIENT NAME ADDR PROTO HELO",
  "XFORWARD NAME ADDR PROTO HELO",
  "CHECKPOINT",
  "XEXCH50",
];

describe("filterEhlo", () => {
  const table: Array<[string, readonly string[], Partial<AgentAbilities>, string[]]> = [
    ["full Postfix list, default agent", POSTFIX, {}, ["PIPELINING", "SIZE 10000000", "8BITMIME", "SMTPUTF8", "DSN"]],
    ["downstream limit smaller than the agent's", ["SIZE 1000"], {}, ["PIPELINING", "SIZE 1000"]],
    ["SIZE without a number = no fixed downstream limit", ["SIZE"], {}, ["PIPELINING", "SIZE 10000000"]],
    ["SIZE 0 = no fixed downstream limit", ["SIZE 0"], {}, ["PIPELINING", "SIZE 10000000"]],
    ["malformed SIZE counts as not offered", ["SIZE lots"], {}, ["PIPELINING"]],
    ["downstream offers nothing", [], {}, ["PIPELINING"]],
    ["agent without pipelining", ["PIPELINING", "8BITMIME"], { pipelining: false }, ["8BITMIME"]],
    ["agent cannot honour 8BITMIME/SMTPUTF8/DSN", POSTFIX, { eightBitMime: false, smtputf8: false, dsn: false }, ["PIPELINING", "SIZE 10000000"]],
    ["keywords are case-insensitive", ["8bitmime", "smtputf8", "dsn", "size 5000"], {}, ["PIPELINING", "SIZE 5000", "8BITMIME", "SMTPUTF8", "DSN"]],
    ["agent's own features", [], { enhancedStatusCodes: true, xforward: true, starttls: true, authMechanisms: ["plain", "login"] },
      ["PIPELINING", "ENHANCEDSTATUSCODES", "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE", "STARTTLS", "AUTH PLAIN LOGIN"]],
    ["empty AUTH configuration offers no AUTH", ["AUTH PLAIN"], { authMechanisms: [] }, ["PIPELINING"]],
  ];
  for (const [name, downstream, agent, want] of table) {
    it(name, () => {
      expect(filterEhlo(downstream, { ...AGENT, ...agent }).keywords).toEqual(want);
    });
  }

  it("never announces CHUNKING, BINARYMIME, XCLIENT or the downstream's STARTTLS/AUTH, and lists them as stripped", () => {
    const offer = filterEhlo(POSTFIX, AGENT);
    const announced = offer.keywords.map((k) => k.split(" ")[0]);
    for (const k of ["CHUNKING", "BINARYMIME", "XCLIENT", "STARTTLS", "AUTH", "CHECKPOINT", "XEXCH50", "VRFY", "ETRN", "XFORWARD"]) {
      expect(announced).not.toContain(k);
      expect(offer.stripped).toContain(k);
    }
    expect(offer.stripped).not.toContain("8BITMIME");
    expect(offer.size).toBe(10_000_000);
  });

  it("XCLIENT is never announced whatever the agent's abilities", () => {
    const all: AgentAbilities = { ...AGENT, enhancedStatusCodes: true, xforward: true, starttls: true, authMechanisms: ["PLAIN"] };
    expect(filterEhlo(["XCLIENT NAME ADDR", "xclient"], all).keywords.join(" ")).not.toMatch(/XCLIENT/i);
  });

  it("reports what the downstream offers, for the relaying client", () => {
    expect(filterEhlo(POSTFIX, AGENT).downstream).toEqual({
      eightBitMime: true, smtputf8: true, dsn: true, size: 20_480_000, pipelining: true, xforward: true,
    });
    expect(filterEhlo([], AGENT).size).toBeUndefined();
  });
});

describe("parseEhloKeywords", () => {
  it("ignores blank lines and keeps keywords upper-case", () => {
    const f = parseEhloKeywords(["", "  ", "pipelining", "Size 42"]);
    expect(f.keywords).toEqual(["PIPELINING", "SIZE"]);
    expect(f.size).toBe(42);
  });
});
