import { describe, expect, it } from "vitest";
import { looksLikePe, unpackExecutable } from "../../host/unpack/executable.js";
import type { Child } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const clamIn = (kids: Child[]) => kids.filter((k) => sha256(k.data) === CLAM_EXE_SHA256).map((k) => k.name);

describe("executable payloads", () => {
  it("recognises MZ files", () => {
    expect(looksLikePe(testfile("clam.exe"))).toBe(true);
    expect(looksLikePe(testfile("clam.pdf"))).toBe(false);
  });

  it("routes each installer/packer to the right unpacker", async () => {
    expect(clamIn(await collect(unpackExecutable, testfile("clam-nsis.exe")))).toEqual(["clam.exe"]); // 7-Zip
    expect(clamIn(await collect(unpackExecutable, testfile("clam_ISmsi_ext.exe")))).toEqual(["clam.exe409.bmp"]); // InstallShield
    expect(clamIn(await collect(unpackExecutable, testfile("clam_IScab_ext.exe")))).toContain("clam.exe");
    expect(clamIn(await collect(unpackExecutable, testfile("clam-fsg.exe")))).toEqual(["embedded-pe@6112"]); // carved
  });

  it("unpacks UPX, and the unpacked file in turn yields clam.exe", async () => {
    const outer = await collect(unpackExecutable, testfile("clam-upx.exe"));
    expect(outer.map((k) => k.name)).toEqual(["upx-unpacked.exe"]);
    expect(clamIn(await collect(unpackExecutable, outer[0].data))).toEqual(["embedded-pe@6112"]);
  });

  it("yields nothing for a plain executable", async () => {
    expect(await collect(unpackExecutable, testfile("clam.exe"))).toEqual([]);
  });

  it("survives truncated and corrupted variants of a packed executable", async () => {
    await expectSurvivesMutants(unpackExecutable, mutants(testfile("clam-upx.exe"), { flips: 60 }));
    await expectSurvivesMutants(unpackExecutable, mutants(testfile("clam-fsg.exe"), { flips: 30 }));
  });
});
