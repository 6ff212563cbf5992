import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { unpackCpio } from "../../host/unpack/cpio.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/** One newc member; `mode` defaults to a regular file. */
function newc(name: string, data: string, mode = 0o100644): Buffer {
  const nameZ = `${name}\0`;
  const fields = [1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameZ.length, 0].map(hex8).join("");
  const head = `070701${fields}${nameZ}`;
  const pad = (n: number): string => "\0".repeat((4 - (n % 4)) % 4);
  return Buffer.from(head + pad(head.length) + data + pad(data.length), "latin1");
}

const trailer = (): Buffer => newc("TRAILER!!!", "", 0);

describe("cpio", () => {
  for (const file of ["clam.bin-be.cpio", "clam.bin-le.cpio", "clam.newc.cpio", "clam.odc.cpio"]) {
    it(`${file} yields clam.exe`, async () => {
      const ctx = makeCtx();
      const kids = await collect(unpackCpio, testfile(file), ctx);
      expect(kids).toHaveLength(1);
      expect(kids[0].name).toBe("clam.exe");
      expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
      expect(ctx.charged).toBe(544);
    });
  }

  it("yields regular files only, with 4-byte newc padding, and stops at the trailer", async () => {
    const archive = Buffer.concat([
      newc("dir", "", 0o040755),
      newc("a.txt", "odd"),
      newc("link", "a.txt", 0o120777),
      newc("b/c.txt", "seven!!"),
      trailer(),
      newc("after-trailer", "ignored"),
    ]);
    const kids = await collect(unpackCpio, archive);
    expect(kids.map((k) => [k.name, Buffer.from(k.data).toString()])).toEqual([
      ["a.txt", "odd"],
      ["b/c.txt", "seven!!"],
    ]);
  });

  it("yields a truncated member, refuses a non-cpio start", async () => {
    const archive = Buffer.concat([newc("a", "A".repeat(100)), newc("b", "B".repeat(100))]);
    const cut = await collect(unpackCpio, archive.subarray(0, archive.length - 60));
    expect(cut.map((k) => [k.name, k.data.length])).toEqual([
      ["a", 100],
      ["b", 40], // 100 bytes minus the 60 cut off
    ]);
    await expect(collect(unpackCpio, Buffer.from("0707xx not cpio"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("counts files against maxFiles", async () => {
    const archive = Buffer.concat([...Array.from({ length: 4 }, (_, i) => newc(`f${i}`, "x")), trailer()]);
    expect(await collect(unpackCpio, archive, makeCtx({ maxFiles: 4 }))).toHaveLength(4);
    const err = await collect(unpackCpio, archive, makeCtx({ maxFiles: 3 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxFiles");
  });

  it("survives truncation and byte flips of every format", async () => {
    for (const f of ["clam.bin-be.cpio", "clam.bin-le.cpio", "clam.newc.cpio", "clam.odc.cpio"]) {
      await expectSurvivesMutants(unpackCpio, mutants(testfile(f), { flips: 60, focus: [0, 160] }));
    }
  });
});
