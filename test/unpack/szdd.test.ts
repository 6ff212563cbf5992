import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { looksLikeSzdd, unpackSzdd } from "../../host/unpack/szdd.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const szdd = testfile("clam.exe.szdd");

/** Builds an SZDD file by hand: literal-only LZSS plus one long run of matches. */
function literalSzdd(payload: Uint8Array, declared = payload.length): Uint8Array {
  const body: number[] = [];
  for (let i = 0; i < payload.length; i += 8) {
    const chunk = payload.subarray(i, i + 8);
    body.push(0xff, ...chunk);
  }
  const head = [0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33, 0x41, 0x5f];
  const size = [declared & 0xff, (declared >>> 8) & 0xff, (declared >>> 16) & 0xff, declared >>> 24];
  return Uint8Array.from([...head, ...size, ...body]);
}

describe("szdd", () => {
  it("detects SZDD and not other data", () => {
    expect(looksLikeSzdd(szdd)).toBe(true);
    expect(looksLikeSzdd(testfile("clam.exe"))).toBe(false);
    expect(looksLikeSzdd(szdd.subarray(0, 8))).toBe(false);
  });

  it("expands clam.exe.szdd to clam.exe", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackSzdd, szdd, ctx);
    expect(kids).toHaveLength(1);
    expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
    expect(ctx.charged).toBe(544);
  });

  it("round-trips a hand-built literal stream", async () => {
    const payload = new TextEncoder().encode("hello, SZDD world: literal bytes only");
    const kids = await collect(unpackSzdd, literalSzdd(payload));
    expect(new TextDecoder().decode(kids[0].data)).toBe("hello, SZDD world: literal bytes only");
  });

  it("does not trust a header promising more than the body can hold", async () => {
    const ctx = makeCtx();
    const file = literalSzdd(new Uint8Array(16).fill(7), 0xfffffff0);
    const kids = await collect(unpackSzdd, file, ctx);
    expect(kids[0].data.length).toBe(16);
    // charged (and allocated) at most the 9x the body could ever expand to, not 4 GB
    expect(ctx.charged).toBeLessThanOrEqual((file.length - 14) * 9);
  });

  it("expands a match-only bomb up to the limit and no further", async () => {
    // every flag bit 0: 8 matches of 18 window bytes per 17 input bytes (~8.5x)
    const groups = 20_000;
    const body = new Uint8Array(groups * 17);
    for (let g = 0; g < groups; g++) {
      body[g * 17] = 0;
      for (let k = 0; k < 8; k++) body[g * 17 + 1 + 2 * k + 1] = 0x0f;
    }
    const head = Uint8Array.from([0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33, 0x41, 0x5f, 0, 0, 0, 1]);
    const file = new Uint8Array(head.length + body.length);
    file.set(head);
    file.set(body, head.length);
    const all = await collect(unpackSzdd, file);
    expect(all[0].data.length).toBe(groups * 8 * 18);
    expect(all[0].data.every((b) => b === 0x20)).toBe(true);
    await expect(collect(unpackSzdd, file, makeCtx({ maxFileSize: 100_000 }))).rejects.toBeInstanceOf(LimitExceeded);
  });

  it("rejects a wrong compression mode with UnpackError", async () => {
    const bad = szdd.slice();
    bad[8] = 0x42;
    await expect(collect(unpackSzdd, bad)).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants", async () => {
    await expectSurvivesMutants(unpackSzdd, mutants(szdd, { flips: 200 }));
  });
});
