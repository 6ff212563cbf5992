/**
 * Scanner.scan's `transfer` contract (host/api.ts ScanInput): without it the caller's buffer is
 * copied to the worker and stays intact; with it a large enough buffer is moved (detached here,
 * its bytes scanned there, no copy); a small one, a pooled one or a small view of a larger
 * ArrayBuffer is still copied, so `transfer` never detaches bytes the caller did not hand over.
 * Workers: 2, so every scan crosses a thread boundary; and workers: 0 ignores the flag.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { createScanner } from "../../host/scanner.js";

/** A marker matched at any offset by a body signature written below (EICAR itself only
 *  counts at the start of a file, so it cannot show that the end of a buffer was scanned). */
const MARKER = Buffer.from("bulwark-transfer-test-marker-7f3a");
const dir = mkdtempSync(join(tmpdir(), "bulwark-transfer-"));
const sigs = join(dir, "marker.ndb");
writeFileSync(sigs, `Bulwark.Test.Marker:0:*:${MARKER.toString("hex")}\n`);
/** above the scanner's transfer threshold (64 KiB) */
const BIG = 200 * 1024;

/** `size` bytes of varied text with MARKER at `at`, in a standalone ArrayBuffer */
function sample(size: number, at: number): Buffer {
  const b = Buffer.allocUnsafeSlow(size);
  for (let i = 0; i < size; i++) b[i] = 0x61 + ((i * 7) % 26);
  MARKER.copy(b, at);
  return b;
}

let scanner: Scanner;
beforeAll(async () => {
  scanner = await createScanner({ workers: 2, cacheDir: null, databases: [sigs] });
});
afterAll(async () => {
  await scanner?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("scan(buffer, { transfer })", () => {
  it("without transfer: the caller's buffer is untouched and still readable after the scan", async () => {
    const input = sample(BIG, BIG - 100);
    const before = Buffer.from(input);
    const v = await scanner.scan(input);
    expect(v.status).toBe("infected");
    expect(input.length).toBe(BIG);
    expect(input.equals(before)).toBe(true);
  });

  it("with transfer: the bytes are moved, scanned whole on the worker, and detached here", async () => {
    const input = sample(BIG, BIG - 100); // MARKER at the very end: the worker saw every byte
    const v = await scanner.scan(input, { transfer: true });
    expect(v.status).toBe("infected");
    expect(v.names).toEqual(["Bulwark.Test.Marker.UNOFFICIAL"]);
    expect(input.buffer.byteLength).toBe(0); // moved, not copied
    const clean = sample(BIG, 0).fill(0x62);
    expect((await scanner.scan(clean, { transfer: true })).status).toBe("clean");
  });

  it("a view at an offset of its own buffer (a StreamBuffer result with slack) is scanned exactly", async () => {
    const backing = Buffer.allocUnsafeSlow(BIG + 1000).fill(0x20);
    MARKER.copy(backing, 10); // outside the view: must not be seen
    const view = backing.subarray(500, 500 + BIG);
    expect((await scanner.scan(view, { transfer: true })).status).toBe("clean");
    const backing2 = Buffer.allocUnsafeSlow(BIG + 1000).fill(0x20);
    MARKER.copy(backing2, 600);
    expect((await scanner.scan(backing2.subarray(500, 500 + BIG), { transfer: true })).status).toBe("infected");
  });

  it("small inputs, pooled buffers and small views of big buffers are copied even with transfer", async () => {
    const pooled = Buffer.from(MARKER); // from Node's shared pool
    const neighbour = Buffer.from("neighbour in the same pool slab");
    expect((await scanner.scan(pooled, { transfer: true })).status).toBe("infected");
    expect(pooled.equals(MARKER)).toBe(true);
    expect(neighbour.toString()).toBe("neighbour in the same pool slab");

    const file = sample(4 * BIG, 3 * BIG); // a whole "file" of which only a quarter is scanned
    const part = file.subarray(3 * BIG - 100, 4 * BIG - 100);
    expect((await scanner.scan(part, { transfer: true })).status).toBe("infected");
    expect(file.buffer.byteLength).toBe(4 * BIG); // not detached: the rest of the file is the caller's
    expect(file.subarray(3 * BIG, 3 * BIG + MARKER.length).equals(MARKER)).toBe(true);
  });

  it("workers: 0 scans on the calling thread and leaves the buffer alone", async () => {
    const local = await createScanner({ workers: 0, cacheDir: null, databases: [sigs] });
    try {
      const input = sample(BIG, 1000);
      expect((await local.scan(input, { transfer: true })).status).toBe("infected");
      expect(input.length).toBe(BIG);
    } finally {
      await local.close();
    }
  });
});
