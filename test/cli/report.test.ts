/** Output formats of `bulwark scan`: verdict lines, the clamscan summary block, JSON records. */
import { describe, expect, it } from "vitest";
import { classify, clamDate, exitCodeOf, foundNames, outcomeLines, outcomeRecord, summaryRecord, summaryText, type Summary } from "../../host/cli/report.js";
import type { Verdict } from "../../host/scan/verdict.js";

function verdict(over: Partial<Verdict>): Verdict {
  return { status: "clean", infected: false, names: [], detections: [], notScanned: [], objects: 1, bytesScanned: 10, ...over };
}

describe("verdict lines", () => {
  const infected = verdict({ status: "infected", infected: true, names: ["A.UNOFFICIAL", "B.UNOFFICIAL"] });

  it("prints one FOUND line per name with --allmatch, the first only without", () => {
    const o = { kind: "verdict" as const, path: "x/y.bin", verdict: infected, bytesRead: 10 };
    expect(outcomeLines(o, true)).toEqual(["x/y.bin: A.UNOFFICIAL FOUND", "x/y.bin: B.UNOFFICIAL FOUND"]);
    expect(outcomeLines(o, false)).toEqual(["x/y.bin: A.UNOFFICIAL FOUND"]);
  });

  it("prints a not-scanned verdict as FOUND with its heuristic name, never OK", () => {
    const v = verdict({ status: "not_scanned", notScanned: [{ name: "Heuristics.Limits.Exceeded.MaxFileSize", path: "", reason: "big" }] });
    const o = { kind: "verdict" as const, path: "big.iso", verdict: v, bytesRead: 0 };
    expect(outcomeLines(o, false)).toEqual(["big.iso: Heuristics.Limits.Exceeded.MaxFileSize FOUND"]);
    expect(classify(o)).toBe("found");
    // Even without a name from the library, it must not read as OK.
    const bare = { kind: "verdict" as const, path: "b", verdict: verdict({ status: "not_scanned" }), bytesRead: 0 };
    expect(outcomeLines(bare, false)[0]).toMatch(/^b: Heuristics\.\S+ FOUND$/);
  });

  it("adds not-scanned names after detections with --allmatch, without duplicates", () => {
    const v = verdict({ status: "infected", names: ["A", "A"], notScanned: [{ name: "Heuristics.Encrypted.Zip", path: "z.zip", reason: "" }] });
    expect(foundNames(v, true)).toEqual(["A", "Heuristics.Encrypted.Zip"]);
  });

  it("prints clean as OK, errors as ERROR, skips as their reason", () => {
    expect(outcomeLines({ kind: "verdict", path: "a", verdict: verdict({}), bytesRead: 1 }, false)).toEqual(["a: OK"]);
    expect(outcomeLines({ kind: "verdict", path: "a", verdict: verdict({ status: "error", error: "EIO" }), bytesRead: 0 }, false)).toEqual(["a: EIO ERROR"]);
    expect(outcomeLines({ kind: "error", path: "m", reason: "No such file or directory" }, false)).toEqual(["m: No such file or directory ERROR"]);
    expect(outcomeLines({ kind: "skip", path: "l", reason: "Symbolic link" }, false)).toEqual(["l: Symbolic link"]);
  });

  it("builds JSON records with the verdict fields and bytesRead", () => {
    const rec = outcomeRecord({ kind: "verdict", path: "p", verdict: infected, bytesRead: 7 });
    expect(rec).toMatchObject({ type: "file", path: "p", status: "infected", names: infected.names, bytesRead: 7, bytesScanned: 10 });
    expect(rec).not.toHaveProperty("error");
    expect(outcomeRecord({ kind: "error", path: "m", reason: "gone" })).toMatchObject({ status: "error", error: "gone" });
  });
});

describe("summary", () => {
  const base: Summary = {
    knownViruses: 3,
    scannedDirectories: 2,
    scannedFiles: 5,
    infectedFiles: 1,
    notScannedFiles: 0,
    errors: 0,
    bytesScanned: 3 * 1024 * 1024,
    bytesRead: 1024 * 1024 + 512 * 1024,
    start: new Date(2026, 10, 25, 9, 5, 7, 0),
    end: new Date(2026, 10, 25, 9, 6, 19, 42),
    exitCode: 1,
  };

  it("has clamscan 1.4.6's exact shape", () => {
    expect(summaryText(base)).toBe(
      [
        "",
        "----------- SCAN SUMMARY -----------",
        "Known viruses: 3",
        "Engine version: bulwark 0.1.0",
        "Scanned directories: 2",
        "Scanned files: 5",
        "Infected files: 1",
        "Data scanned: 3.00 MB",
        "Data read: 1.50 MB (ratio 2.00:1)",
        "Time: 72.042 sec (1 m 12 s)",
        "Start Date: 2026:11:25 09:05:07",
        "End Date:   2026:11:25 09:06:19",
        "",
      ].join("\n"),
    );
  });

  it("adds Total errors only when there were errors, and a 0.00 ratio when nothing was read", () => {
    const t = summaryText({ ...base, errors: 2, bytesRead: 0 });
    expect(t).toContain("Infected files: 1\nTotal errors: 2\nData scanned");
    expect(t).toContain("Data read: 0.00 MB (ratio 0.00:1)");
  });

  it("uses clamscan's precedence for the exit code", () => {
    expect(exitCodeOf({ infectedFiles: 0, errors: 0 })).toBe(0);
    expect(exitCodeOf({ infectedFiles: 2, errors: 0 })).toBe(1);
    expect(exitCodeOf({ infectedFiles: 0, errors: 1 })).toBe(2);
    expect(exitCodeOf({ infectedFiles: 1, errors: 1 })).toBe(1);
  });

  it("formats dates like clamscan and the JSON summary with ISO dates", () => {
    expect(clamDate(new Date(2026, 0, 2, 3, 4, 5))).toBe("2026:01:02 03:04:05");
    const rec = summaryRecord(base);
    expect(rec).toMatchObject({ type: "summary", knownViruses: 3, infectedFiles: 1, timeSec: 72.042, exitCode: 1 });
    expect(rec.startDate).toBe(base.start.toISOString());
  });
});
