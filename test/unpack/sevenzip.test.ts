import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { dictionaryBytes, looksLikeSevenZip, sevenZipFormat, unpackSevenZip } from "../../host/unpack/sevenzip.js";
import { run7z, sevenZip } from "../../host/unpack/sevenzip-runtime.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const OPEN = { maxBytes: 1 << 30, maxFileBytes: 1 << 30, maxFiles: 1000, checkTime: () => {} };

/** Builds an archive at test time with the same 7-Zip module (no binaries committed). */
async function makeArchive(files: Record<string, Uint8Array>, switches: string[], name = "t.7z"): Promise<Uint8Array> {
  const inst = await sevenZip();
  const fs = inst.module.FS;
  fs.mkdir("/mk");
  const paths = Object.entries(files).map(([n, d]) => {
    fs.writeFile(`/mk/${n}`, d);
    return `/mk/${n}`;
  });
  const res = run7z(inst, ["a", "-y", "-bd", ...switches, `/mk/${name}`, ...paths], OPEN);
  expect(res.exitCode).toBe(0);
  const out = fs.readFile(`/mk/${name}`);
  for (const p of [...paths, `/mk/${name}`]) fs.unlink(p);
  fs.rmdir("/mk");
  return out;
}

const clamFiles = ["clam.7z", "clam.arj", "clam.cab", "clam.chm", "clam-nsis.exe"];

