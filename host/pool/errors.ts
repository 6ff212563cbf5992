/**
 * Every way a WorkerPool job can fail, one class each, each with a stable `code` so
 * callers can map failures to wire replies in one exhaustive table
 * (Record<PoolErrorCode, Reply>). A pool never resolves a job on failure: all of these
 * arrive as rejections, so none of them can be mistaken for a "clean" result.
 */
import type { RemoteError } from "./protocol.js";
import { formatRemoteError } from "./protocol.js";

export const POOL_ERROR_CODES = [
  "ETIMEDOUT", // JobTimeout: the watchdog killed the worker running the job
  "ECRASHED", // WorkerCrashed: the worker died (or became untrustworthy) while running the job
  "EBUSY", // PoolBusy: the queue is full; try again later
  "ECLOSED", // PoolClosed: close() was called
  "EBROKEN", // PoolBroken: workers cannot be (re)started; the pool gave up
  "EJOBFAILED", // JobFailed: the job's handler threw, or the job/reply could not be cloned
  "ESTART", // PoolStartFailed: a worker failed during start()
  "ENOTSTARTED", // PoolNotStarted: run() before start()
] as const;

export type PoolErrorCode = (typeof POOL_ERROR_CODES)[number];

export class PoolError extends Error {
  constructor(
    public readonly code: PoolErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "PoolError";
  }
}

export function isPoolError(e: unknown): e is PoolError {
  return e instanceof PoolError;
}

export class JobTimeout extends PoolError {
  constructor(
    public readonly worker: string,
    public readonly timeoutMs: number,
  ) {
    super("ETIMEDOUT", `job ran longer than ${timeoutMs} ms on worker ${worker}; worker terminated`);
    this.name = "JobTimeout";
  }
}

export interface CrashDetails {
  /** the Error the worker emitted, when there was one */
  cause?: unknown;
  /** the worker's exit code, when it exited */
  exitCode?: number;
  /** the original error's code, e.g. "ERR_WORKER_OUT_OF_MEMORY" */
  workerCode?: string;
}

export class WorkerCrashed extends PoolError {
  public readonly exitCode?: number;
  public readonly workerCode?: string;
  /** `reason` is the original error message, kept verbatim */
  constructor(
    public readonly worker: string,
    public readonly reason: string,
    details: CrashDetails = {},
  ) {
    super("ECRASHED", `worker ${worker} crashed: ${reason}`, { cause: details.cause });
    this.name = "WorkerCrashed";
    this.exitCode = details.exitCode;
    this.workerCode = details.workerCode;
  }
}

export class PoolBusy extends PoolError {
  constructor(public readonly maxQueue: number) {
    super("EBUSY", `worker pool queue is full (${maxQueue} jobs waiting); try again later`);
    this.name = "PoolBusy";
  }
}

export class PoolClosed extends PoolError {
  constructor(detail = "worker pool is closed") {
    super("ECLOSED", detail);
    this.name = "PoolClosed";
  }
}

export class PoolBroken extends PoolError {
  constructor(reason: string, cause?: unknown) {
    super("EBROKEN", `worker pool is broken: ${reason}`, { cause });
    this.name = "PoolBroken";
  }
}

export class JobFailed extends PoolError {
  public readonly remoteName: string;
  public readonly remoteCode?: string;
  /** the error as thrown in the worker (name, message, code) */
  constructor(
    public readonly worker: string,
    public readonly remote: RemoteError,
  ) {
    super("EJOBFAILED", formatRemoteError(remote));
    this.name = "JobFailed";
    this.remoteName = remote.name;
    this.remoteCode = remote.code;
  }
}

export class PoolStartFailed extends PoolError {
  constructor(
    public readonly worker: string,
    reason: string,
    cause?: unknown,
  ) {
    super("ESTART", `worker ${worker} failed to start: ${reason}`, { cause });
    this.name = "PoolStartFailed";
  }
}

export class PoolNotStarted extends PoolError {
  constructor() {
    super("ENOTSTARTED", "WorkerPool.run() called before start()");
    this.name = "PoolNotStarted";
  }
}
