/**
 * Statistics that survive a restart: `openStatistics(file)` loads the state file, and every
 * change is saved atomically (state-file.ts) at most once per SAVE_INTERVAL_MS and on close().
 *
 * Failure rules: the statistics never stop the daemon.
 *   - a missing file starts every agent at zero;
 *   - a corrupt or partial file is reported (onProblem), renamed aside to FILE.corrupt-TIME-RAND
 *     so nothing is lost for a post-mortem, and replaced by zeros at the first save;
 *   - an unreadable file (permissions, a directory) is reported and counting starts at zero;
 *   - a failed save is reported once, retried every interval, and its recovery reported.
 * Only close() and flush() reject on a failed save: their caller (shutdown, `bulwark stats
 * --reset`) needs to know the counts did not reach the disk.
 */
import fs from "node:fs";
import { Statistics, type StatisticsOptions, type StatsSnapshot } from "./counters.js";
import { CorruptStateError, encodeState, readStateFile, writeStateAtomic } from "./state-file.js";

/** Saving fsyncs a file and its directory; counting happens per scanned mail (hundreds per
 *  second). Five seconds bounds both the disk work and the counts a crash can lose. */
export const SAVE_INTERVAL_MS = 5_000;

/** System default under the cache dir (SPEC §1); BULWARK_STATS overrides it for every command. */
export const SYSTEM_STATS_FILE = "/var/cache/bulwark/stats.json";

export function defaultStatsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.BULWARK_STATS || SYSTEM_STATS_FILE;
}

/** Runs `fn` after `ms` milliseconds; returns a function cancelling it. */
export type Scheduler = (fn: () => void, ms: number) => () => void;

/** Real timers, unref'd: a pending save must not keep a finished process alive (close() saves). */
export const timerScheduler: Scheduler = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export interface OpenStatisticsOptions {
  /** milliseconds since the epoch (default Date.now); tests inject a clock */
  now?: () => number;
  /** default: real timers (timerScheduler); tests inject one they fire by hand */
  schedule?: Scheduler;
  /** problems worth a log line (corrupt file, failed save); default: stderr */
  onProblem?: (message: string) => void;
}

export class PersistentStatistics extends Statistics {
  private readonly schedule: Scheduler;
  private readonly report: (message: string) => void;
  private dirty = false;
  private closed = false;
  private failing = false;
  private lastSaveAt = Number.NEGATIVE_INFINITY;
  private cancelTimer: (() => void) | null = null;
  private saving: Promise<Error | null> | null = null;

  /** Use openStatistics(). */
  constructor(
    readonly file: string,
    options: OpenStatisticsOptions & { initial?: StatisticsOptions["initial"]; startDirty?: boolean },
  ) {
    super({ now: options.now, initial: options.initial });
    this.schedule = options.schedule ?? timerScheduler;
    this.report = options.onProblem ?? ((m) => process.stderr.write(`bulwark stats: ${m}\n`));
    if (options.startDirty) this.changed();
  }

  /** Save now if anything changed (waiting for a save in progress first). Rejects when the
   *  state could not be written. */
  async flush(): Promise<void> {
    this.cancel();
    if (this.saving) await this.saving;
    this.cancel(); // the finished save may have scheduled the next one; this call does it now
    if (!this.dirty) return;
    const err = await this.saveNow();
    if (err) throw new Error(`cannot save statistics to ${this.file}: ${err.message}`);
  }

  /** Resolves once no save is in progress (without starting one); for shutdown ordering and tests. */
  async idle(): Promise<void> {
    while (this.saving) await this.saving;
  }

  /** Save what is pending and refuse further changes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
  }

  protected override checkWritable(): void {
    if (this.closed) throw new Error(`statistics ${this.file} are closed`);
  }

  protected override changed(): void {
    this.dirty = true;
    this.ensureScheduled();
  }

  /** One pending save at a time, no earlier than SAVE_INTERVAL_MS after the previous one. */
  private ensureScheduled(): void {
    if (this.cancelTimer || this.saving || !this.dirty || this.closed) return;
    const delay = Math.max(0, this.lastSaveAt + SAVE_INTERVAL_MS - this.now());
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = null;
      void this.saveNow();
    }, delay);
  }

  private cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private saveNow(): Promise<Error | null> {
    if (this.saving) return this.saving;
    this.dirty = false;
    this.lastSaveAt = this.now();
    const snap: StatsSnapshot = this.snapshot();
    const run = writeStateAtomic(this.file, encodeState(snap)).then(
      () => {
        if (this.failing) this.report(`saving ${this.file} works again`);
        this.failing = false;
        return null;
      },
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        this.dirty = true; // the changes are still only in memory: retry at the next interval
        if (!this.failing) this.report(`cannot save ${this.file}: ${err.message} (retrying every ${SAVE_INTERVAL_MS / 1000} s)`);
        this.failing = true;
        return err;
      },
    );
    this.saving = run.finally(() => {
      this.saving = null;
      this.ensureScheduled();
    });
    return this.saving;
  }
}

function timeTag(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Load `file` (see the failure rules above) and return statistics that save themselves. */
export function openStatistics(file: string, options: OpenStatisticsOptions = {}): PersistentStatistics {
  const now = options.now ?? Date.now;
  const report = options.onProblem ?? ((m: string) => process.stderr.write(`bulwark stats: ${m}\n`));
  let initial;
  let startDirty = false;
  try {
    initial = readStateFile(file) ?? undefined;
  } catch (e) {
    if (e instanceof CorruptStateError) {
      const aside = `${file}.corrupt-${timeTag(now())}-${Math.random().toString(16).slice(2, 8)}`;
      try {
        fs.renameSync(file, aside);
        report(`${file} is corrupt (${e.message}); kept as ${aside}, counting restarts at zero`);
      } catch (re) {
        report(`${file} is corrupt (${e.message}) and could not be kept aside (${(re as Error).message}); counting restarts at zero`);
      }
      startDirty = true; // replace the corrupt state with zeros at the first save
    } else {
      report(`cannot read ${file}: ${(e as Error).message}; counting starts at zero`);
    }
  }
  return new PersistentStatistics(file, { ...options, now, onProblem: report, initial, startDirty });
}
