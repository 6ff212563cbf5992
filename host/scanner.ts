/**
 * createScanner: load (or read from cache) the compiled database into one shared memory,
 * then scan on a pool of worker threads (or on the calling thread with workers: 0).
 * Each worker instantiates the engine once from the same compiled WebAssembly.Module and
 * imports the same memory, so the database exists once whatever the number of workers.
 *
 * Failure: a worker that traps, crashes or runs past the scan time limit is replaced; its
 * job resolves to a not-scanned verdict naming the cause (Bulwark.Error.*), never "clean".
 */
import os from "node:os";
import { Readable } from "node:stream";
import type { Scanner, ScannerOptions } from "./api.js";
import { compileDatabase } from "./engine/compile.js";
import { cacheKey, cachePath, cacheSize, defaultCacheDir, readCacheInto, writeCache } from "./engine/db-cache.js";
import { DbView } from "./engine/dbview.js";
import { createDbMemory, engineModule } from "./engine/wasm-engine.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { packageFile } from "./paths.js";
import { WorkerPool } from "./pool/pool.js";
import type { ScanRequest, ThreadInit } from "./scan/scan-thread.js";
import { ScanThread } from "./scan/scan-thread.js";
import type { Verdict } from "./scan/verdict.js";
import { loadSignatures } from "./sigs/load.js";
import type { SignatureSet } from "./sigs/types.js";

/** Grace on top of maxScanTime before the watchdog kills a worker: the scan checks its own
 *  deadline between objects; the watchdog is for a scan stuck inside one call. */
const WATCHDOG_GRACE_MS = 5_000;
/** Per-worker V8 heap cap: unpacked objects live in the heap while scanned, up to
 *  maxFileSize each, with a few in flight; anything beyond is a bug or a bomb. */
const WORKER_HEAP_MB = 2048;

/** Smallest input moved to a worker instead of copied. Below it the copy costs less than a
 *  detached buffer risks; it also keeps Node's shared 8 KiB Buffer pool out (pooled buffers
 *  are under 4 KiB). */
const TRANSFER_MIN_BYTES = 64 * 1024;

const UNOFFICIAL = ".UNOFFICIAL";
/** Errors that mean "the input could not be read" (verdict status "error"), not a fault. */
const READ_ERRORS = new Set(["ENOENT", "EACCES", "EISDIR", "ENOTDIR"]);

function withoutIgnored(set: SignatureSet): SignatureSet {
  if (!set.ignored.size) return set;
  const keep = (n: string) => !set.ignored.has(n.endsWith(UNOFFICIAL) ? n.slice(0, -UNOFFICIAL.length) : n);
  return {
    ...set,
    ndb: set.ndb.filter((s) => keep(s.name)),
    ldb: set.ldb.filter((s) => keep(s.name)),
    hashes: set.hashes.filter(keep),
  };
}

/** Load signatures into a fresh shared memory, through the cache when allowed. */
export async function loadDatabase(opts: ScannerOptions): Promise<{ memory: WebAssembly.Memory; db: DbView; fromCache: boolean }> {
  const paths = opts.databases ?? [];
  const builtin = opts.builtin !== false;
  const dir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const file = dir ? cachePath(dir, cacheKey(paths, builtin)) : null;
  if (file) {
    const size = cacheSize(file);
    if (size > 0) {
      try {
        const memory = createDbMemory(size, (v) => readCacheInto(file, v));
        return { memory, db: new DbView(memory), fromCache: true };
      } catch {
        /* unreadable or stale cache: rebuild below */
      }
    }
  }
  const set = withoutIgnored(await loadSignatures(paths, { builtin }));
  const { blob } = compileDatabase(set);
  if (file) {
    try {
      writeCache(file, blob);
    } catch {
      /* a read-only cache dir only costs speed */
    }
  }
  const memory = createDbMemory(blob.length, (v) => v.set(blob));
  return { memory, db: new DbView(memory), fromCache: false };
}

/**
 * What may move to the worker with `data`: its ArrayBuffer, when the caller owns it (a handed
 * over input, or a buffer built here from a stream), it is big enough to be worth it, and the
 * view covers most of it: a view into a much larger foreign buffer (a slab, a whole file) is
 * copied, so that a caller's wrong `transfer` cannot detach far more than its input.
 */
