/**
 * Header fields added to scanned mail: their values for each verdict, and that nothing an attacker
 * controls (attachment names in detection paths, version strings) can break out of one line.
 */
import { describe, expect, it } from "vitest";
import {
  HEADER_ENGINE,
  HEADER_SIGNATURES,
  HEADER_VERDICT,
  MAX_HEADER_NAMES,
  MAX_HEADER_VALUE,
  formatHeaderFields,
  sanitizeHeaderValue,
  scanHeaderFields,
  verdictFieldValue,
} from "../../host/policy/headers.js";
import type { Verdict } from "../../host/scan/verdict.js";

const versions = { product: "0.3.0", engine: "wasm-1a2b3c", signatures: "main 62, daily 27501" };
const v = (over: Partial<Verdict>): Verdict => ({
  status: "clean",
  infected: false,
  names: [],
  detections: [],
  notScanned: [],
  objects: 1,
  bytesScanned: 10,
  ...over,
});

describe("header fields", () => {
  it("clean mail: three fields in a fixed order", () => {
    expect(scanHeaderFields(v({}), versions)).toEqual([
      { name: HEADER_VERDICT, value: "clean" },
      { name: HEADER_ENGINE, value: "Bulwark 0.3.0 (engine wasm-1a2b3c)" },
      { name: HEADER_SIGNATURES, value: "main 62, daily 27501" },
    ]);
    expect(HEADER_VERDICT).toBe("X-Bulwark-Verdict");
  });

  it("names detections, and says cleaned when the mail was cleaned", () => {
    const inf = v({ status: "infected", infected: true, names: ["Eicar-Test-Signature", "Heuristics.Phishing.Email"] });
    expect(verdictFieldValue(inf)).toBe("infected; Eicar-Test-Signature, Heuristics.Phishing.Email");
    expect(verdictFieldValue(inf, true)).toBe("cleaned; Eicar-Test-Signature, Heuristics.Phishing.Email");
  });

  it("not scanned lists the distinct reasons and never says clean", () => {
    const ns = v({
      status: "not_scanned",
      notScanned: [
        { name: "Heuristics.Encrypted.Zip", path: "a.zip", reason: "encrypted" },
        { name: "Heuristics.Encrypted.Zip", path: "b.zip", reason: "encrypted" },
        { name: "Engine.Timeout", path: "", reason: "timeout" },
      ],
    });
    expect(verdictFieldValue(ns)).toBe("not-scanned; Heuristics.Encrypted.Zip, Engine.Timeout");
    expect(verdictFieldValue(v({ status: "error", error: "x" }))).toBe("error");
    expect(verdictFieldValue(v({ status: "weird" as never }))).toBe("unknown");
  });

  it("bounds the number of listed names", () => {
    const names = Array.from({ length: 1000 }, (_, i) => `Sig.${i}`);
    const value = verdictFieldValue(v({ status: "infected", infected: true, names }));
    expect(value).toContain(`(+${1000 - MAX_HEADER_NAMES} more)`);
    expect(value).toContain(`Sig.${MAX_HEADER_NAMES - 1} (+`);
    expect(value).not.toMatch(new RegExp(`Sig\\.${MAX_HEADER_NAMES}\\b`));
  });
});

describe("sanitising", () => {
  const hostile = [
    "Eicar\r\nBcc: victim@example.com",
    "x\rSubject: pwned",
    "x\nX-Bulwark-Verdict: clean",
    "x\r\n\r\n<html>body</html>",
    "tab\there\u0000nul\u007fdel\u0085nel",
    "\u2028line\u2029para",
  ];
  it.each(hostile)("no CR, LF or control character survives: %j", (s) => {
    const out = sanitizeHeaderValue(s);
    expect(out).toMatch(/^[\x20-\x7e]*$/);
    const fields = scanHeaderFields(v({ status: "infected", infected: true, names: [s] }), { product: s, engine: s, signatures: s });
    const text = formatHeaderFields(fields);
    // exactly three lines, each a field we wrote
    const lines = text.split("\r\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => l.slice(0, l.indexOf(":")))).toEqual([HEADER_VERDICT, HEADER_ENGINE, HEADER_SIGNATURES]);
    for (const l of lines) expect(l).toMatch(/^[\x20-\x7e]+$/);
  });

  it("replaces non-ASCII, collapses whitespace, trims", () => {
    expect(sanitizeHeaderValue("  Trojän   \t\r\n Ω ")).toBe("Troj?n ?");
    expect(sanitizeHeaderValue("😀")).toBe("?");
    expect(sanitizeHeaderValue(undefined)).toBe("");
    expect(sanitizeHeaderValue(42)).toBe("42");
  });

  it("cuts long values, and does it fast for huge ones", () => {
    const long = sanitizeHeaderValue("A".repeat(5000));
    expect(long.length).toBe(MAX_HEADER_VALUE);
    expect(long.endsWith("...")).toBe(true);
    const t0 = performance.now();
    const huge = sanitizeHeaderValue("B\r\n".repeat(10_000_000));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(huge.length).toBeLessThanOrEqual(MAX_HEADER_VALUE);
    expect(sanitizeHeaderValue("A".repeat(MAX_HEADER_VALUE))).toBe("A".repeat(MAX_HEADER_VALUE));
  });

  it("formats with CRLF or LF and refuses an invalid field name", () => {
    expect(formatHeaderFields([{ name: "X-A", value: "1" }], "\n")).toBe("X-A: 1\n");
    expect(formatHeaderFields([{ name: "X-A", value: "1\r\n2" }])).toBe("X-A: 1 2\r\n");
    for (const name of ["X A", "X:A", "", "X\r\nA", "Ä"]) expect(() => formatHeaderFields([{ name, value: "v" }])).toThrow(/invalid header field name/);
  });
});
