/**
 * Everything one thread needs to scan: its engine instance over the shared database, the
 * database view, and the classifier. Built once per worker (or once on the main thread
 * when the scanner runs without workers) and reused for every job.
 */
import fs from "node:fs";
import { DbView } from "../engine/dbview.js";
import { EngineInstance } from "../engine/wasm-engine.js";
import type { Limits } from "../limits.js";
import { classify } from "./classify.js";
import { CHUNK_BYTES, CHUNK_THRESHOLD, HEAD_BYTES, scanFileChunked, type ChunkPolicy } from "./scan-chunked.js";
import { scanBuffer, type ScanEnv } from "./scan-object.js";
import type { Verdict } from "./verdict.js";

export interface ThreadInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  limits: Limits;
  allmatch: boolean;
  /** When large non-container files are scanned in chunks (default: scan-chunked.ts). */
  chunking?: ChunkPolicy;
  /** Test-only: inputs starting with these markers make the core spin forever or trap, to
   *  exercise the watchdog and trap handling. Never set by the CLI or the daemon. */
  faults?: { spin?: string; trap?: string };
}

export type ScanRequest =
  | { kind: "path"; path: string; allmatch?: boolean }
  | { kind: "bytes"; data: Uint8Array; allmatch?: boolean };

/** Read a whole file into the buffer `alloc` gives (the engine's input window). */
function readInto(path: string, size: number, alloc: (n: number) => Uint8Array): Uint8Array {
  const fd = fs.openSync(path, "r");
  try {
    const buf = alloc(size);
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, buf, at, size - at, at);
      if (n <= 0) break; // file shrank while we read: scan what is there
      at += n;
    }
    return buf.subarray(0, at);
  } finally {
    fs.closeSync(fd);
  }
}

export class ScanThread {
  private readonly env: ScanEnv;
  private readonly faults: { spin?: Buffer; trap?: Buffer };
  private readonly chunking: ChunkPolicy;

  constructor(init: ThreadInit) {
    this.chunking = init.chunking ?? { threshold: CHUNK_THRESHOLD, chunk: CHUNK_BYTES };
    this.faults = {
      spin: init.faults?.spin ? Buffer.from(init.faults.spin) : undefined,
      trap: init.faults?.trap ? Buffer.from(init.faults.trap) : undefined,
    };
    this.env = {
      engine: new EngineInstance(init.module, init.memory),
      db: new DbView(init.memory),
      limits: init.limits,
      allmatch: init.allmatch,
      classify,
    };
  }

  /** Scan one request. A WebAssembly trap leaves this instance's state suspect: the
   *  instance is discarded and rebuilt (same database, same region) before the error goes
   *  on to become a not-scanned verdict. */
  async scan(req: ScanRequest): Promise<Verdict> {
    try {
      return await this.scanUnguarded(req);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) this.env.engine.instantiate();
      throw e;
    }
  }

  private async scanUnguarded(req: ScanRequest): Promise<Verdict> {
    const env = req.allmatch === undefined ? this.env : { ...this.env, allmatch: req.allmatch };
    let data: Uint8Array;
    if (req.kind === "path") {
      const size = fs.statSync(req.path).size;
      if (size > env.limits.maxFileSize) {
        return {
          status: "not_scanned", infected: false, names: [], detections: [], objects: 1, bytesScanned: 0,
          notScanned: [{ name: "Heuristics.Limits.Exceeded.MaxFileSize", path: "", reason: `${size} bytes` }],
        };
      }
      if (size >= this.chunking.threshold) {
        const head = readInto(req.path, Math.min(size, HEAD_BYTES), (n) => new Uint8Array(n));
        const v = scanFileChunked(env, req.path, size, classify(head), this.chunking);
        if (v) return v;
      }
      data = readInto(req.path, size, (n) => this.env.engine.inputWindow(n));
    } else {
      data = req.data;
    }
    this.injectFaults(data);
    return scanBuffer(env, data);
  }

  private injectFaults(data: Uint8Array): void {
    const { spin, trap } = this.faults;
    if (spin && Buffer.from(data.buffer, data.byteOffset, data.byteLength).subarray(0, spin.length).equals(spin)) this.env.engine.fault("spin");
    if (trap && Buffer.from(data.buffer, data.byteOffset, data.byteLength).subarray(0, trap.length).equals(trap)) this.env.engine.fault("trap");
  }
}
