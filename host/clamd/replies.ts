/**
 * Verdicts as clamd reply lines, and the path commands (SCAN, CONTSCAN, MULTISCAN,
 * ALLMATCHSCAN) that walk files and directories and produce those lines.
 *
 * Mapping (a verdict that was not fully scanned never reads OK):
 *   infected     → `<path>: <Name> FOUND` (ALLMATCHSCAN: one line per name)
 *   not_scanned  → `<path>: <Heuristics.Limits.Exceeded.X …> FOUND`, like clamd with
 *                  AlertExceedsMax; an engine fault (Bulwark.Error.*) → `<path>: <reason> ERROR`
 *   error        → `<path>: <reason> ERROR`
 *   clean        → `<path>: OK`
 * ALLMATCHSCAN lists every name the verdict holds; the library stops at the first match
 * unless the Scanner was created with `allmatch: true`, so a daemon that wants clamd's
 * all-match behaviour passes that option.
 */
import { lstat, readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Scanner } from "../api.js";
import type { Verdict } from "../scan/verdict.js";

/** Directory levels entered below a SCAN argument. clamd MaxDirectoryRecursion default 15:
 *  deeper trees are almost always loops or hostile; each level holds one listing in memory. */
export const MAX_DIRECTORY_DEPTH = 15;
/** Files MULTISCAN scans at once. clamd uses its thread pool (MaxThreads 10); the library's
 *  worker pool queues the rest, so more in flight only costs memory for queued paths. */
export const MULTISCAN_PARALLEL = 4;

const FAULT_PREFIX = "Bulwark.Error.";

/** Reply lines for one scanned object (`label` is the path as the client sent it, or "stream"). */
export function verdictLines(label: string, v: Verdict, allmatch = false): string[] {
  if (v.status === "infected" || v.names.length > 0) {
    const names = allmatch ? v.names : v.names.slice(0, 1);
    return names.map((n) => `${label}: ${n} FOUND`);
  }
  if (v.status === "error") return [`${label}: ${oneLine(v.error ?? v.notScanned[0]?.reason ?? "Can't read")}. ERROR`];
  if (v.status === "not_scanned") {
    const first = v.notScanned[0];
    // "not scanned" without a reason is a broken verdict (an internal fault), so ERROR
    // (tempfail for a mail client), like every other Bulwark.Error.*; FOUND would block the mail
    if (!first) return [`${label}: Bulwark.Error.Internal. ERROR`];
    if (first.name.startsWith(FAULT_PREFIX)) return [`${label}: ${oneLine(first.reason || first.name)}. ERROR`];
    return [`${label}: ${first.name} FOUND`];
  }
  return [`${label}: OK`];
}

/** A reply line may not contain the terminators it is framed with. */
function oneLine(s: string): string {
  return s.replace(/[\0\r\n]+/g, " ").replace(/\.+$/, "");
}

/** errno → clamd's "File path check failure" wording (strerror text). */
function pathFailure(label: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const text =
    code === "ENOENT" ? "No such file or directory"
    : code === "EACCES" || code === "EPERM" ? "Permission denied"
    : code === "ENOTDIR" ? "Not a directory"
    : code === "ELOOP" ? "Too many levels of symbolic links"
    : oneLine((err as Error)?.message ?? String(err));
  return `${label}: File path check failure: ${text}. ERROR`;
}

export type PathMode = "SCAN" | "CONTSCAN" | "MULTISCAN" | "ALLMATCHSCAN";

/** Regular files under `dir`, sorted by name, not following symbolic links (clamd defaults
 *  FollowDirectorySymlinks/FollowFileSymlinks no), at most MAX_DIRECTORY_DEPTH levels. */
async function* filesUnder(dir: string, depth: number): AsyncGenerator<{ file: string } | { error: string }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    yield { error: pathFailure(dir, err) };
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
    if (e.isFile()) yield { file: p };
    else if (e.isDirectory() && depth < MAX_DIRECTORY_DEPTH) yield* filesUnder(p, depth + 1);
  }
}

/**
 * Run a path command and return its reply lines (without terminators). The argument is
 * printed as sent (trailing slashes removed, like clamd); a relative path is resolved
 * against "/" because that is clamd's working directory.
 */
export async function scanPathCommand(scanner: Scanner, mode: PathMode, arg: string): Promise<string[]> {
  const label = arg.length > 1 ? arg.replace(/\/+$/, "") || "/" : arg;
  // clamd: an empty path is a missing file (never "/", which would scan the whole disk)
  if (label === "") return [pathFailure(label, Object.assign(new Error(), { code: "ENOENT" }))];
  const abs = path.resolve("/", label);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    return [pathFailure(label, err)];
  }
  const allmatch = mode === "ALLMATCHSCAN";
  if (st.isFile()) return verdictLines(label, await scanner.scan(abs), allmatch);
  if (!st.isDirectory()) return [`${label}: Not supported file type. ERROR`];

  const lines: string[] = [];
  const report = (file: string, v: Verdict): boolean => {
    if (v.status === "clean" && v.names.length === 0) return false;
    lines.push(...verdictLines(file, v, allmatch));
    return true;
  };
  const root = abs === label ? label : abs;
  if (mode === "MULTISCAN") {
    const running = new Set<Promise<void>>();
    for await (const item of filesUnder(root, 0)) {
      if ("error" in item) {
        lines.push(item.error);
        continue;
      }
      const job: Promise<void> = scanner.scan(item.file).then((v) => void report(item.file, v));
      running.add(job);
      void job.finally(() => running.delete(job));
      if (running.size >= MULTISCAN_PARALLEL) await Promise.race(running);
    }
    await Promise.all(running);
  } else {
    for await (const item of filesUnder(root, 0)) {
      if ("error" in item) {
        lines.push(item.error);
        continue;
      }
      // SCAN and ALLMATCHSCAN (clamd: SCAN with all-match on) stop at the first file with
      // something to report; CONTSCAN goes on
      if (report(item.file, await lstatThenScan(scanner, item.file)) && mode !== "CONTSCAN") break;
    }
  }
  return lines.length ? lines : [`${label}: OK`];
}

/** A file can vanish between the listing and the scan: report that as clamd would. */
async function lstatThenScan(scanner: Scanner, file: string): Promise<Verdict> {
  try {
    await lstat(file);
  } catch (err) {
    return {
      status: "error", infected: false, names: [], detections: [], notScanned: [], objects: 0, bytesScanned: 0,
      error: pathFailure(file, err).slice(file.length + 2, -" ERROR".length),
    };
  }
  return scanner.scan(file);
}
