/**
 * The worker pool under the scanner: a scan stuck inside the WASM core is ended by the
 * watchdog, a trapping core is discarded, each costs only its own request (a not-scanned
 * verdict naming the cause), and the other requests and later ones are served normally.
 * Faults are injected through the test-only ThreadInit.faults markers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { createScanner } from "../../host/scanner.js";

const EICAR = Buffer.from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
let scanner: Scanner;

beforeAll(async () => {
  scanner = await createScanner({
    workers: 2,
    cacheDir: null,
    limits: { maxScanTime: 800 },
    faults: { spin: "FAULT-SPIN", trap: "FAULT-TRAP" },
  });
});
afterAll(() => scanner?.close());

describe("scan workers", () => {
  it("a stuck scan becomes MaxScanTime for that request only", async () => {
    const [stuck, ok, infected] = await Promise.all([
      scanner.scan(Buffer.from("FAULT-SPIN and then some")),
      scanner.scan(Buffer.from("an ordinary clean message")),
      scanner.scan(EICAR),
    ]);
    expect(stuck.status).toBe("not_scanned");
    expect(stuck.notScanned.map((n) => n.name)).toEqual(["Heuristics.Limits.Exceeded.MaxScanTime"]);
    expect(ok.status).toBe("clean");
    expect(infected.names).toEqual(["Eicar-Test-Signature"]);
    // the replaced worker serves again
    expect((await scanner.scan(EICAR)).status).toBe("infected");
    expect((await Promise.all([scanner.scan(EICAR), scanner.scan(EICAR)])).map((v) => v.status)).toEqual(["infected", "infected"]);
  });

  it("a trap discards that worker's instance; the request is not scanned, never clean", async () => {
    const trapped = await scanner.scan(Buffer.from("FAULT-TRAP"));
    expect(trapped.status).toBe("not_scanned");
    expect(trapped.notScanned[0].name).toBe("Bulwark.Error.ECRASHED");
    expect(trapped.notScanned[0].reason).toMatch(/unreachable/);
    const after = await Promise.all([scanner.scan(EICAR), scanner.scan(Buffer.from("clean"))]);
    expect(after.map((v) => v.status)).toEqual(["infected", "clean"]);
  });

  it("an unreadable path is an error verdict, not a worker fault", async () => {
    const v = await scanner.scan("/nonexistent/bulwark-test-file");
    expect(v.status).toBe("error");
    expect(v.notScanned[0].name).toBe("Bulwark.Error.Read");
    expect((await scanner.scan(EICAR)).status).toBe("infected");
  });

  it("on the calling thread (no workers) a trap also costs only its own request", async () => {
    const inThread = await createScanner({ workers: 0, cacheDir: null, faults: { trap: "FAULT-TRAP" } });
    try {
      const trapped = await inThread.scan(Buffer.from("FAULT-TRAP"));
      expect(trapped.status).toBe("not_scanned");
      expect(trapped.notScanned[0].name).toBe("Bulwark.Error.Internal");
      expect((await inThread.scan(EICAR)).names).toEqual(["Eicar-Test-Signature"]);
    } finally {
      await inThread.close();
    }
  });
});
