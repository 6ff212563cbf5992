import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { findEmbeddedPe, unpackEmbeddedPe } from "../../host/unpack/embedded-pe.js";
import { looksLikeUpx, unpackUpx } from "../../host/unpack/upx.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const upx = testfile("clam-upx.exe");
const HEADER = Buffer.from(upx).indexOf("UPX!");

describe("upx", () => {
  it("detects the UPX pack header only in packed files", () => {
    expect(looksLikeUpx(upx)).toBe(true);
    expect(looksLikeUpx(testfile("clam.exe"))).toBe(false);
    expect(looksLikeUpx(testfile("clam-aspack.exe"))).toBe(false);
  });

  it("decompresses clam-upx.exe (NRV2B), rebuilds the original file and finds the embedded clam.exe", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackUpx, upx, ctx);
    expect(kids[0].name).toBe("upx-unpacked.exe");
    // the pack header records the original file size: the rebuilt layout must match it
    const originalSize = new DataView(upx.buffer, upx.byteOffset).getUint32(HEADER + 24, true);
    expect(kids[0].data.length).toBe(originalSize);
    expect(Buffer.from(kids[0].data.subarray(0, 2)).toString("latin1")).toBe("MZ");
    expect(kids).toHaveLength(1);
    // one more level, as the orchestrator does for any executable: the embedded PE
    const inner = await collect(unpackEmbeddedPe, kids[0].data);
    expect(inner.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
  });

  it("carves executables embedded in arbitrary data, to the end of the data", async () => {
    const clam = testfile("clam.exe");
    const blob = new Uint8Array(1000 + clam.length);
    blob.set(new TextEncoder().encode("MZ but no PE header here"), 10);
    blob.set(clam, 1000);
    expect(findEmbeddedPe(blob)).toEqual([1000]);
    const kids = await collect(unpackEmbeddedPe, blob);
    expect(kids.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
  });

  it("rejects an uncompressed length beyond the ratio limit before allocating", async () => {
    const bad = upx.slice();
    new DataView(bad.buffer).setUint32(HEADER + 16, 0xfffffff0, true);
    const err = await collect(unpackUpx, bad).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxRatio");
  });

  it("rejects methods it cannot decode with UnpackError", async () => {
    const nrv2e = upx.slice();
    nrv2e[HEADER + 6] = 8;
    await expect(collect(unpackUpx, nrv2e)).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants", async () => {
    await expectSurvivesMutants(unpackUpx, mutants(upx, { flips: 300, focus: [HEADER, HEADER + 32 + 792] }));
  });
});
