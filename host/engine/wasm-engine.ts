/**
 * The host side of the WASM core: the shared memory holding the compiled database, and one
 * engine instance per thread with its private state region and input window.
 *
 * Memory map of the one shared WebAssembly.Memory:
 *   [0, DB_BASE)                   AS static data (constants only; checked at instantiate)
 *   [DB_BASE, DB_BASE + blob)      the compiled database, written once, read by all threads
 *   regions appended by memory.grow: each instance's state and input window. grow() returns
 *   the old size atomically, so threads growing at the same time get disjoint regions.
 * A trap inside the core leaves only that instance's state suspect: the caller discards the
 * instance (EngineInstance.reset) and the database stays as it was.
 */
import fs from "node:fs";
import v8 from "node:v8";
import { packageFile } from "../paths.js";
import { DB, DB_MAGIC, DB_VERSION } from "./layout.js";

export const DB_BASE = 1 << 16;
const PAGE = 65536;
/** Max wasm32 memory: 4 GiB. Reserved (not committed) up front because a shared memory
 *  cannot move; the database plus every worker's window must fit in it. */
const MAX_PAGES = 65536;
/** Deferred chain candidates kept per scan (16 bytes each): far more than real signatures
 *  produce; past it the scan is flagged incomplete rather than silently partial. */
const DEFER_CAP = 1 << 18;
/** Slack after every object in the input window: the core loads 16 bytes at a time. */
const WINDOW_SLACK = 64;
/** First input window: grows (by taking a new region) only when a larger object comes. */
const INITIAL_WINDOW = 4 << 20;

export interface EngineExports {
  heapBase(): number;
  init(base: number): number;
  initState(gen: number, count: number, last: number, slot: number, out: number, outN: number, def: number, defN: number): void;
  lastFlags(): number;
  scan(data: number, len: number, objType: number): number;
  scanPart(data: number, len: number, objType: number, absStart: number, from: number, to: number, total: number, ends: number): number;
  countOf(sid: number): number;
  faultSpin(): number;
  faultTrap(): void;
}

let modulePromise: Promise<WebAssembly.Module> | null = null;

/** The compiled engine module (compile once per process; post it to workers).
 *  Compiled with the optimizing tier only: V8 otherwise starts wasm in its baseline tier
 *  (Liftoff) and, having no on-stack replacement, runs a whole long first scan there at
 *  about half speed. The module is small, so optimizing it up front costs a few ms. The
 *  flag is process-wide, so it is set for this compile only. */
export function engineModule(): Promise<WebAssembly.Module> {
  if (!modulePromise) {
    const bytes = fs.readFileSync(packageFile("engine-wasm/build/engine.wasm"));
    v8.setFlagsFromString("--no-liftoff");
    try {
      modulePromise = Promise.resolve(new WebAssembly.Module(bytes)); // synchronous: compiled while the flag holds
    } finally {
      v8.setFlagsFromString("--liftoff");
    }
  }
  return modulePromise;
}

/** Grow the shared memory by `bytes` and return the start of the new region. */
export function takeRegion(memory: WebAssembly.Memory, bytes: number): number {
  const pages = Math.ceil(bytes / PAGE);
  const old = memory.grow(pages);
  return old * PAGE;
}

/** A shared memory with the database blob at DB_BASE. */
export function createDbMemory(blobLen: number, fill: (view: Uint8Array) => void): WebAssembly.Memory {
  const pages = Math.ceil((DB_BASE + blobLen + PAGE) / PAGE);
  if (pages > MAX_PAGES) throw new Error(`database of ${blobLen} bytes does not fit in 4 GiB of WASM memory`);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  fill(new Uint8Array(memory.buffer, DB_BASE, blobLen));
  return memory;
}

export function readHeader(memory: WebAssembly.Memory): { nSids: number; nSlots: number; meta: number; metaLen: number } {
  const v = new DataView(memory.buffer, DB_BASE, DB.HEADER_SIZE);
  if (v.getUint32(DB.MAGIC, true) !== DB_MAGIC || v.getUint32(DB.VERSION, true) !== DB_VERSION) {
    throw new Error("compiled database: bad magic or version");
  }
  return {
    nSids: v.getUint32(DB.NSIDS, true),
    nSlots: v.getUint32(DB.NSLOTS, true),
    meta: v.getUint32(DB.META, true),
    metaLen: v.getUint32(DB.METALEN, true),
  };
}

export interface RawScan {
  sids: Uint32Array;
  flags: number;
}

/** One engine instance: the core bound to the database plus this thread's private region. */
export class EngineInstance {
  private ex!: EngineExports;
  /** Input windows, each a region of the shared memory grown on demand: [0] a top-level
   *  object read straight from its file (inputWindow), [1] scratch for objects copied in to
   *  be scanned, [2 + d] objects an unpacker decodes straight into memory at nesting depth
   *  d (memberWindow). Separate windows, because a container's bytes must stay intact
   *  while its members pass through the others. */
  private windows: { at: number; size: number }[] = [
    { at: 0, size: 0 },
    { at: 0, size: 0 },
  ];
  private outPtr = 0;
  private view!: Uint8Array;
  private readonly nSids: number;
  private readonly nSlots: number;
  private statePtr = 0;

