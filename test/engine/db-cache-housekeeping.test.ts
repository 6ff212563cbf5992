/**
 * The compiled-database cache's key and its clean-up: the key follows the CONTENT of the
 * compiler's modules and models (a rebuild that rewrites them unchanged keeps the cache, a real
 * change invalidates it), and a cache directory keeps only the MAX_CACHE_ENTRIES most recently
 * used blobs, never the one just written, with several processes writing and pruning at once.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_CACHE_ENTRIES, cachePath, pruneCache, readCacheInto, writeCache } from "../../host/engine/db-cache.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-cache-hk-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A 32-hex-digit key that sorts and reads as number i. */
const key = (i: number): string => i.toString(16).padStart(32, "0");
const blobs = (dir: string): string[] => fs.readdirSync(dir).filter((f) => /^db-[0-9a-f]{32}\.bin$/.test(f)).sort();
const setAge = (file: string, secondsAgo: number): void => {
  const t = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(file, t, t);
};

/**
 * A private copy of the built package's pieces that the key depends on (dist/host/engine,
 * dist/host/sigs, their two helpers, the models, a package.json for packageRoot), so the test
 * can touch and change "the compiler" without disturbing the tree others build in.
 */
const pkg = path.join(tmp, "pkg");
beforeAll(() => {
  const dist = path.join(ROOT, "dist", "host");
  if (!fs.existsSync(path.join(dist, "engine", "db-cache.js"))) throw new Error("dist/host/engine/db-cache.js is missing: run `npx tsc -p .` first");
  for (const d of ["engine", "sigs"]) fs.cpSync(path.join(dist, d), path.join(pkg, "dist", "host", d), { recursive: true });
  for (const f of ["paths.js", "atomic-write.js"]) fs.copyFileSync(path.join(dist, f), path.join(pkg, "dist", "host", f));
  fs.cpSync(path.join(ROOT, "engine-wasm", "model"), path.join(pkg, "engine-wasm", "model"), { recursive: true });
  fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "bulwark", type: "module" }));
  fs.mkdirSync(path.join(tmp, "sigs"));
  fs.writeFileSync(path.join(tmp, "sigs", "t.ndb"), "Test.One:0:*:6f6e65\n");
});

