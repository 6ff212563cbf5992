import { describe, expect, it } from "vitest";
import { looksLikeTnef, unpackTnef } from "../../host/unpack/tnef.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const tnef = testfile("clam.tnef");

/** One TNEF attribute: level, id (type << 16 | tag), length, data, checksum. */
function attr(level: number, id: number, data: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head[0] = level;
  head.writeUInt32LE(id, 1);
  head.writeUInt32LE(data.length, 5);
  const sum = Buffer.alloc(2);
  sum.writeUInt16LE(data.reduce((a, b) => (a + b) & 0xffff, 0));
  return Buffer.concat([head, data, sum]);
}

const SIGNATURE = Buffer.from([0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00]);
const REND = 0x00069002;
const TITLE = 0x00018010;
const DATA = 0x0006800f;

describe("tnef", () => {
  it("detects TNEF by its signature", () => {
    expect(looksLikeTnef(tnef)).toBe(true);
    expect(looksLikeTnef(testfile("clam.exe"))).toBe(false);
    expect(looksLikeTnef(tnef.subarray(0, 5))).toBe(false);
  });

  it("extracts clam.exe from clam.tnef with its title", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackTnef, tnef, ctx);
    expect(kids.map((k) => [k.name, sha256(k.data)])).toEqual([["clam.exe", CLAM_EXE_SHA256]]);
    expect(ctx.charged).toBe(544);
  });

  it("names each attachment by its own title, wherever the title comes", async () => {
    const file = Buffer.concat([
      SIGNATURE,
      attr(2, REND, Buffer.alloc(14)),
      attr(2, TITLE, Buffer.from("first.txt\0")),
      attr(2, DATA, Buffer.from("one")),
      attr(2, REND, Buffer.alloc(14)),
      attr(2, DATA, Buffer.from("two")),
      attr(2, TITLE, Buffer.from("dir\\second.bin\0")),
      attr(2, REND, Buffer.alloc(14)),
      attr(2, DATA, Buffer.from("three")),
    ]);
    const kids = await collect(unpackTnef, file);
    expect(kids.map((k) => [k.name, Buffer.from(k.data).toString()])).toEqual([
      ["first.txt", "one"],
      ["second.bin", "two"],
      ["attachment-3", "three"],
    ]);
  });

  it("keeps a truncated last attachment and rejects non-TNEF", async () => {
    const file = Buffer.concat([SIGNATURE, attr(2, REND, Buffer.alloc(14)), attr(2, DATA, Buffer.from("truncated data"))]);
    const kids = await collect(unpackTnef, file.subarray(0, file.length - 8));
    expect(kids.map((k) => Buffer.from(k.data).toString())).toEqual(["truncate"]); // 8 bytes cut: the checksum and "d data"
    await expect(collect(unpackTnef, testfile("clam.exe"))).rejects.toThrow(UnpackError);
  });

  it("survives truncations and byte flips", async () => {
    await expectSurvivesMutants(unpackTnef, mutants(tnef, { flips: 80, focus: [0, 3400] }));
  });
});