  constructor(private readonly module: WebAssembly.Module, readonly memory: WebAssembly.Memory) {
    const h = readHeader(memory);
    this.nSids = h.nSids;
    this.nSlots = h.nSlots;
    const stateBytes = this.stateBytes();
    this.statePtr = takeRegion(memory, stateBytes);
    this.instantiate();
  }

  private stateBytes(): number {
    return 4 * this.nSids * 3 + 4 * this.nSlots + 4 * (this.nSids + 1) + 16 + 16 * DEFER_CAP + 64;
  }

  /** (Re)create the instance over the same database and state region, e.g. after a trap. */
  instantiate(): void {
    const inst = new WebAssembly.Instance(this.module, { env: { memory: this.memory } });
    this.ex = inst.exports as unknown as EngineExports;
    if (this.ex.heapBase() > DB_BASE) throw new Error("engine static data overlaps the database");
    if (this.ex.init(DB_BASE) !== 0) throw new Error("engine rejected the compiled database");
    const gen = this.statePtr;
    const count = gen + 4 * this.nSids;
    const last = count + 4 * this.nSids;
    const slot = last + 4 * this.nSids;
    this.outPtr = slot + 4 * this.nSlots;
    const def = this.outPtr + 4 * (this.nSids + 1) + 16; // 16: the core's v128 spill slot
    this.ex.initState(gen, count, last, slot, this.outPtr, this.nSids + 1, def, DEFER_CAP);
    this.refreshView();
  }

  private refreshView(): void {
    const buf = this.memory.buffer;
    if (!this.view || this.view.byteLength !== buf.byteLength) this.view = new Uint8Array(buf);
  }

  /** A view of `n` bytes of input window `w`, grown (as a new region) when too small. */
  private windowView(n: number, w: number): Uint8Array {
    while (this.windows.length <= w) this.windows.push({ at: 0, size: 0 });
    const win = this.windows[w];
    if (n + WINDOW_SLACK > win.size) {
      const size = Math.max(INITIAL_WINDOW, 2 ** Math.ceil(Math.log2(n + WINDOW_SLACK)));
      win.at = takeRegion(this.memory, size);
      win.size = size;
    }
    this.refreshView();
    return this.view.subarray(win.at, win.at + n);
  }

  /** The window to read a top-level object into (e.g. with fs.readSync): scanning it later
   *  costs no copy and the bytes never exist twice. Valid until the next inputWindow call. */
  inputWindow(n: number): Uint8Array {
    return this.windowView(n, 0);
  }

  /** A buffer of n bytes for an unpacker to decode a member of nesting depth `depth` into:
   *  scanning it then costs no copy. Valid until the next memberWindow call for that depth,
   *  which the orchestrator makes only after the member and everything in it are scanned. */
  memberWindow(depth: number, n: number): Uint8Array {
    return this.windowView(n, 2 + depth);
  }

  /** Scan `data`: in place if it lies in one of the windows, else copied into scratch. */
  scan(data: Uint8Array, objType: number): RawScan {
    let at: number;
    const inWindow =
      data.buffer === this.view.buffer &&
      this.windows.some((w, i) => i !== 1 && data.byteOffset >= w.at && data.byteOffset + data.length + WINDOW_SLACK <= w.at + w.size);
    if (inWindow) {
      at = data.byteOffset;
    } else {
      this.windowView(data.length, 1).set(data);
      at = this.windows[1].at;
    }
    const n = this.ex.scan(at, data.length, objType);
    this.refreshView();
    const sids = new Uint32Array(n);
    sids.set(new Uint32Array(this.view.buffer, this.outPtr, n));
    return { sids, flags: this.ex.lastFlags() };
  }

  /**
   * Scan an object of `size` bytes piecewise, never holding more than one chunk plus the
   * overlap the database needs: `fill(view, at)` must fill `view` with bytes
   * [at, at + view.length) of the object; `onChunk` sees each byte once, in order (for
   * hashing). Same result as scan() on the whole object.
   */
  scanChunked(size: number, objType: number, chunk: number, overlap: { back: number; fwd: number }, fill: (view: Uint8Array, at: number) => void, onChunk?: (bytes: Uint8Array) => void): RawScan {
    let n = 0;
    if (size === 0) return this.scan(new Uint8Array(0), objType);
    for (let from = 0; from < size; from += chunk) {
      const to = Math.min(size, from + chunk);
      const lo = Math.max(0, from - overlap.back);
      const hi = Math.min(size, to + overlap.fwd);
      const view = this.windowView(hi - lo, 0);
      fill(view, lo);
      const ends = (from === 0 ? 1 : 0) | (to >= size ? 2 : 0);
      n = this.ex.scanPart(this.windows[0].at, hi - lo, objType, lo, from, to, size, ends);
      onChunk?.(view.subarray(from - lo, to - lo));
    }
    this.refreshView();
    const sids = new Uint32Array(n);
    sids.set(new Uint32Array(this.view.buffer, this.outPtr, n));
    return { sids, flags: this.ex.lastFlags() };
  }

  countOf(sid: number): number {
    return this.ex.countOf(sid);
  }

  /** Test-only fault injection (see ThreadInit.faults). */
  fault(kind: "spin" | "trap"): void {
    if (kind === "spin") this.ex.faultSpin();
    else this.ex.faultTrap();
  }
}
