/**
 * The proof that the loader + reference matcher have ClamAV's semantics: random signature
 * sets (test/helpers/random-sigs.ts) and data files are scanned by the real clamscan
 * (`--allmatch`) and by referenceMatch; the detected names must be identical per file.
 * Fails loudly when clamscan is not installed.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSignaturesSync } from "../../host/sigs/load.js";
import { referenceMatch } from "../../host/engine/reference.js";
import type { SignatureSet } from "../../host/sigs/types.js";
import { writeGeneratedSet, genSignatureSet } from "../helpers/random-sigs.js";

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-refclam-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `path: Name FOUND` lines → names per file path. */
function clamscan(dbDir: string, files: string[]): Map<string, Set<string>> {
  const r = spawnSync("clamscan", ["--allmatch", "--no-summary", "-d", dbDir, ...files], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`clamscan could not run (is ClamAV installed?): ${r.error.message}`);
  if (r.status !== 0 && r.status !== 1) throw new Error(`clamscan exit ${r.status}: ${r.stderr || r.stdout}`);
  const out = new Map<string, Set<string>>(files.map((f) => [f, new Set<string>()]));
  for (const line of r.stdout.split("\n")) {
    const m = /^(.*): (\S+) FOUND$/.exec(line);
    if (m) out.get(m[1])?.add(m[2]);
  }
  return out;
}

function ours(set: SignatureSet, data: Uint8Array): Set<string> {
  const res = referenceMatch(set, data, { target: 0 });
  const names = new Set<string>([...res.ndb.map((i) => set.ndb[i].name), ...res.ldb.map((i) => set.ldb[i].name)]);
  for (const h of set.hashes) {
    if (h.size !== null && h.size !== data.length) continue;
    if (createHash(h.algo).update(data).digest("hex") === Buffer.from(h.digest).toString("hex")) names.add(h.name);
  }
  return names;
}

describe("reference matcher vs clamscan", () => {
  it("clamscan is installed (this oracle test needs it)", () => {
    const r = spawnSync("clamscan", ["--version"], { encoding: "utf8" });
    expect(r.error, "clamscan missing: apt-get install clamav").toBeUndefined();
    expect(r.stdout).toMatch(/^ClamAV \d/);
  });

  let detections = 0;
  let lines = 0;
  for (const seed of SEEDS) {
    it(`seed ${seed}: same names for every file`, () => {
      const g = genSignatureSet(seed, { ndb: 40, ldb: 20, hdb: 4, files: 4 });
      const { db, files } = writeGeneratedSet(g, path.join(tmp, `s${seed}`));
      const set = loadSignaturesSync([db], { builtin: false });
      expect(set.errors).toEqual([]);
      lines += set.ndb.length + set.ldb.length + set.hashes.length;
      const expected = clamscan(db, files);
      for (const [i, f] of files.entries()) {
        const got = ours(set, g.files[i].data);
        detections += got.size;
        expect([...got].sort(), `${f}`).toEqual([...expected.get(f)!].sort());
      }
    });
  }

  it("the comparison is not vacuous", () => {
    // every generated line loaded (40 ndb + 20 ldb + some hdb per seed) and a fair share of
    // the planted signatures were found by both sides
    expect(lines).toBeGreaterThanOrEqual(SEEDS.length * 60);
    expect(detections).toBeGreaterThan(SEEDS.length * 15);
  });
});
