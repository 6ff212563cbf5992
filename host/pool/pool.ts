/**
 * WorkerPool: a fixed number of node:worker_threads workers, each running one job at a
 * time, fed from a bounded FIFO queue. It owns the failure cases so callers never hang:
 * a job that runs too long has its worker terminated (this stops even an infinite WASM
 * loop) and gets JobTimeout; a worker that dies gets its job rejected with WorkerCrashed
 * and is replaced; if replacements keep failing to start, the pool gives up (PoolBroken)
 * rather than respawning forever. Generic: it knows nothing about scanning. The worker
 * file is compiled JS that calls serveJobs() from ./worker-side.js.
 */
import { Worker, type TransferListItem } from "node:worker_threads";
import {
  JobFailed,
  JobTimeout,
  PoolBroken,
  PoolBusy,
  PoolClosed,
  PoolNotStarted,
  PoolStartFailed,
  WorkerCrashed,
} from "./errors.js";
import { Fifo } from "./fifo.js";
import {
  checkTimeout,
  DEFAULT_START_TIMEOUT_MS,
  MAX_CONSECUTIVE_START_FAILURES,
  MAX_POOL_SIZE,
  MAX_QUEUE,
  RESPAWN_BACKOFF_BASE_MS,
  RESPAWN_BACKOFF_MAX_MS,
  type PoolState,
  type RunOptions,
  type WorkerPoolOptions,
} from "./options.js";
import type { InitErrorMessage, JobMessage, ReplyErr, ReplyOk } from "./protocol.js";
import { registerFaultTarget, unregisterFaultTarget } from "./test-faults.js";
import { describeError, formatRemoteError, hasType, isReplyTo, preview } from "./protocol.js";

export * from "./options.js";

interface Job<Req, Res> {
  id: number;
  req: Req;
  transfer: readonly TransferListItem[];
  timeoutMs: number;
  resolve: (res: Res) => void;
  reject: (err: Error) => void;
}

interface Slot<Req, Res> {
  worker: Worker;
  label: string;
  phase: "starting" | "idle" | "busy" | "retired";
  job: Job<Req, Res> | undefined;
  /** the start timeout while starting, the job watchdog while busy */
  timer: NodeJS.Timeout | undefined;
  onReady: () => void;
  onStartFailed: (err: PoolStartFailed) => void;
}

export class WorkerPool<Req, Res> {
  private readonly opts: Readonly<WorkerPoolOptions>;
  private readonly name: string;
  private readonly maxQueue: number;
  private readonly startTimeoutMs: number;
  private poolState: PoolState = "new";
  private brokenBy: Error | undefined;
  private readonly queue = new Fifo<Job<Req, Res>>();
  /** ready workers (idle or busy) */
  private readonly slots = new Set<Slot<Req, Res>>();
  private readonly idle: Slot<Req, Res>[] = [];
  /** every Worker not yet exited, including starting and retired ones; close() awaits them */
  private readonly living = new Set<Worker>();
  private readonly backoffTimers = new Set<NodeJS.Timeout>();
  private nextJobId = 1;
  private spawned = 0;
  private restartCount = 0;
  private startFailuresInARow = 0;

