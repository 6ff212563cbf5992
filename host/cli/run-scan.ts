/**
 * The `bulwark scan` job: load the databases, walk the PATHs, scan files concurrently
 * through the library's worker pool, print results in walk order, print the summary and
 * return the exit code (0 clean, 1 found or not scanned, 2 error; clamscan's precedence).
 * Independent of clipanion so tests and the bench can call it with their own streams.
 */
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { Transform, type Readable, type Writable } from "node:stream";
import { createScanner } from "../index.js";
import type { Scanner, ScannerOptions } from "../api.js";
import type { Limits } from "../limits.js";
import { Progress } from "./progress.js";
import { classify, exitCodeOf, outcomeLines, outcomeRecord, summaryRecord, summaryText, type Outcome, type Summary } from "./report.js";
import { countInputs, walkInputs, type WalkEntry } from "./walk.js";

export interface ScanJobOptions {
  paths: string[];
  databases: string[];
  recursive: boolean;
  json: boolean;
  allmatch: boolean;
  quiet: boolean;
  infectedOnly: boolean;
  summary: boolean;
  /** undefined: 0 (calling thread) for a small job, else the library default (one per core) */
  workers?: number;
  builtin: boolean;
  limits: Partial<Limits>;
}

export interface ScanIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean; columns?: number };
}

/** At most this many load warnings are printed; a database with a million bad lines must
 *  not bury the scan output (the rest are counted in one line). */
const MAX_LOAD_WARNINGS = 20;
/** A job this small (only files/stdin on the command line, few and small) scans on the
 *  calling thread: starting worker threads costs more than scanning 16 MiB at GB/s. */
const SMALL_JOB_FILES = 8;
const SMALL_JOB_BYTES = 16 * 1024 * 1024;
/** Scans in flight per worker lane: 2 keeps every worker busy while the head of the
 *  queue is printed, and bounds the results held back for in-order printing. */
const IN_FLIGHT_PER_LANE = 2;
/** Signature counts below this trigger the "did the databases contribute anything" probe;
 *  above it, the databases obviously contributed (the built-in set is a handful). */
const BUILTIN_PROBE_BELOW = 100;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function isSmallJob(paths: readonly string[]): Promise<boolean> {
  if (paths.length > SMALL_JOB_FILES) return false;
  let bytes = 0;
  for (const p of paths) {
    if (p === "-") continue;
    try {
      const st = await stat(p);
      if (!st.isFile()) return false;
      bytes += st.size;
    } catch {
      continue; // reported as an error line later
    }
  }
  return bytes <= SMALL_JOB_BYTES;
}

/** How many signatures the built-in set alone has (only asked when the answer matters). */
async function builtinCount(): Promise<number> {
  const probe = await createScanner({ builtin: true, databases: [], workers: 0, cacheDir: null });
  try {
    return probe.signatureCount;
  } finally {
    await probe.close();
  }
}

/** A pass-through that counts bytes, for stdin's "Data read". */
function countingStream(source: Readable): { stream: Transform; count: () => number } {
  let n = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(null, chunk);
    },
  });
  source.on("error", (err) => stream.destroy(err));
  source.pipe(stream);
  return { stream, count: () => n };
}

export async function runScan(opts: ScanJobOptions, io: ScanIo): Promise<number> {
  const start = new Date();
  const useProgress = io.stderr.isTTY === true && !opts.quiet;
  const progress = useProgress ? new Progress(io.stderr as NodeJS.WriteStream) : null;
  const out = (text: string) => {
    progress?.clear();
    io.stdout.write(text);
  };
  const err = (text: string) => {
    progress?.clear();
    io.stderr.write(text);
  };

  if (opts.paths.filter((p) => p === "-").length > 1) {
    err("ERROR: standard input (-) given more than once\n");
    return 2;
  }
  for (const db of opts.databases) {
    try {
      await stat(db);
    } catch (e) {
      err(`ERROR: Can't open database ${db}: ${message(e)}\n`);
      return 2;
    }
  }

  const workers = opts.workers ?? ((await isSmallJob(opts.paths)) ? 0 : undefined);
  const scannerOpts: ScannerOptions = { databases: opts.databases, builtin: opts.builtin, limits: opts.limits, allmatch: opts.allmatch };
  if (workers !== undefined) scannerOpts.workers = workers;
  let scanner: Scanner;
  try {
    scanner = await createScanner(scannerOpts);
  } catch (e) {
    err(`ERROR: ${message(e)}\n`);
    return 2;
  }

  try {
    if (!opts.quiet) {
      for (const le of scanner.loadErrors.slice(0, MAX_LOAD_WARNINGS)) err(`LibBulwark Warning: ${le.file}:${le.line}: ${le.reason}\n`);
      const more = scanner.loadErrors.length - MAX_LOAD_WARNINGS;
      if (more > 0) err(`LibBulwark Warning: ${more} more bad database lines skipped\n`);
    }
    let fromDatabases = scanner.signatureCount;
    if (opts.databases.length > 0 && opts.builtin && fromDatabases < BUILTIN_PROBE_BELOW) fromDatabases -= await builtinCount();
    if (scanner.signatureCount === 0 || (opts.databases.length > 0 && fromDatabases <= 0)) {
      err(`ERROR: No usable signature loaded${opts.databases.length ? ` from ${opts.databases.join(", ")}` : ""}\n`);
      return 2;
    }
    const lanes = Math.max(1, workers ?? availableParallelism());
    return await scanAll(scanner, opts, io, { start, progress, out, err, lanes });
  } finally {
    progress?.stop();
    await scanner.close();
  }
}

