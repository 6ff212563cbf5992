/**
 * Test-only fault injection for worker pools, active only when the process was started with
 * BULWARK_TEST_FAULTS=1 (the daemon's SIGUSR2 hook, host/daemon/test-faults.ts, uses it).
 * A pool registers itself here when that is set; `terminateBusyWorker()` then ends one busy
 * worker abruptly, as a crash would: the pool sees the worker exit, rejects its job with
 * WorkerCrashed (ECRASHED) and starts a replacement. Without the variable nothing registers
 * and the function finds nothing to terminate.
 */

export const TEST_FAULTS_ENABLED = process.env.BULWARK_TEST_FAULTS === "1";

/** What a pool offers the hook: end one busy worker, returning its label, or undefined. */
export interface FaultTarget {
  terminateBusyWorker(): string | undefined;
}

const targets = new Set<FaultTarget>();

export function registerFaultTarget(t: FaultTarget): void {
  if (TEST_FAULTS_ENABLED) targets.add(t);
}

export function unregisterFaultTarget(t: FaultTarget): void {
  targets.delete(t);
}

/** Terminate one busy worker of any registered pool; its label, or undefined if none is busy. */
export function terminateBusyWorker(): string | undefined {
  for (const t of targets) {
    const label = t.terminateBusyWorker();
    if (label !== undefined) return label;
  }
  return undefined;
}
