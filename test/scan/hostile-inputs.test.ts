/**
 * The whole scanner on hostile variants of real containers: every Debian clamav-testfile
 * and every golden mail, truncated at many offsets and with bytes flipped (deterministic).
 * Each scan must end in a well-formed verdict: no exception, no hang, a status from the
 * enum, and never "error" (the input was readable). Internal faults would surface as
 * Bulwark.Error.* not-scanned entries; none may appear.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { createScanner } from "../../host/index.js";
import { mutants } from "../helpers/mutations.js";

const TESTFILES = "/usr/share/clamav-testfiles";
const GOLDEN = fileURLToPath(new URL("../../fixtures/golden/", import.meta.url));
/** Flipped variants per file: with the cuts, ~45 scans per file and ~2,200 in all. */
const FLIPS = 24;

let scanner: Scanner;
beforeAll(async () => {
  if (!fs.existsSync(TESTFILES)) throw new Error(`${TESTFILES} missing: apt-get install clamav-testfiles (see .ci/run)`);
  scanner = await createScanner({ workers: 0, cacheDir: null, databases: [path.join(GOLDEN, "golden.ndb")] });
});
afterAll(() => scanner?.close());

const inputs = [
  ...fs.readdirSync(TESTFILES).map((f) => path.join(TESTFILES, f)),
  ...fs.readdirSync(GOLDEN).filter((f) => f.endsWith(".eml")).map((f) => path.join(GOLDEN, f)),
].sort();

let scans = 0;
afterAll(() => {
  // the variants were really produced and scanned (guards against an empty mutant list)
  expect(scans).toBeGreaterThan(inputs.length * (FLIPS + 10));
});

describe("hostile variants of real containers", () => {
  it.each(inputs.map((p) => [path.basename(p), p]))("%s", async (_name, file) => {
    const data = fs.readFileSync(file);
    for (const m of mutants(data, { seed: data.length, flips: FLIPS })) {
      const v = await scanner.scan(m.data);
      scans++;
      const label = `${path.basename(file)} ${m.label}`;
      expect(["clean", "infected", "not_scanned"], label).toContain(v.status);
      expect(v.notScanned.filter((n) => n.name.startsWith("Bulwark.Error.")), label).toEqual([]);
      expect(v.objects, label).toBeGreaterThanOrEqual(1);
    }
  });
});
