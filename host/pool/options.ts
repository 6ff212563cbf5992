/**
 * WorkerPool's options, states and the named bounds it enforces (each with why).
 */
import type { WorkerOptions } from "node:worker_threads";

/** Default cap on jobs waiting for a worker. A queued job is a message held in memory
 *  (often with its bytes) while its client waits; at ms-scale scans on a few workers,
 *  10 000 jobs is already seconds of backlog. Beyond it the caller should answer with a
 *  temporary failure so the sender retries later, instead of us buffering without bound. */
export const MAX_QUEUE = 10_000;

/** Replacement workers that may fail to start in a row before the pool gives up. A
 *  worker that cannot start (missing file, bad WASM, out of memory) usually keeps
 *  failing; 5 tries with backoff (~1.5 s) rides out a transient hiccup without looping. */
export const MAX_CONSECUTIVE_START_FAILURES = 5;

/** Backoff before the next replacement after n start failures: BASE·2^(n-1), capped.
 *  The first replacement after a crash starts at once. */
export const RESPAWN_BACKOFF_BASE_MS = 100;
export const RESPAWN_BACKOFF_MAX_MS = 5_000;

/** Default time a worker may take from spawn to "ready". Spawning measured ~130 ms and
 *  the scan worker's init (instantiate + warm-up) well under a second; 30 s leaves room
 *  for a loaded machine while still catching an init that hangs. */
export const DEFAULT_START_TIMEOUT_MS = 30_000;

/** More threads than this cannot help on any realistic host (each costs an isolate,
 *  ~10 MB); a larger value is a configuration mistake, reported as such. */
export const MAX_POOL_SIZE = 256;

/** setTimeout fires immediately for delays above 2^31-1 ms; reject those up front. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface WorkerPoolOptions {
  /** compiled .js/.mjs file that calls serveJobs() */
  workerFile: string | URL;
  /** number of workers, 1..MAX_POOL_SIZE */
  size: number;
  /** passed to every worker (and to its serveJobs init) */
  workerData?: unknown;
  /** default watchdog per job, counted from when a worker receives the job */
  jobTimeoutMs: number;
  resourceLimits?: WorkerOptions["resourceLimits"];
  /** label for thread names and error messages (default "pool") */
  name?: string;
  /** max jobs waiting for a worker (default MAX_QUEUE) */
  maxQueue?: number;
  /** max time from spawn to ready (default DEFAULT_START_TIMEOUT_MS) */
  startTimeoutMs?: number;
}

export interface RunOptions {
  /** watchdog for this job instead of jobTimeoutMs (e.g. the caller's remaining budget) */
  timeoutMs?: number;
}

export type PoolState = "new" | "starting" | "running" | "broken" | "closed";

export function checkTimeout(what: string, ms: number): void {
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
    throw new RangeError(`WorkerPool ${what} must be in (0, ${MAX_TIMER_MS}] ms, got ${ms}`);
  }
}