describe("sevenzip", () => {
  it("recognises 7z, ARJ, CAB, CHM and NSIS by magic", () => {
    expect(clamFiles.map((f) => sevenZipFormat(testfile(f)))).toEqual(["7z", "arj", "cab", "chm", "nsis"]);
    expect(looksLikeSevenZip(testfile("clam.exe"))).toBe(false);
    expect(looksLikeSevenZip(testfile("clam.zip"))).toBe(false);
  });

  for (const f of clamFiles) {
    it(`extracts clam.exe from ${f}`, async () => {
      const ctx = makeCtx();
      const kids = await collect(unpackSevenZip, testfile(f), ctx);
      expect(kids.some((k) => sha256(k.data) === CLAM_EXE_SHA256)).toBe(true);
      expect(ctx.charged).toBe(kids.reduce((n, k) => n + k.data.length, 0));
      expect(ctx.heuristics).toEqual([]);
    });
  }

  it("names members by their path inside the archive", async () => {
    const kids = await collect(unpackSevenZip, testfile("clam.chm"));
    expect(kids.map((k) => k.name)).toContain("clam.exe.txt");
    expect(kids.map((k) => k.name)).toContain("$WWKeywordLinks/Property");
  });

  it("does not split a plain executable into sections", async () => {
    expect(await collect(unpackSevenZip, testfile("clam.exe"))).toEqual([]);
  });

  it("raises Heuristics.Encrypted.7Zip and extracts the rest of an archive with an encrypted member", async () => {
    const plain = await makeArchive({ "a.txt": new TextEncoder().encode("visible") }, []);
    const secret = await makeArchive({ "s.txt": new TextEncoder().encode("hidden text") }, ["-pSECRET"]);
    for (const [archive, expectKids] of [[plain, 1], [secret, 0]] as const) {
      const ctx = makeCtx();
      const kids = await collect(unpackSevenZip, archive, ctx);
      expect(kids).toHaveLength(expectKids);
      expect(ctx.heuristics).toEqual(expectKids ? [] : ["Heuristics.Encrypted.7Zip"]);
    }
  });

  it("raises Heuristics.Encrypted.7Zip when even the headers are encrypted", async () => {
    const archive = await makeArchive({ "s.txt": new TextEncoder().encode("hidden") }, ["-pSECRET", "-mhe=on"]);
    const ctx = makeCtx();
    expect(await collect(unpackSevenZip, archive, ctx)).toEqual([]);
    expect(ctx.heuristics).toEqual(["Heuristics.Encrypted.7Zip"]);
  });

  it("refuses a high-ratio archive before extracting it", async () => {
    const bomb = await makeArchive({ "zeros.bin": new Uint8Array(4 << 20) }, ["-mx9"]);
    expect(bomb.length * 1000).toBeLessThan(4 << 20); // ratio over 1000:1
    const ctx = makeCtx();
    const err = await collect(unpackSevenZip, bomb, ctx).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxRatio");
    expect(ctx.charged).toBe(0);
  });

  it("refuses members over maxFileSize and archives over maxFiles from the listing", async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 12; i++) files[`f${i}.txt`] = new TextEncoder().encode(`file ${i} `.repeat(2000));
    const archive = await makeArchive(files, []);
    expect((await collect(unpackSevenZip, archive)).length).toBe(12);
    const tooMany = await collect(unpackSevenZip, archive, makeCtx({ maxFiles: 10 })).catch((e: unknown) => e);
    expect((tooMany as LimitExceeded).limit).toBe("MaxFiles");
    const tooBig = await collect(unpackSevenZip, archive, makeCtx({ maxFileSize: 10_000 })).catch((e: unknown) => e);
    expect((tooBig as LimitExceeded).limit).toBe("MaxFileSize");
    const overBudget = await collect(unpackSevenZip, archive, makeCtx({ maxScanSize: 100_000 })).catch((e: unknown) => e);
    expect((overBudget as LimitExceeded).limit).toBe("MaxScanSize");
  });

  it("enforces the byte budget inside the 7-Zip run itself (sizes 7-Zip cannot list, e.g. NSIS)", async () => {
    const archive = await makeArchive({ "big.bin": new Uint8Array(300_000).fill(7) }, []);
    const inst = await sevenZip();
    inst.module.FS.mkdir("/hook");
    inst.module.FS.writeFile("/hook/in", archive);
    const res = run7z(inst, ["x", "-y", "-bd", "-o/hook/out", "/hook/in"], { ...OPEN, maxBytes: 100_000 });
    expect(res.tripped).toBe("MaxScanSize");
    expect(res.written).toBeLessThanOrEqual(100_000);
    const res2 = run7z(inst, ["x", "-y", "-bd", "-aou", "-o/hook/out2", "/hook/in"], { ...OPEN, maxFileBytes: 50_000 });
    expect(res2.tripped).toBe("MaxFileSize");
    expect(res2.exitCode).not.toBe(0);
  });

  it("enforces the scan deadline inside the synchronous 7-Zip run", async () => {
    const err = await collect(unpackSevenZip, testfile("clam.7z"), makeCtx({ maxScanTime: -1 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxScanTime");
  });

  it("keeps working on one instance across hundreds of archives (no WASM stack leak)", async () => {
    const inst = await sevenZip();
    const archive = testfile("clam.7z");
    for (let i = 0; i < 400; i++) {
      const kids = await collect(unpackSevenZip, archive);
      expect(kids).toHaveLength(1);
    }
    expect(await sevenZip()).toBe(inst); // never aborted, so never recycled
  });

  it("reads dictionary sizes from 7-Zip method strings", () => {
    expect(dictionaryBytes("LZMA2:24 BCJ")).toBe(16 << 20);
    expect(dictionaryBytes("LZMA:1536m")).toBe(1536 << 20);
    expect(dictionaryBytes("PPMD:o32:mem192m")).toBe(192 << 20);
    expect(dictionaryBytes("Deflate")).toBe(0);
  });

  it("leaves nothing behind in the in-memory FS, keeps process.exitCode, mounts no host FS", async () => {
    const inst = await sevenZip();
    const fs = inst.module.FS as unknown as { readdir(p: string): string[]; getMounts(m: unknown): Array<{ mountpoint: string }>; root: { mount: unknown } };
    const before = fs.readdir("/").filter((n) => n !== "hook");
    process.exitCode = undefined;
    await collect(unpackSevenZip, testfile("clam.7z"));
    await expect(collect(unpackSevenZip, testfile("clam.7z").subarray(0, 100))).rejects.toBeInstanceOf(UnpackError);
    expect(process.exitCode).toBeUndefined();
    expect(fs.readdir("/").filter((n) => n !== "hook")).toEqual(before);
    expect(fs.getMounts(fs.root.mount).map((m) => m.mountpoint).sort()).toEqual(["/", "/proc/self/fd"]);
  });

  for (const f of clamFiles) {
    it(`survives truncated and corrupted variants of ${f}`, async () => {
      await expectSurvivesMutants(unpackSevenZip, mutants(testfile(f), { flips: 80 }));
    });
  }
});