/** The cache key as a fresh process computes it (the fingerprint is computed once per process). */
function keyInNewProcess(): string {
  const mod = path.join(pkg, "dist", "host", "engine", "db-cache.js");
  const code = `const m = await import(${JSON.stringify(mod)}); console.log(m.cacheKey([${JSON.stringify(path.join(tmp, "sigs"))}], false));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`key process failed: ${r.stderr}`);
  return r.stdout.trim();
}

describe("compiled database cache key", () => {
  it("ignores a rebuild that only changes mtimes and follows the compiler's and the models' content", () => {
    const compileJs = path.join(pkg, "dist", "host", "engine", "compile.js");
    const first = keyInNewProcess();
    expect(first).toMatch(/^[0-9a-f]{32}$/);

    // what every `tsc` run does to unchanged modules: rewrite them with the same bytes, new mtime
    for (const f of [compileJs, path.join(pkg, "dist", "host", "engine", "anchor.js")]) {
      fs.writeFileSync(f, fs.readFileSync(f));
      setAge(f, -60);
    }
    expect(keyInNewProcess()).toBe(first);

    fs.appendFileSync(compileJs, "\n// a changed compiler\n");
    const compilerChanged = keyInNewProcess();
    expect(compilerChanged).not.toBe(first);

    // a signature parser decides what the blob holds as much as the compiler does
    fs.appendFileSync(path.join(pkg, "dist", "host", "sigs", "ndb.js"), "\n// a changed parser\n");
    const parserChanged = keyInNewProcess();
    expect(new Set([first, compilerChanged, parserChanged]).size).toBe(3);

    const model = path.join(pkg, "engine-wasm", "model", "gram4.bin");
    const bytes = fs.readFileSync(model);
    bytes[0] ^= 0xff;
    fs.writeFileSync(model, bytes);
    expect(new Set([first, compilerChanged, parserChanged, keyInNewProcess()]).size).toBe(4);

    // and the signature files still count by their own size and mtime
    fs.appendFileSync(path.join(tmp, "sigs", "t.ndb"), "Test.Two:0:*:74776f\n");
    expect(new Set([first, compilerChanged, parserChanged, keyInNewProcess()]).size).toBe(4);
  });
});

describe("compiled database cache clean-up", () => {
  it("keeps the newest MAX_CACHE_ENTRIES blobs after each write, and only its own files", () => {
    const dir = path.join(tmp, "prune");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "notes.txt"), "not a cache file");
    const total = MAX_CACHE_ENTRIES + 3;
    for (let i = 1; i <= total; i++) {
      writeCache(cachePath(dir, key(i)), Buffer.from(`blob ${i}`));
      setAge(cachePath(dir, key(i)), 1000 - i); // each later blob is newer
      expect(blobs(dir).length).toBe(Math.min(i, MAX_CACHE_ENTRIES));
    }
    const kept = Array.from({ length: MAX_CACHE_ENTRIES }, (_, j) => `db-${key(total - MAX_CACHE_ENTRIES + 1 + j)}.bin`);
    expect(blobs(dir)).toEqual(kept);
    expect(fs.readFileSync(path.join(dir, "notes.txt"), "utf8")).toBe("not a cache file");
  });

  it("never removes the blob just written, even when the others look newer", () => {
    const dir = path.join(tmp, "current");
    fs.mkdirSync(dir);
    for (let i = 1; i <= MAX_CACHE_ENTRIES + 2; i++) {
      fs.writeFileSync(cachePath(dir, key(i)), "other");
      setAge(cachePath(dir, key(i)), -3600 - i); // clocks disagree: an hour in the future
    }
    const mine = cachePath(dir, key(0xabc));
    writeCache(mine, Buffer.from("mine"));
    expect(fs.readFileSync(mine, "utf8")).toBe("mine");
    expect(blobs(dir)).toHaveLength(MAX_CACHE_ENTRIES);
    // the others kept are the newest of them
    const newestOthers = Array.from({ length: MAX_CACHE_ENTRIES - 1 }, (_, j) => `db-${key(MAX_CACHE_ENTRIES + 2 - j)}.bin`);
    expect(blobs(dir)).toEqual([...newestOthers, path.basename(mine)].sort());
  });

  it("counts a read as a use: a blob in daily use survives newer writes", () => {
    const dir = path.join(tmp, "used");
    fs.mkdirSync(dir);
    const daily = cachePath(dir, key(1));
    writeCache(daily, Buffer.from("daily"));
    setAge(daily, 86_400 * 30);
    for (let i = 2; i <= MAX_CACHE_ENTRIES; i++) {
      writeCache(cachePath(dir, key(i)), Buffer.from(`blob ${i}`));
      setAge(cachePath(dir, key(i)), 3600 - i);
    }
    const view = new Uint8Array(5);
    readCacheInto(daily, view); // the daemon starts and reads its blob
    expect(Buffer.from(view).toString()).toBe("daily");
    writeCache(cachePath(dir, key(0xfff)), Buffer.from("new"));
    expect(fs.existsSync(daily)).toBe(true);
    expect(fs.existsSync(cachePath(dir, key(2)))).toBe(false); // the least recently used went
    expect(blobs(dir)).toHaveLength(MAX_CACHE_ENTRIES);
  });

  it("removes temp files of writes that died long ago, not those of a write in progress", () => {
    const dir = path.join(tmp, "temps");
    fs.mkdirSync(dir);
    const dead = path.join(dir, `.db-${key(5)}.bin.123.abcdef.tmp`);
    const live = path.join(dir, `.db-${key(6)}.bin.456.fedcba.tmp`);
    fs.writeFileSync(dead, "half");
    fs.writeFileSync(live, "half");
    setAge(dead, 2 * 3600);
    writeCache(cachePath(dir, key(7)), Buffer.from("x"));
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
  });

  it("tolerates other processes writing and pruning the same directory at the same time", async () => {
    const dir = path.join(tmp, "shared");
    fs.mkdirSync(dir);
    const PROCESSES = 4;
    const WRITES = 15;
    const mod = path.join(pkg, "dist", "host", "engine", "db-cache.js");
    // each process writes blobs and prunes WITHOUT writeCache's safety net, so a vanished file
    // that pruneCache failed to tolerate would make the process exit non-zero
    const code = (p: number) => `
      const m = await import(${JSON.stringify(mod)});
      const { writeFileAtomic } = await import(${JSON.stringify(path.join(pkg, "dist", "host", "atomic-write.js"))});
      for (let i = 0; i < ${WRITES}; i++) {
        const file = m.cachePath(${JSON.stringify(dir)}, (${p} * 1000 + i).toString(16).padStart(32, "0"));
        writeFileAtomic(file, Buffer.alloc(64 * 1024, i));
        m.pruneCache(${JSON.stringify(dir)}, file);
      }`;
    // (a process's blob may be pruned by ANOTHER process that saw enough newer ones: that only
    // costs a recompile, and the writer already holds the blob in memory)
    const results = await Promise.all(Array.from({ length: PROCESSES }, (_, p) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", code(p)], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (c) => resolve({ code: c, stderr }));
    })));
    expect(results).toEqual(Array.from({ length: PROCESSES }, () => ({ code: 0, stderr: "" })));
    // each process's last prune ran after its own writes; a write of another may have followed
    expect(blobs(dir).length).toBeLessThanOrEqual(MAX_CACHE_ENTRIES + PROCESSES - 1);
    expect(blobs(dir).length).toBeGreaterThanOrEqual(MAX_CACHE_ENTRIES);
    const any = path.join(dir, blobs(dir)[0]);
    pruneCache(dir, any);
    expect(blobs(dir)).toHaveLength(MAX_CACHE_ENTRIES);
    expect(fs.existsSync(any)).toBe(true);
  });
});
