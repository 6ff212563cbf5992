import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { looksLikeSis, unpackSis } from "../../host/unpack/sis.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const sis = testfile("clam.sis");

describe("sis", () => {
  it("detects EPOC SIS packages by their UIDs", () => {
    expect(looksLikeSis(sis)).toBe(true);
    expect(looksLikeSis(testfile("clam.exe"))).toBe(false);
  });

  it("inflates clam.exe from clam.sis under its destination name", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackSis, sis, ctx);
    expect(kids).toHaveLength(1);
    expect(kids[0].name).toBe("clam.exe");
    expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
    expect(ctx.charged).toBe(544);
  });

  it("stops a compressed bomb at the ratio limit", async () => {
    const bomb = deflateSync(Buffer.alloc(10_000_000));
    const f = new Uint8Array(sis.length + bomb.length);
    f.set(sis);
    f.set(bomb, sis.length);
    const view = new DataView(f.buffer);
    const rec = view.getUint32(52, true);
    view.setUint32(rec + 28, bomb.length, true); // file length
    view.setUint32(rec + 32, sis.length, true); // file pointer
    await expect(collect(unpackSis, f)).rejects.toThrow(/MaxRatio/);
  });

  it("rejects non-SIS input with UnpackError", async () => {
    await expect(collect(unpackSis, new Uint8Array(100))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants", async () => {
    await expectSurvivesMutants(unpackSis, mutants(sis, { flips: 300, focus: [0, 340] }));
  });
});