  constructor(opts: WorkerPoolOptions) {
    const { size, jobTimeoutMs } = opts;
    if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
      throw new RangeError(`WorkerPool size must be an integer in 1..${MAX_POOL_SIZE}, got ${size}`);
    }
    checkTimeout("jobTimeoutMs", jobTimeoutMs);
    this.startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    checkTimeout("startTimeoutMs", this.startTimeoutMs);
    this.maxQueue = opts.maxQueue ?? MAX_QUEUE;
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 0) {
      throw new RangeError(`WorkerPool maxQueue must be a non-negative integer, got ${this.maxQueue}`);
    }
    this.opts = { ...opts };
    this.name = opts.name ?? "pool";
    registerFaultTarget(this); // only under BULWARK_TEST_FAULTS=1 (test-faults.ts)
  }

  /** Test fault hook (test-faults.ts): terminate one busy worker without retiring it first, so
   *  the pool meets its exit exactly as it meets a crash. Returns its label, or undefined. */
  terminateBusyWorker(): string | undefined {
    for (const slot of this.slots) {
      if (slot.phase !== "busy") continue;
      void slot.worker.terminate().catch(() => {});
      return slot.label;
    }
    return undefined;
  }

  /** configured number of workers */
  get size(): number {
    return this.opts.size;
  }
  /** workers running a job now */
  get busy(): number {
    return this.slots.size - this.idle.length;
  }
  /** jobs waiting for a worker */
  get queued(): number {
    return this.queue.length;
  }
  /** replacement workers spawned after a timeout, crash or failed replacement */
  get restarts(): number {
    return this.restartCount;
  }
  get state(): PoolState {
    return this.poolState;
  }

  /** Spawn `size` workers and wait until each reports ready. On any failure the pool
   *  terminates all workers, becomes "broken" and this rejects with PoolStartFailed. */
  async start(): Promise<void> {
    if (this.poolState === "closed") throw new PoolClosed();
    if (this.poolState !== "new") throw new Error(`WorkerPool.start() called twice (state ${this.poolState})`);
    this.poolState = "starting";
    const starting = Array.from({ length: this.opts.size }, () => this.spawn());
    let ready: Slot<Req, Res>[];
    try {
      ready = await Promise.all(starting);
    } catch (err) {
      for (const p of starting) p.then((slot) => this.retire(slot), () => {});
      if (this.state === "closed") throw new PoolClosed("worker pool closed during start()");
      this.breakPool(err as Error);
      for (const w of this.living) void w.terminate().catch(() => {});
      throw err;
    }
    if (this.state !== "starting") {
      for (const slot of ready) this.retire(slot);
      throw new PoolClosed("worker pool closed during start()");
    }
    this.poolState = "running";
    for (const slot of ready) {
      if (slot.phase === "retired") this.replace(); // died between ready and now
      else this.addReady(slot);
    }
  }

  /** Queue a job; resolves with the worker's answer or rejects with a PoolError. */
  run(req: Req, transfer: readonly TransferListItem[] = [], opts: RunOptions = {}): Promise<Res> {
    switch (this.poolState) {
      case "new":
        return Promise.reject(new PoolNotStarted());
      case "closed":
        return Promise.reject(new PoolClosed());
      case "broken":
        return Promise.reject(this.brokenError());
    }
    const timeoutMs = opts.timeoutMs ?? this.opts.jobTimeoutMs;
    try {
      checkTimeout("timeoutMs", timeoutMs);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new PoolBusy(this.maxQueue));
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ id: this.nextJobId++, req, transfer, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /** Reject queued and running jobs with PoolClosed and terminate every worker. */
  async close(): Promise<void> {
    if (this.poolState !== "closed") {
      this.poolState = "closed";
      unregisterFaultTarget(this);
      for (const t of this.backoffTimers) clearTimeout(t);
      this.backoffTimers.clear();
      for (const job of this.queue.drain()) job.reject(new PoolClosed("worker pool closed before the job started"));
      for (const slot of [...this.slots]) {
        const job = slot.job;
        this.retire(slot);
        job?.reject(new PoolClosed("worker pool closed while the job was running"));
      }
    }
    await Promise.all([...this.living].map((w) => w.terminate().catch(() => {})));
  }

  // ---- workers ------------------------------------------------------------------------

  /** Spawn one worker; resolves with its slot once it reports ready. */
  private spawn(): Promise<Slot<Req, Res>> {
    const label = `${this.name}#${++this.spawned}`;
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(this.opts.workerFile, {
          workerData: this.opts.workerData,
          resourceLimits: this.opts.resourceLimits,
          name: label,
          // not the embedding process's flags: `--input-type`, loaders or `--require` hooks
          // of the host program break or change a worker that runs our own compiled file
          execArgv: [],
        });
      } catch (e) {
        reject(new PoolStartFailed(label, describeError(e).message, e));
        return;
      }
      const slot: Slot<Req, Res> = {
        worker,
        label,
        phase: "starting",
        job: undefined,
        timer: undefined,
        onReady: () => resolve(slot),
        onStartFailed: reject,
      };
      this.living.add(worker);
      slot.timer = setTimeout(
        () => this.fail(slot, new Error(`did not report ready within ${this.startTimeoutMs} ms`)),
        this.startTimeoutMs,
      );
      worker.on("message", (m: unknown) => this.onMessage(slot, m));
      worker.on("messageerror", (e: Error) => this.fail(slot, e));
      worker.on("error", (e: Error) => this.fail(slot, e));
      worker.on("exit", (code: number) => {
        this.living.delete(worker);
        this.fail(slot, undefined, code);
      });
    });
  }

  private onMessage(slot: Slot<Req, Res>, raw: unknown): void {
    if (slot.phase === "retired") return;
    if (slot.phase === "starting") {
      if (hasType(raw, "ready")) {
        clearTimeout(slot.timer);
        slot.phase = "idle";
        slot.onReady();
      } else if (hasType(raw, "init-error")) {
        const error = (raw as InitErrorMessage).error;
        this.fail(slot, new Error(`init failed: ${formatRemoteError(error)}`));
      } else {
        this.fail(slot, new Error(`protocol violation: expected "ready", got ${preview(raw)}`));
      }
      return;
    }
    const job = slot.job;
    if (job === undefined || !isReplyTo(raw, job.id)) {
      this.fail(slot, new Error(`protocol violation: unexpected message ${preview(raw)}`));
      return;
    }
    const m = raw as ReplyOk<Res> | ReplyErr;
    clearTimeout(slot.timer);
    slot.job = undefined;
    if (m.ok) {
      this.makeIdle(slot);
      job.resolve(m.res);
    } else if (m.fatal) {
      this.retire(slot);
      job.reject(new WorkerCrashed(slot.label, formatRemoteError(m.error), { workerCode: m.error.code }));
      this.replace();
    } else {
      this.makeIdle(slot);
      job.reject(new JobFailed(slot.label, m.error));
    }
    this.pump();
  }

  /** The worker errored, exited, timed out at start or broke protocol: retire it,
   *  reject what depended on it, and (if it had been serving) replace it. */
  private fail(slot: Slot<Req, Res>, err: Error | undefined, exitCode?: number): void {
    if (slot.phase === "retired") return;
    const { phase, job } = slot;
    this.retire(slot);
    const reason = err !== undefined ? describeError(err).message : `exited with code ${exitCode}`;
    if (phase === "starting") {
      slot.onStartFailed(new PoolStartFailed(slot.label, reason, err));
      return;
    }
    const workerCode = (err as { code?: unknown } | undefined)?.code;
    job?.reject(
      new WorkerCrashed(slot.label, reason, {
        cause: err,
        exitCode,
        workerCode: typeof workerCode === "string" ? workerCode : undefined,
      }),
    );
    this.replace();
  }

  private onTimeout(slot: Slot<Req, Res>, job: Job<Req, Res>): void {
    if (slot.job !== job) return;
    this.retire(slot);
    job.reject(new JobTimeout(slot.label, job.timeoutMs));
    this.replace();
  }

  /** Take a worker out of service for good and terminate it. */
  private retire(slot: Slot<Req, Res>): void {
    if (slot.phase === "retired") return;
    if (slot.phase === "idle") {
      const i = this.idle.indexOf(slot);
      if (i >= 0) this.idle.splice(i, 1);
    }
    slot.phase = "retired";
    slot.job = undefined;
    clearTimeout(slot.timer);
    this.slots.delete(slot);
    void slot.worker.terminate().catch(() => {});
  }

  /** Schedule a replacement worker, with backoff after failed starts. */
  private replace(): void {
    if (this.poolState !== "running") return;
    const n = this.startFailuresInARow;
    const delay = n === 0 ? 0 : Math.min(RESPAWN_BACKOFF_BASE_MS * 2 ** (n - 1), RESPAWN_BACKOFF_MAX_MS);
    const timer = setTimeout(() => {
      this.backoffTimers.delete(timer);
      this.startReplacement();
    }, delay);
    this.backoffTimers.add(timer);
  }

  private startReplacement(): void {
    if (this.poolState !== "running") return;
    this.restartCount++;
    this.spawn().then(
      (slot) => {
        if (this.poolState !== "running" || slot.phase === "retired") {
          const died = slot.phase === "retired";
          this.retire(slot);
          if (died) this.replace();
          return;
        }
        this.startFailuresInARow = 0;
        this.addReady(slot);
      },
      (err: PoolStartFailed) => {
        this.startFailuresInARow++;
        if (this.startFailuresInARow >= MAX_CONSECUTIVE_START_FAILURES) this.breakPool(err);
        else this.replace();
      },
    );
  }

  /** Stop respawning and refuse work: queued and future jobs get PoolBroken. Jobs already
   *  running on live workers still finish. */
  private breakPool(cause: Error): void {
    if (this.poolState === "closed" || this.poolState === "broken") return;
    this.poolState = "broken";
    this.brokenBy = cause;
    for (const job of this.queue.drain()) job.reject(this.brokenError());
  }

  private brokenError(): PoolBroken {
    const why = this.brokenBy?.message ?? "unknown cause";
    return new PoolBroken(`workers cannot be started (${why})`, this.brokenBy);
  }

  // ---- dispatch -----------------------------------------------------------------------

  private addReady(slot: Slot<Req, Res>): void {
    this.slots.add(slot);
    this.makeIdle(slot);
    this.pump();
  }

  private makeIdle(slot: Slot<Req, Res>): void {
    slot.phase = "idle";
    this.idle.push(slot);
  }

  /** Hand queued jobs to idle workers, oldest job first. */
  private pump(): void {
    while (this.poolState === "running" && this.idle.length > 0 && this.queue.length > 0) {
      const slot = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.dispatch(slot, job);
    }
  }

  private dispatch(slot: Slot<Req, Res>, job: Job<Req, Res>): void {
    slot.phase = "busy";
    slot.job = job;
    const msg: JobMessage<Req> = { id: job.id, req: job.req };
    try {
      slot.worker.postMessage(msg, job.transfer);
    } catch (e) {
      // e.g. DataCloneError: the request itself cannot cross threads; the worker is fine.
      slot.job = undefined;
      this.makeIdle(slot);
      job.reject(new JobFailed(slot.label, describeError(e)));
      return;
    }
    slot.timer = setTimeout(() => this.onTimeout(slot, job), job.timeoutMs);
  }
}
