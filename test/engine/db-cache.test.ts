/**
 * The compiled-database cache: built on first load, read back (not recompiled) while the
 * signature files are unchanged, rebuilt when one changes, and ignored when corrupt.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cacheKey, cachePath } from "../../host/engine/db-cache.js";
import { EngineInstance, engineModule } from "../../host/engine/wasm-engine.js";
import { loadDatabase } from "../../host/scanner.js";
import { matchSignatures } from "../../host/scan/scan-object.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-cache-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function detects(dbDir: string, cacheDir: string, data: Buffer) {
  const { memory, db, fromCache } = await loadDatabase({ databases: [dbDir], cacheDir, builtin: false });
  const engine = new EngineInstance(await engineModule(), memory);
  const m = matchSignatures(engine, db, data, 0);
  return { fromCache, names: m.ndb.map((i) => db.meta.ndbNames[i]) };
}

describe("compiled database cache", () => {
  it("is written once, reused, invalidated by a changed file, and survives corruption", async () => {
    const dbDir = path.join(tmp, "db");
    const cacheDir = path.join(tmp, "cache");
    fs.mkdirSync(dbDir);
    const sig = path.join(dbDir, "t.ndb");
    fs.writeFileSync(sig, "Test.One:0:*:6f6e652d7369676e6174757265\n"); // "one-signature"
    const data = Buffer.from("xx one-signature two-signature xx");

    const first = await detects(dbDir, cacheDir, data);
    expect(first).toEqual({ fromCache: false, names: ["Test.One.UNOFFICIAL"] });
    const file = cachePath(cacheDir, cacheKey([dbDir], false));
    expect(fs.existsSync(file)).toBe(true);

    expect(await detects(dbDir, cacheDir, data)).toEqual({ fromCache: true, names: ["Test.One.UNOFFICIAL"] });

    // a changed database file means a different key: recompiled, new signature seen
    fs.writeFileSync(sig, "Test.One:0:*:6f6e652d7369676e6174757265\nTest.Two:0:*:74776f2d7369676e6174757265\n");
    fs.utimesSync(sig, new Date(), new Date(Date.now() + 5000));
    const changed = await detects(dbDir, cacheDir, data);
    expect(changed.fromCache).toBe(false);
    expect(changed.names.sort()).toEqual(["Test.One.UNOFFICIAL", "Test.Two.UNOFFICIAL"]);

    // a corrupt cache file is not trusted: rebuilt from the sources
    const file2 = cachePath(cacheDir, cacheKey([dbDir], false));
    fs.writeFileSync(file2, Buffer.alloc(4096, 0x41));
    const rebuilt = await detects(dbDir, cacheDir, data);
    expect(rebuilt.fromCache).toBe(false);
    expect(rebuilt.names.sort()).toEqual(["Test.One.UNOFFICIAL", "Test.Two.UNOFFICIAL"]);
  });
});
