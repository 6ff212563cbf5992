/**
 * Test-only fault hooks of the daemon, installed only when it starts with BULWARK_TEST_FAULTS=1
 * (never in production: nothing here runs without the variable). They make "a scan worker dies
 * in the middle of a scan" reproducible without timing:
 *  - inputs that begin with TEST_SPIN_MARKER make the engine spin until the worker is ended
 *    (the scanner's `faults.spin`), so a scan is reliably still running when the test acts;
 *  - each scan request logs `test-faults: scan started`, so the test knows when to act;
 *  - SIGUSR2 terminates one busy scan worker abruptly (host/pool/test-faults.ts) and logs
 *    `test-faults: terminated busy scan worker LABEL` (or `... no busy scan worker`).
 */
import type { Scanner } from "../api.js";
import { terminateBusyWorker } from "../pool/test-faults.js";

export const TEST_SPIN_MARKER = "BULWARK-TEST-FAULT-SPIN";

export function testFaultsEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.BULWARK_TEST_FAULTS === "1";
}

/** Install the SIGUSR2 hook; returns its removal. */
export function installFaultSignal(log: (m: string) => void): () => void {
  const onUsr2 = () => {
    const label = terminateBusyWorker();
    log(label ? `test-faults: terminated busy scan worker ${label}` : "test-faults: no busy scan worker");
  };
  process.on("SIGUSR2", onUsr2);
  log("warning: test-faults: BULWARK_TEST_FAULTS=1, fault hooks are active (tests only)");
  return () => process.off("SIGUSR2", onUsr2);
}

/** `scanner`, logging the start of every scan. */
export function loggingScanStarts(scanner: Scanner, log: (m: string) => void): Scanner {
  return {
    get signatureCount() {
      return scanner.signatureCount;
    },
    get loadErrors() {
      return scanner.loadErrors;
    },
    get loadMs() {
      return scanner.loadMs;
    },
    scan(input, opts) {
      log("test-faults: scan started");
      return scanner.scan(input, opts);
    },
    close: () => scanner.close(),
  };
}
