import { describe, expect, it } from "vitest";
import { isCabFiles, looksLikeIsCabHeader } from "../../host/unpack/iscab.js";
import { unpackInstallShield } from "../../host/unpack/installshield.js";
import type { Child, UnpackCtx, Unpacker } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const records = await collect(unpackInstallShield, testfile("clam_IScab_int.exe"));
const rec = (n: string) => records.find((r) => r.name === n)!.data;
const hdr = rec("data1.hdr");
const cab1 = rec("data1.cab");
const cab2 = rec("data2.cab");

/** isCabFiles over fixed volumes, with the header as the unpacker input. */
const withHeader: Unpacker = (d: Uint8Array, ctx: UnpackCtx) => isCabFiles(d, new Map([[1, cab1], [2, cab2]]), ctx);
const withVolume2: Unpacker = (d: Uint8Array, ctx: UnpackCtx) => isCabFiles(hdr, new Map([[1, cab1], [2, d]]), ctx);

describe("InstallShield cabinets", () => {
  it("recognises the ISc( header", () => {
    expect(looksLikeIsCabHeader(hdr)).toBe(true);
    expect(looksLikeIsCabHeader(cab1.subarray(1))).toBe(false);
  });

  it("inflates files from both volumes, skipping empty and invalid entries", async () => {
    const files: Child[] = await collect(withHeader, hdr);
    expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(["license.rtf", "corecomp.ini", "isrt.dll", "clam.exe"]));
    expect(files.filter((f) => sha256(f.data) === CLAM_EXE_SHA256).map((f) => f.name)).toEqual(["clam.exe"]);
    expect(files.every((f) => f.data.length > 0)).toBe(true);
  });

  it("without the second volume, clam.exe is simply not there", async () => {
    const files = await collect((d, c) => isCabFiles(d, new Map([[1, cab1]]), c), hdr);
    expect(files.map((f) => f.name)).not.toContain("clam.exe");
  });

  it("stops at the scan-size limit", async () => {
    const ctx: UnpackCtx = makeCtx({ maxScanSize: 200_000 });
    await expect(collect(withHeader, hdr, ctx)).rejects.toThrow(/MaxScanSize/);
  });

  it("survives corrupted headers and volumes", async () => {
    await expectSurvivesMutants(withHeader, mutants(hdr, { flips: 300, focus: [0, 4096] }));
    await expectSurvivesMutants(withVolume2, mutants(cab2, { flips: 200, focus: [480, 800] }));
  });
});