function transferList(data: Uint8Array, owned: boolean): ArrayBuffer[] {
  const ab = data.buffer;
  if (!owned || !(ab instanceof ArrayBuffer) || data.byteLength < TRANSFER_MIN_BYTES) return [];
  return ab.byteLength <= 2 * data.byteLength ? [ab] : [];
}

async function readInput(input: Uint8Array | NodeJS.ReadableStream, limits: Limits): Promise<Uint8Array | null> {
  if (input instanceof Uint8Array) return input;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of input as Readable) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    total += b.length;
    if (total > limits.maxFileSize) {
      (input as Readable).destroy?.();
      return null;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

function failure(name: string, reason: string): Verdict {
  return {
    status: "not_scanned", infected: false, names: [], detections: [], objects: 0, bytesScanned: 0,
    notScanned: [{ name, path: "", reason }],
  };
}

/** Options the library does not document for users: fault injection for the test suite. */
export interface InternalScannerOptions extends ScannerOptions {
  faults?: ThreadInit["faults"];
  chunking?: ThreadInit["chunking"];
}

export async function createScanner(opts: InternalScannerOptions = {}): Promise<Scanner> {
  const t0 = performance.now();
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const allmatch = opts.allmatch ?? false;
  const [{ memory, db }, module] = await Promise.all([loadDatabase(opts), engineModule()]);
  const init: ThreadInit = { module, memory, limits, allmatch, faults: opts.faults, chunking: opts.chunking };
  const nWorkers = opts.workers ?? os.availableParallelism();

  let local: ScanThread | null = null;
  let pool: WorkerPool<ScanRequest, Verdict> | null = null;
  if (nWorkers <= 0) {
    local = new ScanThread(init);
  } else {
    pool = new WorkerPool<ScanRequest, Verdict>({
      workerFile: packageFile("dist/host/scan/worker.js"),
      size: nWorkers,
      workerData: init,
      jobTimeoutMs: limits.maxScanTime + Math.min(WATCHDOG_GRACE_MS, limits.maxScanTime),
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      name: "scan",
    });
    await pool.start();
  }
  const loadMs = performance.now() - t0;
  const meta = db.meta;

  // one thread scans one input at a time (its input windows are reused): queue callers
  let localChain: Promise<unknown> = Promise.resolve();
  async function run(req: ScanRequest, transfer: ArrayBuffer[] = []): Promise<Verdict> {
    if (local) {
      const thread = local;
      const next = localChain.then(() => thread.scan(req));
      localChain = next.catch(() => undefined);
      return next;
    }
    try {
      return await pool!.run(req, transfer);
    } catch (e) {
      const err = e as { code?: string; message?: string; remoteCode?: string };
      if (err.code === "EJOBFAILED" && READ_ERRORS.has(err.remoteCode ?? "")) {
        return { ...failure("Bulwark.Error.Read", String(err.message)), status: "error", error: String(err.message) };
      }
      const name =
        err.code === "ETIMEDOUT" ? "Heuristics.Limits.Exceeded.MaxScanTime" : `Bulwark.Error.${err.code ?? "Internal"}`;
      return failure(name, String(err.message ?? e));
    }
  }

  return {
    signatureCount: meta.signatureCount,
    loadErrors: meta.errors,
    loadMs,
    async scan(input, sopts) {
      try {
        if (typeof input === "string") return await run({ kind: "path", path: input });
        const data = await readInput(input, limits);
        if (!data) return failure("Heuristics.Limits.Exceeded.MaxFileSize", `stream over ${limits.maxFileSize} bytes`);
        // a buffer read from a stream here is ours; a caller's only when it hands it over
        const owned = data !== input || sopts?.transfer === true;
        return await run({ kind: "bytes", data }, transferList(data, owned));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (READ_ERRORS.has(err.code ?? "")) {
          return { ...failure("Bulwark.Error.Read", err.message), status: "error", error: err.message };
        }
        return failure("Bulwark.Error.Internal", String(err?.message ?? e));
      }
    },
    async close() {
      await pool?.close();
    },
  };
}
