/**
 * A Scanner that can be replaced while it serves: signature reloads (SIGHUP, clamd's RELOAD)
 * build a new Scanner next to the current one and swap it in; requests already running finish
 * on the scanner they started on, which is closed only when its last one has answered. So a
 * reload never drops, fails or re-routes a request in flight.
 *
 * Reloads are coalesced: while one is being built, further requests only mark "again", and one
 * more build runs when it ends (it sees every file that changed meanwhile). A build that fails,
 * or whose load rejected a whole database file, is refused: the old scanner stays and the
 * reason is logged as an error. Cost of a reload: for its duration both databases and both
 * worker pools exist (twice the memory of one), and the synchronous part of loading (parse and
 * compile of files not in the compiled-database cache) runs on the manager's thread, so new
 * requests wait during it (they are not dropped).
 */
import type { Scanner } from "../api.js";
import type { LoadError } from "../sigs/types.js";

interface Generation {
  scanner: Scanner;
  inFlight: number;
  retired: boolean;
  closed: Promise<void> | null;
}

/** What the loader (host/sigs/load.ts) says when it rejected a whole container: a truncated or
 *  tampered .cvd/.cld/.cud (MD5 mismatch, bad gzip, not a CVD). Reloading past that would drop
 *  every signature of the official database, so the reload is refused instead. Bad single
 *  lines (line > 0) are skipped by the loader and do not refuse a reload. */
const REJECTED_FILE_REASONS = ["bad container:", "cannot read:"];

/** The load errors that mean "a whole database file was not loaded". */
export function rejectedFiles(errors: readonly LoadError[]): LoadError[] {
  return errors.filter((e) => e.line === 0 && REJECTED_FILE_REASONS.some((r) => e.reason.startsWith(r)));
}

/** Load warnings logged per load; the CLI prints the same number (host/cli/run-scan.ts). A large
 *  third-party database with an unsupported feature on every line would otherwise flood the log. */
export const MAX_LOGGED_LOAD_ERRORS = 20;

/** Log a load's skipped lines and files as warnings, the first MAX_LOGGED_LOAD_ERRORS of them. */
export function logLoadErrors(log: (m: string) => void, errors: readonly LoadError[]): void {
  for (const e of errors.slice(0, MAX_LOGGED_LOAD_ERRORS)) log(`warning: signatures: ${e.file}:${e.line}: ${e.reason} (skipped)`);
  if (errors.length > MAX_LOGGED_LOAD_ERRORS) log(`warning: signatures: ${errors.length - MAX_LOGGED_LOAD_ERRORS} more load errors not shown`);
}

export type ReloadResult = { ok: true; signatureCount: number } | { ok: false; reason: string };

export class SwappableScanner implements Scanner {
  private current: Generation;
  private readonly retiring = new Set<Generation>();
  private building: Promise<ReloadResult> | null = null;
  private again: Promise<ReloadResult> | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    first: Scanner,
    /** builds a scanner from the configuration as it is now */
    private readonly build: () => Promise<Scanner>,
    private readonly log: (m: string) => void,
  ) {
    this.current = { scanner: first, inFlight: 0, retired: false, closed: null };
  }

  get signatureCount(): number {
    return this.current.scanner.signatureCount;
  }
  get loadErrors(): readonly LoadError[] {
    return this.current.scanner.loadErrors;
  }
  get loadMs(): number {
    return this.current.scanner.loadMs;
  }
  /** scans running now, on every generation (for tests and STATS) */
  get inFlight(): number {
    let n = this.current.inFlight;
    for (const g of this.retiring) n += g.inFlight;
    return n;
  }
  /** old scanners still finishing their scans */
  get retiringCount(): number {
    return this.retiring.size;
  }

  async scan(input: Parameters<Scanner["scan"]>[0], opts?: Parameters<Scanner["scan"]>[1]) {
    const g = this.current;
    g.inFlight++;
    try {
      return await g.scanner.scan(input, opts);
    } finally {
      g.inFlight--;
      if (g.retired && g.inFlight === 0) void this.closeGeneration(g);
    }
  }

  /**
   * Build a new scanner and swap it in. Resolves when the build this request is served by has
   * finished (a request made during a build is served by the next one, which starts after it).
   */
  reload(): Promise<ReloadResult> {
    if (this.closing) return Promise.resolve({ ok: false, reason: "the scanner is closing" });
    if (!this.building) {
      this.building = this.buildAndSwap().finally(() => {
        this.building = null;
      });
      return this.building;
    }
    // coalesce: everyone who asks during this build shares one more build after it
    this.again ??= this.building.then(() => {
      this.again = null;
      return this.reload();
    });
    return this.again;
  }

  private async buildAndSwap(): Promise<ReloadResult> {
    let next: Scanner;
    try {
      next = await this.build();
    } catch (e) {
      const reason = (e as Error)?.message ?? String(e);
      this.log(`error: signature reload failed, keeping the loaded signatures: ${reason}`);
      return { ok: false, reason };
    }
    const rejected = rejectedFiles(next.loadErrors);
    if (rejected.length || this.closing) {
      await next.close().catch(() => {});
      if (this.closing) return { ok: false, reason: "the scanner is closing" };
      const reason = rejected.map((e) => `${e.file}: ${e.reason}`).join("; ");
      this.log(`error: signature reload refused, keeping the loaded signatures: ${reason}`);
      return { ok: false, reason };
    }
    logLoadErrors(this.log, next.loadErrors);
    const old = this.current;
    this.current = { scanner: next, inFlight: 0, retired: false, closed: null };
    old.retired = true;
    this.retiring.add(old);
    if (old.inFlight === 0) void this.closeGeneration(old);
    this.log(`signatures reloaded: ${next.signatureCount} loaded in ${Math.round(next.loadMs)} ms`);
    return { ok: true, signatureCount: next.signatureCount };
  }

  private closeGeneration(g: Generation): Promise<void> {
    g.closed ??= g.scanner
      .close()
      .catch((e: Error) => this.log(`error: closing a replaced scanner: ${e.message}`))
      .finally(() => this.retiring.delete(g));
    return g.closed;
  }

  /** Close every generation: queued and running scans end as the library's close() says
   *  (not-scanned verdicts), so callers are answered. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.building?.catch(() => {});
      const all = [this.current, ...this.retiring];
      await Promise.all(all.map((g) => this.closeGeneration(g)));
    })();
    return this.closing;
  }
}
