/**
 * Issue 2, "what it must show" 2, second half: real clamscan and `bulwark scan` on the same
 * generated signatures and files must give the same verdict per file (--allmatch: the same
 * set of signature names). Signature sets and data come from the seeded generator in
 * test/helpers/random-sigs.ts (literals, wildcards, alternatives, offsets, logical sigs,
 * hash sigs); several seeds per run.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { genSignatureSet, writeGeneratedSet } from "../helpers/random-sigs.js";

const BIN = fileURLToPath(new URL("../../bin/bulwark", import.meta.url));
/** Seeds per run: each a set of ~50 signatures and 8 files; clamscan loads in ~0.1 s each. */
const SEEDS = 12;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-diff-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** path -> sorted distinct names from `path: Name FOUND` lines (clamscan --allmatch prints a
 *  name once per layer it matched in, e.g. raw and typed: the verdict is the set) */
function found(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    const m = /^(.*): (\S+) FOUND$/.exec(line);
    if (!m) continue;
    out.set(m[1], [...new Set([...(out.get(m[1]) ?? []), m[2]])].sort());
  }
  return out;
}

describe("clamscan and bulwark scan agree per file", () => {
  it(`on ${SEEDS} generated signature sets`, () => {
    let files = 0;
    let infected = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const g = genSignatureSet(seed * 104729, { ndb: 30, ldb: 12, hdb: 3, files: 8 });
      const { db, files: paths } = writeGeneratedSet(g, path.join(tmp, `s${seed}`));
      const dir = path.dirname(db);
      const clam = spawnSync("clamscan", ["--allmatch", "--no-summary", "-d", db, ...paths], { encoding: "utf8" });
      if (clam.error) throw new Error(`clamscan is required for this test: ${clam.error.message}`);
      expect(clam.status, `seed ${seed}: clamscan failed: ${clam.stderr}`).toBeLessThanOrEqual(1);
      const bul = spawnSync(process.execPath, [BIN, "scan", "--allmatch", "--no-summary", "--no-builtin", "--workers", "1", "-d", db, ...paths], {
        encoding: "utf8",
        env: { ...process.env, XDG_CACHE_HOME: path.join(dir, "cache") },
      });
      expect(bul.status, `seed ${seed}: bulwark failed: ${bul.stderr}`).toBeLessThanOrEqual(1);
      const a = found(clam.stdout);
      const b = found(bul.stdout);
      for (const p of paths) expect(b.get(p) ?? [], `seed ${seed} ${path.basename(p)}`).toEqual(a.get(p) ?? []);
      expect(bul.status, `seed ${seed}: exit codes`).toBe(clam.status);
      files += paths.length;
      infected += a.size;
    }
    expect(infected).toBeGreaterThan(files / 4); // the comparison saw real detections
  });
});
