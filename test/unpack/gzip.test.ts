import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { detectType } from "../../host/unpack/filetype.js";
import { unpackGzip } from "../../host/unpack/gzip.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { deflatedZeros } from "../helpers/zip-bombs.js";

const MiB = 1 << 20;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One gzip member written by hand (zlib cannot set FNAME/FEXTRA/FCOMMENT). */
function member(data: Uint8Array, opts: { name?: string; comment?: string; extra?: boolean; deflated?: Uint8Array } = {}): Buffer {
  let flags = 0;
  const fields: Buffer[] = [];
  if (opts.extra) {
    flags |= 4;
    fields.push(Buffer.from([6, 0, 0x41, 0x42, 2, 0, 1, 2]));
  }
  if (opts.name !== undefined) {
    flags |= 8;
    fields.push(Buffer.from(`${opts.name}\0`, "latin1"));
  }
  if (opts.comment !== undefined) {
    flags |= 16;
    fields.push(Buffer.from(`${opts.comment}\0`, "latin1"));
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  const head = Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3]);
  return Buffer.concat([head, ...fields, opts.deflated ?? zlib.deflateRawSync(data), trailer]);
}

describe("gzip", () => {
  it("gunzips clam.tar.gz into a tar (no FNAME: child is 'gunzip')", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackGzip, testfile("clam.tar.gz"), ctx);
    expect(kids).toHaveLength(1);
    expect(kids[0].name).toBe("gunzip");
    expect(detectType(kids[0].data)).toBe("tar");
    expect(sha256(kids[0].data)).toBe(sha256(zlib.gunzipSync(testfile("clam.tar.gz"))));
    expect(ctx.charged).toBe(kids[0].data.length);
  });

  it("names the child from FNAME, past FEXTRA, and skips FCOMMENT", async () => {
    const data = text("payload with a name");
    const kids = await collect(unpackGzip, member(data, { name: "invoice.exe", comment: "hi", extra: true }));
    expect(kids[0].name).toBe("invoice.exe");
    expect(kids[0].data).toEqual(data);
  });

  it("joins concatenated members and ignores junk after the last one", async () => {
    const a = text("first member\n");
    const b = text("second member\n");
    const file = Buffer.concat([member(a, { name: "a.txt" }), member(b), Buffer.from("trailing junk, not gzip")]);
    expect(() => zlib.gunzipSync(file)).toThrow(); // what we do better than zlib's gunzip
    const kids = await collect(unpackGzip, file);
    expect(kids).toHaveLength(1);
    expect(kids[0].name).toBe("a.txt");
    expect(new TextDecoder().decode(kids[0].data)).toBe("first member\nsecond member\n");
  });

  it("yields the prefix of a truncated stream", async () => {
    const data = text("truncated gzip keeps its prefix. ".repeat(3000));
    const full = member(data);
    const kids = await collect(unpackGzip, full.subarray(0, full.length >> 1));
    expect(kids[0].data.length).toBeGreaterThan(0);
    expect(kids[0].data).toEqual(data.subarray(0, kids[0].data.length));
  });

  it("rejects data that is not gzip", async () => {
    await expect(collect(unpackGzip, text("plain text"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("stops 1 GiB of zeros at the file-size cap with bounded memory", async () => {
    const bomb = member(new Uint8Array(0), { deflated: deflatedZeros(1024 * MiB).compressed });
    expect(bomb.length).toBeLessThan(2 * MiB);
    const before = process.memoryUsage().rss;
    const ctx = makeCtx();
    const err = await collect(unpackGzip, bomb, ctx).catch((e: unknown) => e);
    expect(process.memoryUsage().rss - before).toBeLessThan(300 * MiB);
    expect(err).toBeInstanceOf(LimitExceeded);
    expect((err as LimitExceeded).limit).toBe("MaxFileSize");
    expect(ctx.charged).toBe(0);
  });

  it("caps the sum of many members, not each member", async () => {
    const one = member(new Uint8Array(0), { deflated: deflatedZeros(MiB).compressed });
    const file = Buffer.concat(Array.from({ length: 40 }, () => one)); // 40 MiB in total
    const ok = await collect(unpackGzip, file, makeCtx({ maxFileSize: 64 * MiB, maxRatio: 2000 }));
    expect(ok[0].data.length).toBe(40 * MiB);
    const err = await collect(unpackGzip, file, makeCtx({ maxFileSize: 16 * MiB, maxRatio: 2000 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxFileSize");
  });

  it("applies the expansion ratio", async () => {
    const bomb = member(new Uint8Array(0), { deflated: deflatedZeros(16 * MiB).compressed });
    const err = await collect(unpackGzip, bomb, makeCtx({ maxRatio: 100 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxRatio");
  });

  it("survives truncation and byte flips", async () => {
    await expectSurvivesMutants(unpackGzip, mutants(testfile("clam.tar.gz"), { flips: 100, focus: [0, 64] }));
    await expectSurvivesMutants(unpackGzip, mutants(testfile("clam_cache_emax.tgz"), { flips: 60 }));
  });
});
