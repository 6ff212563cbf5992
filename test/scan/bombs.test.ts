/**
 * Issue 2, "what it must show" 3: bombs generated at test time each end in a verdict of
 * their own (limit exceeded / not scanned), never "clean", within the limits and with
 * bounded memory. Scans on the calling thread so this process's memory is what is measured.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { createScanner } from "../../host/index.js";
import { deepMimeNesting, manyParts } from "../helpers/mime-bombs.js";
import { makeZip, nestedZipBomb, overlappingZip, zerosZip } from "../helpers/zip-bombs.js";

/** Extra resident memory a bomb may cost: the defaults allow 100 MB objects and 400 MB per
 *  input, but a bomb must never get near holding its nominal size. */
const RSS_BUDGET = 700 << 20;

let scanner: Scanner;
beforeAll(async () => {
  scanner = await createScanner({ workers: 0, cacheDir: null });
});
afterAll(() => scanner?.close());

async function scanBounded(data: Uint8Array) {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const v = await scanner.scan(data);
    peak = Math.max(peak, process.memoryUsage().rss);
    return { v, grew: peak - before };
  } finally {
    clearInterval(timer);
  }
}

const limitNames = (v: { notScanned: { name: string }[] }) => v.notScanned.map((n) => n.name);

describe("bombs end in a not-scanned verdict within the limits", () => {
  it("42.zip-like nesting (16^4 x 16 MiB nominal = 1 TiB)", async () => {
    const bomb = nestedZipBomb(4, 16);
    const { v, grew } = await scanBounded(bomb);
    expect(bomb.length).toBeLessThan(1 << 20);
    expect(v.status).toBe("not_scanned");
    expect(limitNames(v).some((n) => /^Heuristics\.Limits\.Exceeded\.(MaxScanSize|MaxFiles|MaxRatio)$/.test(n)), JSON.stringify(v.notScanned)).toBe(true);
    expect(v.bytesScanned).toBeLessThanOrEqual(400 << 20);
    expect(grew).toBeLessThan(RSS_BUDGET);
  });

  it("Fifield overlapping-entry zip: refused before inflating anything", async () => {
    const bomb = overlappingZip(200);
    const { v, grew } = await scanBounded(bomb);
    expect(v.status).toBe("not_scanned");
    expect(limitNames(v)).toContain("Heuristics.Zip.OverlappingFiles");
    expect(v.bytesScanned).toBe(bomb.length); // only the archive's own bytes reached the matcher
    expect(v.objects).toBe(1);
    expect(grew).toBeLessThan(RSS_BUDGET);
  });

  it("1 GiB of zeros in one zip member, honest and lying about its size", async () => {
    for (const declared of [undefined, 1000]) {
      const bomb = zerosZip(1 << 30, { declaredSize: declared });
      const { v, grew } = await scanBounded(bomb);
      expect(v.status, `declared ${declared}`).toBe("not_scanned");
      expect(limitNames(v).some((n) => /^Heuristics\.Limits\.Exceeded\.(MaxFileSize|MaxRatio|MaxScanSize)$/.test(n)), JSON.stringify(v.notScanned)).toBe(true);
      expect(grew).toBeLessThan(RSS_BUDGET);
    }
  });

  it("100,000-deep MIME nesting and 100,000 parts", async () => {
    const deep = await scanBounded(deepMimeNesting(100_000));
    expect(deep.v.status).toBe("not_scanned");
    expect(limitNames(deep.v)).toContain("Heuristics.Limits.Exceeded.EmailMIMEDepth");
    const wide = await scanBounded(manyParts(100_000));
    expect(wide.v.status).toBe("not_scanned");
    expect(limitNames(wide.v)).toContain("Heuristics.Limits.Exceeded.EmailMIMEPartsPerMessage");
    expect(Math.max(deep.grew, wide.grew)).toBeLessThan(RSS_BUDGET);
  });

  it("a virus next to a bomb is still found (a limit does not hide the rest)", async () => {
    const eicar = Buffer.from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    const zip = makeZip([{ name: "nested.zip", data: nestedZipBomb(2, 4, 1 << 20) }, { name: "eicar.com", data: eicar }]);
    const v = await scanner.scan(zip);
    expect(v.status).toBe("infected");
    expect(v.detections.map((d) => `${d.path}:${d.name}`)).toContain("eicar.com:Eicar-Test-Signature");
  });
});
