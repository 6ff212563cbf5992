/**
 * Scan worker thread. Talks only to its parent (the WorkerPool in host/scanner.ts) over
 * postMessage; reads the files it is asked to scan; writes nothing. A WebAssembly trap is
 * fatal for this worker (the pool replaces it and the job becomes a temporary failure);
 * a job that runs past its deadline is terminated by the pool's watchdog.
 */
import { serveJobs } from "../pool/worker-side.js";
import { ScanThread, type ScanRequest, type ThreadInit } from "./scan-thread.js";
import type { Verdict } from "./verdict.js";

/** Calls before the first job, on a dummy buffer, so the hot loops leave V8's baseline
 *  compiler (Liftoff) for the optimizing one before real mail arrives (~30% faster). */
const WARMUP_SCANS = 8;

void serveJobs<ScanRequest, Verdict>(async (data) => {
  const thread = new ScanThread(data as ThreadInit);
  const dummy = new Uint8Array(64 * 1024);
  for (let i = 0; i < WARMUP_SCANS; i++) await thread.scan({ kind: "bytes", data: dummy });
  return (req) => thread.scan(req);
});
