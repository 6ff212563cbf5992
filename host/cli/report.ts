/**
 * Output formats of `bulwark scan`: clamscan-compatible text lines and summary block, and
 * the --json records (one JSON object per line). Pure functions: the caller decides where
 * each piece is written, so the formats can be tested without running a scan.
 *
 * --json shape (one object per line, in walk order, then the summary unless --no-summary):
 *   {"type":"file","path":"d/a.exe","status":"infected"|"not_scanned"|"clean"|"error",
 *    "names":[...],"detections":[{"name","path","kind"}],"notScanned":[{"name","path","reason"}],
 *    "objects":N,"bytesScanned":N,"bytesRead":N,"error"?:"..."}
 *   {"type":"file","path":"d/link","status":"skipped","reason":"Symbolic link"}
 *   {"type":"summary","knownViruses":N,"engineVersion":"bulwark 0.1.0","scannedDirectories":N,
 *    "scannedFiles":N,"infectedFiles":N,"notScannedFiles":N,"errors":N,"bytesScanned":N,
 *    "bytesRead":N,"timeSec":N,"startDate":ISO-8601,"endDate":ISO-8601,"exitCode":0|1|2}
 * "infectedFiles" counts not-scanned files too (they print FOUND, as in the text summary);
 * "notScannedFiles" is the subset that was not scanned.
 */
import type { Verdict } from "../scan/verdict.js";

export const ENGINE_VERSION = "bulwark 0.1.0";

/** What happened to one walk entry, ready to print. */
export type Outcome =
  | { kind: "verdict"; path: string; verdict: Verdict; bytesRead: number }
  | { kind: "skip"; path: string; reason: string }
  | { kind: "error"; path: string; reason: string };

/** Names to print as FOUND for a verdict, in order, without duplicates. Without --allmatch
 *  only the first is printed (clamscan prints one line per file unless --allmatch). */
export function foundNames(v: Verdict, allmatch: boolean): string[] {
  const names: string[] = [];
  for (const n of v.names) if (!names.includes(n)) names.push(n);
  for (const ns of v.notScanned) if (!names.includes(ns.name)) names.push(ns.name);
  // A not-scanned verdict must never print OK; if the library gave no name, use a generic one.
  if (names.length === 0 && v.status === "not_scanned") names.push("Heuristics.Limits.Exceeded");
  return allmatch ? names : names.slice(0, 1);
}

/** Classification used by the counters, the exit code and the filters. */
export type OutcomeClass = "found" | "clean" | "error" | "skip";

export function classify(o: Outcome): OutcomeClass {
  if (o.kind === "skip") return "skip";
  if (o.kind === "error") return "error";
  switch (o.verdict.status) {
    case "infected":
    case "not_scanned":
      return "found";
    case "clean":
      return "clean";
    default:
      return "error";
  }
}

/** The text lines for one outcome (without trailing newlines). */
export function outcomeLines(o: Outcome, allmatch: boolean): string[] {
  if (o.kind === "skip") return [`${o.path}: ${o.reason}`];
  if (o.kind === "error") return [`${o.path}: ${o.reason} ERROR`];
  const v = o.verdict;
  switch (classify(o)) {
    case "found":
      return foundNames(v, allmatch).map((n) => `${o.path}: ${n} FOUND`);
    case "clean":
      return [`${o.path}: OK`];
    default:
      return [`${o.path}: ${v.error ?? "Scan failed"} ERROR`];
  }
}

/** The --json record for one outcome. */
export function outcomeRecord(o: Outcome): Record<string, unknown> {
  if (o.kind === "skip") return { type: "file", path: o.path, status: "skipped", reason: o.reason };
  if (o.kind === "error") {
    return { type: "file", path: o.path, status: "error", names: [], detections: [], notScanned: [], objects: 0, bytesScanned: 0, bytesRead: 0, error: o.reason };
  }
  const v = o.verdict;
  const rec: Record<string, unknown> = {
    type: "file",
    path: o.path,
    status: v.status,
    names: v.names,
    detections: v.detections,
    notScanned: v.notScanned,
    objects: v.objects,
    bytesScanned: v.bytesScanned,
    bytesRead: o.bytesRead,
  };
  if (v.status === "error" || v.error !== undefined) rec.error = v.error ?? "Scan failed";
  return rec;
}

export interface Summary {
  knownViruses: number;
  scannedDirectories: number;
  scannedFiles: number;
  infectedFiles: number; // FOUND files, not-scanned included
  notScannedFiles: number;
  errors: number;
  bytesScanned: number;
  bytesRead: number;
  start: Date;
  end: Date;
  exitCode: number;
}

/** clamscan's exit rule (checked on 1.4.6): 1 if anything was found, else 2 if any error, else 0. */
export function exitCodeOf(s: Pick<Summary, "infectedFiles" | "errors">): number {
  if (s.infectedFiles > 0) return 1;
  if (s.errors > 0) return 2;
  return 0;
}

const MB = 1024 * 1024;

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** clamscan's date format: "2026:11:25 15:37:17", local time. */
export function clamDate(d: Date): string {
  return `${d.getFullYear()}:${pad2(d.getMonth() + 1)}:${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** The summary block exactly in clamscan 1.4.6's shape (including the leading empty line). */
export function summaryText(s: Summary): string {
  const ms = Math.max(0, s.end.getTime() - s.start.getTime());
  const secs = Math.floor(ms / 1000);
  const ratio = s.bytesRead > 0 ? s.bytesScanned / s.bytesRead : 0;
  const lines = [
    "",
    "----------- SCAN SUMMARY -----------",
    `Known viruses: ${s.knownViruses}`,
    `Engine version: ${ENGINE_VERSION}`,
    `Scanned directories: ${s.scannedDirectories}`,
    `Scanned files: ${s.scannedFiles}`,
    `Infected files: ${s.infectedFiles}`,
  ];
  if (s.errors > 0) lines.push(`Total errors: ${s.errors}`);
  lines.push(
    `Data scanned: ${(s.bytesScanned / MB).toFixed(2)} MB`,
    `Data read: ${(s.bytesRead / MB).toFixed(2)} MB (ratio ${ratio.toFixed(2)}:1)`,
    `Time: ${secs}.${String(ms % 1000).padStart(3, "0")} sec (${Math.floor(secs / 60)} m ${secs % 60} s)`,
    `Start Date: ${clamDate(s.start)}`,
    `End Date:   ${clamDate(s.end)}`,
  );
  return lines.join("\n") + "\n";
}

export function summaryRecord(s: Summary): Record<string, unknown> {
  return {
    type: "summary",
    knownViruses: s.knownViruses,
    engineVersion: ENGINE_VERSION,
    scannedDirectories: s.scannedDirectories,
    scannedFiles: s.scannedFiles,
    infectedFiles: s.infectedFiles,
    notScannedFiles: s.notScannedFiles,
    errors: s.errors,
    bytesScanned: s.bytesScanned,
    bytesRead: s.bytesRead,
    timeSec: Math.max(0, s.end.getTime() - s.start.getTime()) / 1000,
    startDate: s.start.toISOString(),
    endDate: s.end.toISOString(),
    exitCode: s.exitCode,
  };
}
