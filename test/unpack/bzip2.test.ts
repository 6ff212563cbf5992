import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { unpackBzip2 } from "../../host/unpack/bzip2.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const MiB = 1 << 20;

/** bzip2-compress with 7-Zip (WASM): an independent encoder, at test time. */
async function bzip2(data: Uint8Array): Promise<Uint8Array> {
  const { default: SevenZip } = await import("7z-wasm");
  const sz = await SevenZip({ print: () => {}, printErr: () => {} });
  sz.FS.writeFile("/in.bin", data);
  sz.callMain(["a", "-tbzip2", "/out.bz2", "/in.bin"]);
  return sz.FS.readFile("/out.bz2");
}

describe("bzip2", () => {
  it("expands clam.exe.bz2 to clam.exe, named 'bunzip2'", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackBzip2, testfile("clam.exe.bz2"), ctx);
    expect(kids.map((k) => k.name)).toEqual(["bunzip2"]);
    expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
    expect(ctx.charged).toBe(544);
  });

  it("decodes several streams back to back (pbzip2, cat a.bz2 b.bz2)", async () => {
    const a = new TextEncoder().encode("first stream ".repeat(100));
    const b = new TextEncoder().encode("second stream ".repeat(100));
    const file = Buffer.concat([await bzip2(a), await bzip2(b)]);
    const kids = await collect(unpackBzip2, file);
    expect(Buffer.from(kids[0].data).toString()).toBe(Buffer.concat([a, b]).toString());
  });

  it("stops a zero bomb at the cap, mid-block, not after decoding it all", async () => {
    const bomb = await bzip2(new Uint8Array(16 * MiB));
    expect(bomb.length).toBeLessThan(200); // ~100000:1
    // the bomb is real: with room for it, it expands to 16 MiB
    const full = await collect(unpackBzip2, bomb, makeCtx({ maxRatio: 1e9 }));
    expect(full[0].data.length).toBe(16 * MiB);

    const ctx = makeCtx({ maxRatio: 1e9, maxFileSize: 2 * MiB });
    const err = await collect(unpackBzip2, bomb, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceeded);
    expect((err as LimitExceeded).limit).toBe("MaxFileSize");
    expect(ctx.charged).toBe(0);

    // under default limits the ratio cap (floor 1 MiB) is what stops it
    const ratio = await collect(unpackBzip2, bomb).catch((e: unknown) => e);
    expect((ratio as LimitExceeded).limit).toBe("MaxRatio");
  });

  it("calls checkTime while writing output and lets it abort", async () => {
    const bomb = await bzip2(new Uint8Array(8 * MiB));
    const ctx = makeCtx({ maxRatio: 1e9 });
    let calls = 0;
    ctx.checkTime = () => {
      if (++calls === 3) throw new LimitExceeded("MaxScanTime");
    };
    const err = await collect(unpackBzip2, bomb, ctx).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxScanTime");
  });

  it("keeps the complete streams of a file cut short, refuses non-bzip2", async () => {
    const a = new TextEncoder().encode("complete first stream");
    const second = await bzip2(new TextEncoder().encode("cut second stream ".repeat(50)));
    const file = Buffer.concat([await bzip2(a), second.subarray(0, second.length >> 1)]);
    const kids = await collect(unpackBzip2, file);
    expect(Buffer.from(kids[0].data.subarray(0, a.length)).toString()).toBe("complete first stream");
    await expect(collect(unpackBzip2, new TextEncoder().encode("BZh9 not really"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncation and byte flips", async () => {
    await expectSurvivesMutants(unpackBzip2, mutants(testfile("clam.exe.bz2"), { flips: 120, focus: [0, 64] }));
  });
});
