import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { looksLikeBinhex, unpackBinhex } from "../../host/unpack/binhex.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const hqx = testfile("clam.exe.binhex");
const ALPHABET = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/** Wraps an already run-length-coded 8-bit stream as BinHex text (6-bit characters, 64 per line). */
function binhexText(stream: number[]): Buffer {
  let chars = "";
  for (let i = 0; i < stream.length; i += 3) {
    const [a, b = 0, c = 0] = stream.slice(i, i + 3);
    const bits = (a << 16) | (b << 8) | c;
    const n = Math.min(4, Math.ceil(((stream.length - i) * 8) / 6));
    for (let k = 0; k < n; k++) chars += ALPHABET[(bits >> (18 - 6 * k)) & 63];
  }
  const lines = (chars.match(/.{1,64}/g) ?? []).join("\n");
  return Buffer.from(`(This file must be converted with BinHex 4.0)\n:${lines}:\n`, "latin1");
}

/** Header for `name` with the given fork lengths (CRC bytes are zero: they are not checked). */
function header(name: string, dataLen: number, rsrcLen: number): number[] {
  const u32 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return [name.length, ...Buffer.from(name), 0, ...Buffer.from("TEXTttxt"), 0, 0, ...u32(dataLen), ...u32(rsrcLen), 0, 0];
}

describe("binhex", () => {
  it("detects BinHex and not other data", () => {
    expect(looksLikeBinhex(hqx)).toBe(true);
    expect(looksLikeBinhex(testfile("clam.exe"))).toBe(false);
    expect(looksLikeBinhex(testfile("clam.mail"))).toBe(false);
  });

  it("decodes clam.exe.binhex: data fork clam.exe and its 1-byte resource fork", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackBinhex, hqx, ctx);
    expect(kids.map((k) => k.name)).toEqual(["clam.exe", "clam.exe.rsrc"]);
    expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
    expect(kids[1].data.length).toBe(1);
    expect(ctx.charged).toBe(545);
  });

  it("expands 0x90 runs and the escaped literal 0x90", async () => {
    // "A" then 0x90 5 (4 more A), 0x90 0 (a literal 0x90), "B"
    const stream = [...header("r.bin", 7, 0), 0x41, 0x90, 5, 0x90, 0, 0x42, 0, 0];
    const kids = await collect(unpackBinhex, binhexText(stream));
    expect(kids.map((k) => [k.name, Buffer.from(k.data).toString("latin1")])).toEqual([["r.bin", "AAAAA\x90B"]]);
  });

  it("stops a run-length bomb at maxFileSize", async () => {
    const runs: number[] = [];
    for (let i = 0; i < 20_000; i++) runs.push(0x90, 255); // ~5 MB of zeros from 40 KB
    const bomb = binhexText([...header("bomb", 200_000_000, 0), 0, ...runs]);
    await expect(collect(unpackBinhex, bomb, makeCtx({ maxFileSize: 1_000_000 }))).rejects.toThrow(LimitExceeded);
    const kids = await collect(unpackBinhex, bomb, makeCtx({ maxFileSize: 10_000_000 }));
    expect(kids[0].data.length).toBe(1 + 20_000 * 254); // a lying length yields what is there
  });

  it("survives truncations and byte flips", async () => {
    await expectSurvivesMutants(unpackBinhex, mutants(hqx, { flips: 80, focus: [40, 400] }));
  });
});
