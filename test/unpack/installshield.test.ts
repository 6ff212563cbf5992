import { describe, expect, it } from "vitest";
import { looksLikeInstallShield, overlayStart, unpackInstallShield } from "../../host/unpack/installshield.js";
import { unpackOle2 } from "../../host/unpack/ole2.js";
import { unpackSevenZip } from "../../host/unpack/sevenzip.js";
import { UnpackError, type Child } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const hasClam = (kids: Child[]) => kids.some((k) => sha256(k.data) === CLAM_EXE_SHA256);
const clamNames = (kids: Child[]) => kids.filter((k) => sha256(k.data) === CLAM_EXE_SHA256).map((k) => k.name);

describe("installshield", () => {
  it("finds the overlay of the test installers and nothing in a plain PE", () => {
    for (const f of ["clam_ISmsi_ext.exe", "clam_ISmsi_int.exe", "clam_IScab_ext.exe", "clam_IScab_int.exe"]) {
      expect(looksLikeInstallShield(testfile(f))).toBe(true);
    }
    expect(overlayStart(testfile("clam.zip"))).toBe(0);
    expect(looksLikeInstallShield(testfile("clam.exe"))).toBe(false);
  });

  it("decodes the obfuscated, compressed clam.exe in clam_ISmsi_ext.exe", async () => {
    const kids = await collect(unpackInstallShield, testfile("clam_ISmsi_ext.exe"));
    expect(kids.map((k) => k.name)).toEqual(["clam.exe409.bmp", "0x0409.ini", "EvalMarker.dat", "clam.msi", "Setup.ini"]);
    expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
    expect(new TextDecoder("utf-16le").decode(kids[4].data.subarray(2, 18))).toBe("[Info]\r\n");
  });

  it("reaches clam.exe in clam_ISmsi_int.exe through clam.msi and its cabinet", async () => {
    const kids = await collect(unpackInstallShield, testfile("clam_ISmsi_int.exe"));
    const msi = kids.find((k) => k.name === "clam.msi")!;
    const streams = await collect(unpackOle2, msi.data);
    const cabs = streams.filter((s) => s.data[0] === 0x4d && s.data[1] === 0x53 && s.data[2] === 0x43 && s.data[3] === 0x46);
    expect(cabs.length).toBeGreaterThan(0);
    const inner = (await Promise.all(cabs.map((c) => collect(unpackSevenZip, c.data)))).flat();
    expect(hasClam(inner)).toBe(true);
  });

  it("reads the plain records of clam_IScab_ext.exe", async () => {
    const kids = await collect(unpackInstallShield, testfile("clam_IScab_ext.exe"));
    expect(kids[0].name).toBe("clam.exe");
    expect(hasClam(kids)).toBe(true);
  });

  it("reads the InstallShield cabinets of clam_IScab_int.exe (clam.exe is in volume 2)", async () => {
    const kids = await collect(unpackInstallShield, testfile("clam_IScab_int.exe"));
    expect(kids.map((k) => k.name)).toContain("data2.cab");
    expect(clamNames(kids)).toEqual(["data1.hdr/clam.exe"]);
    const license = kids.find((k) => k.name === "data1.hdr/license.rtf")!;
    expect(Buffer.from(license.data.subarray(0, 5)).toString("latin1")).toBe("{\\rtf");
  });

  it("charges every file", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackInstallShield, testfile("clam_ISmsi_ext.exe"), ctx);
    expect(ctx.charged).toBe(kids.reduce((n, k) => n + k.data.length, 0));
    await expect(collect(unpackInstallShield, testfile("clam_ISmsi_ext.exe"), makeCtx({ maxScanSize: 10_000 }))).rejects.toThrow(/MaxScanSize/);
  });

  it("rejects a PE without a payload with UnpackError", async () => {
    await expect(collect(unpackInstallShield, testfile("clam.exe"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants", async () => {
    for (const f of ["clam_ISmsi_ext.exe", "clam_IScab_ext.exe", "clam_IScab_int.exe"]) {
      const d = testfile(f);
      const o = overlayStart(d);
      await expectSurvivesMutants(unpackInstallShield, mutants(d, { flips: 60, focus: [o, o + 2048] }));
      await expectSurvivesMutants(unpackInstallShield, mutants(d, { flips: 20, seed: 4 }));
    }
  });
});