interface JobContext {
  start: Date;
  progress: Progress | null;
  out: (text: string) => void;
  err: (text: string) => void;
  /** scans that can run at the same time (worker threads, or 1 on the calling thread) */
  lanes: number;
}

async function scanAll(scanner: Scanner, opts: ScanJobOptions, io: ScanIo, ctx: JobContext): Promise<number> {
  const { progress, out, err } = ctx;
  const s: Summary = {
    knownViruses: scanner.signatureCount,
    scannedDirectories: 0,
    scannedFiles: 0,
    infectedFiles: 0,
    notScannedFiles: 0,
    errors: 0,
    bytesScanned: 0,
    bytesRead: 0,
    start: ctx.start,
    end: ctx.start,
    exitCode: 0,
  };
  if (progress) {
    progress.start();
    countInputs(opts.paths, opts.recursive).then(
      (t) => progress.setTotals(t.files, t.bytes),
      () => undefined, // totals are cosmetic; the real walk reports errors
    );
  }

  const scanOne = async (e: WalkEntry): Promise<Outcome | null> => {
    switch (e.kind) {
      case "dir":
        return null;
      case "skip":
      case "error":
        return e;
      case "file":
        try {
          return { kind: "verdict", path: e.path, verdict: await scanner.scan(e.path, { name: e.path }), bytesRead: e.size };
        } catch (x) {
          return { kind: "error", path: e.path, reason: message(x) };
        }
      case "stdin": {
        const counted = countingStream(io.stdin);
        try {
          const verdict = await scanner.scan(counted.stream, { name: "stdin" });
          return { kind: "verdict", path: "stdin", verdict, bytesRead: counted.count() };
        } catch (x) {
          return { kind: "error", path: "stdin", reason: message(x) };
        }
      }
    }
  };

  const emit = (o: Outcome) => {
    const cls = classify(o);
    if (o.kind === "verdict") {
      s.bytesScanned += o.verdict.bytesScanned;
      s.bytesRead += o.bytesRead;
      if (o.verdict.status !== "error") s.scannedFiles++;
      if (o.verdict.status === "not_scanned") s.notScannedFiles++;
      progress?.fileDone(o.bytesRead);
    }
    if (cls === "found") s.infectedFiles++;
    if (cls === "error") s.errors++;
    // Filters: --quiet shows only errors, -i only FOUND on stdout (errors then go to stderr
    // so they are never lost), OK and skip lines only in the default mode.
    const hidden = opts.quiet ? cls !== "error" : opts.infectedOnly ? cls === "clean" || cls === "skip" : false;
    if (hidden) return;
    if (opts.json) out(JSON.stringify(outcomeRecord(o)) + "\n");
    else {
      const text = outcomeLines(o, opts.allmatch).join("\n") + "\n";
      if (cls === "error" && (opts.quiet || opts.infectedOnly)) err(text);
      else out(text);
    }
  };

  const maxInFlight = ctx.lanes * IN_FLIGHT_PER_LANE;
  const queue: Promise<Outcome | null>[] = [];
  const printHead = async () => {
    const o = await queue.shift()!;
    if (o) emit(o);
  };
  for await (const entry of walkInputs(opts.paths, opts.recursive)) {
    if (entry.kind === "dir") s.scannedDirectories++;
    queue.push(scanOne(entry));
    while (queue.length >= maxInFlight) await printHead();
  }
  while (queue.length > 0) await printHead();

  progress?.stop();
  s.end = new Date();
  s.exitCode = exitCodeOf(s);
  if (opts.summary && !opts.quiet) {
    if (opts.json) out(JSON.stringify(summaryRecord(s)) + "\n");
    else out(summaryText(s));
  }
  return s.exitCode;
}
