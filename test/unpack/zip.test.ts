import zlib from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { UnpackError } from "../../host/unpack/types.js";
import { detectType } from "../../host/unpack/filetype.js";
import { countOverlaps, indexZip, unpackZip } from "../../host/unpack/zip.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { buildZip, makeZip, nestedZipBomb, overlappingZip, zerosZip } from "../helpers/zip-bombs.js";

const MiB = 1 << 20;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Runs 7-Zip (WASM) as an independent encoder: `7zz a -tzip <switches> /out.zip /in`. */
async function sevenZip(name: string, data: Uint8Array, switches: string[]): Promise<Uint8Array> {
  const { default: SevenZip } = await import("7z-wasm");
  const sz = await SevenZip({ print: () => {}, printErr: () => {} });
  sz.FS.writeFile(`/${name}`, data);
  sz.callMain(["a", "-tzip", ...switches, "/out.zip", `/${name}`]);
  return sz.FS.readFile("/out.zip");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("zip: Debian clamav-testfiles", () => {
  for (const [file, method] of [
    ["clam.zip", 8],
    ["clam.bz2.zip", 12],
    ["clam.d64.zip", 9],
    ["clam.impl.zip", 6],
  ] as const) {
    it(`${file} (method ${method}) yields clam.exe`, async () => {
      const data = testfile(file);
      expect(data[8] | (data[9] << 8)).toBe(method); // the file really uses that method
      const ctx = makeCtx();
      const kids = await collect(unpackZip, data, ctx);
      expect(kids).toHaveLength(1);
      expect(kids[0].name.toLowerCase()).toBe("clam.exe");
      expect(sha256(kids[0].data)).toBe(CLAM_EXE_SHA256);
      expect(ctx.charged).toBe(544);
    });
  }
});

describe("zip: members and methods", () => {
  it("round-trips stored and deflated members with their names", async () => {
    const a = text("alpha ".repeat(1000));
    const b = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff);
    const ctx = makeCtx();
    const kids = await collect(unpackZip, makeZip([{ name: "dir/a.txt", data: a }, { name: "b.bin", data: b, method: 0 }]), ctx);
    expect(kids.map((k) => k.name)).toEqual(["dir/a.txt", "b.bin"]);
    expect(kids[0].data).toEqual(a);
    expect(kids[1].data).toEqual(b);
    expect(ctx.charged).toBe(a.length + b.length);
  });

  it("decodes Deflate64 from 7-Zip using the 64 KiB window and long matches", async () => {
    // 40 KiB of noise repeated: matches reach back past deflate's 32 KiB window
    const noise = Uint8Array.from({ length: 40 * 1024 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff);
    const payload = new Uint8Array(300 * 1024);
    for (let i = 0; i < payload.length; i += noise.length) payload.set(noise.subarray(0, payload.length - i), i);
    const zip = await sevenZip("long.bin", payload, ["-mm=Deflate64", "-mx=9"]);
    expect(zip[8]).toBe(9);
    const kids = await collect(unpackZip, zip);
    expect(kids).toHaveLength(1);
    expect(sha256(kids[0].data)).toBe(sha256(payload));
  });

  it("reads names a strict library refuses (../, absolute), since a mail client may not", async () => {
    const kids = await collect(unpackZip, makeZip([{ name: "../../evil.exe", data: text("MZ") }, { name: "/abs", data: text("x") }]));
    expect(kids.map((k) => k.name)).toEqual(["../../evil.exe", "/abs"]);
  });

  it("skips directories and unsupported methods without a verdict, keeps the rest", async () => {
    const good = text("still scanned");
    const zip = buildZip([
      { name: "folder/", method: 0, crc: 0, compressed: new Uint8Array(0), size: 0 },
      { name: "lzma.bin", method: 14, crc: 0, compressed: text("not really lzma"), size: 100 },
      { name: "good.txt", method: 0, crc: zlib.crc32(good), compressed: good, size: good.length },
    ]);
    const ctx = makeCtx();
    const kids = await collect(unpackZip, zip, ctx);
    expect(kids.map((k) => k.name)).toEqual(["good.txt"]);
    expect(ctx.heuristics).toEqual([]);
  });

  it("reads a ZIP64 central directory (sizes and offset in the extra field)", async () => {
    const payload = text("zip64 member ".repeat(50));
    const deflated = zlib.deflateRawSync(payload);
    const zip = zip64Archive("big.txt", deflated, payload.length, zlib.crc32(payload));
    const kids = await collect(unpackZip, zip);
    expect(kids).toHaveLength(1);
    expect(kids[0].data).toEqual(payload);
  });
});

describe("zip: encryption", () => {
  it("reports traditional encryption and skips only the encrypted member", async () => {
    const zip = makeZip([
      { name: "secret.exe", data: testfile("clam.exe"), encrypted: true },
      { name: "plain.txt", data: text("hello") },
    ]);
    const ctx = makeCtx();
    const kids = await collect(unpackZip, zip, ctx);
    expect(ctx.heuristics).toEqual(["Heuristics.Encrypted.Zip"]);
    expect(kids.map((k) => k.name)).toEqual(["plain.txt"]);
  });

  it("reports WinZip AES (method 99) from 7-Zip", async () => {
    const zip = await sevenZip("a.txt", text("secret payload"), ["-pinfected", "-mem=AES256"]);
    expect(zip[8]).toBe(99);
    const ctx = makeCtx();
    expect(await collect(unpackZip, zip, ctx)).toEqual([]);
    expect(ctx.heuristics).toEqual(["Heuristics.Encrypted.Zip"]);
  });
});

describe("zip: bombs", () => {
  it("flags Fifield's overlapping bomb before inflating a single byte", async () => {
    const zip = overlappingZip(10);
    // the bomb is real: member 0 alone inflates to ~10 x the whole archive's kernel
    const member0 = indexZip(zip, makeCtx())[0];
    const direct = zlib.inflateRawSync(zip.subarray(member0.dataOffset, member0.dataOffset + member0.compressedSize));
    expect(direct.length).toBe(member0.declaredSize);
    expect(direct.length).toBeGreaterThan(MiB);

    const inflate = vi.spyOn(zlib, "inflateRawSync");
    const ctx = makeCtx();
    const kids = await collect(unpackZip, zip, ctx);
    expect(ctx.heuristics).toEqual(["Heuristics.Zip.OverlappingFiles"]);
    expect(kids).toEqual([]);
    expect(inflate).not.toHaveBeenCalled();
    expect(ctx.charged).toBe(0);
  });

  it("flags many records pointing at one local header", async () => {
    const ctx = makeCtx();
    expect(await collect(unpackZip, overlappingZip(10, { kernelBytes: 4096, sameHeader: true }), ctx)).toEqual([]);
    expect(ctx.heuristics).toEqual(["Heuristics.Zip.OverlappingFiles"]);
  });

  it("tolerates up to 5 overlaps, as ClamAV does, and flags the 6th", async () => {
    const five = overlappingZip(6, { kernelBytes: 4096 });
    expect(countOverlaps(indexZip(five, makeCtx()))).toBe(5);
    const ctx = makeCtx();
    expect(await collect(unpackZip, five, ctx)).toHaveLength(6);
    expect(ctx.heuristics).toEqual([]);

    const six = makeCtx();
    expect(await collect(unpackZip, overlappingZip(7, { kernelBytes: 4096 }), six)).toEqual([]);
    expect(six.heuristics).toEqual(["Heuristics.Zip.OverlappingFiles"]);
  });

  it("refuses 1 GiB of zeros from its declared size, without inflating", async () => {
    const zip = zerosZip(1024 * MiB);
    expect(zip.length).toBeLessThan(2 * MiB);
    const inflate = vi.spyOn(zlib, "inflateRawSync");
    const err = await collect(unpackZip, zip).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceeded);
    expect((err as LimitExceeded).limit).toBe("MaxFileSize");
    expect(inflate).not.toHaveBeenCalled();
  });

  it("stops 1 GiB of zeros that lies about its size at the cap, with bounded memory", async () => {
    const zip = zerosZip(1024 * MiB, { declaredSize: 1000 });
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const ctx = makeCtx();
    const err = await collect(unpackZip, zip, ctx).catch((e: unknown) => e);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(err).toBeInstanceOf(LimitExceeded);
    expect((err as LimitExceeded).limit).toBe("MaxFileSize");
    expect(peak - before).toBeLessThan(300 * MiB);
    expect(ctx.charged).toBe(0);
  });

  it("applies the expansion ratio to declared and to real sizes", async () => {
    const limits = { maxRatio: 100 };
    const honest = await collect(unpackZip, zerosZip(8 * MiB), makeCtx(limits)).catch((e: unknown) => e);
    expect((honest as LimitExceeded).limit).toBe("MaxRatio");
    const lying = await collect(unpackZip, zerosZip(8 * MiB, { declaredSize: 10 }), makeCtx(limits)).catch((e: unknown) => e);
    expect((lying as LimitExceeded).limit).toBe("MaxRatio");
    // deflate tops out near 1032:1, so pure zeros pass a 2000:1 limit
    expect((await collect(unpackZip, zerosZip(8 * MiB), makeCtx({ maxRatio: 2000 })))[0].data.length).toBe(8 * MiB);
  });

  it("counts members against maxFiles (directories excluded)", async () => {
    const files = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, data: text(`${i}`) }));
    expect(await collect(unpackZip, makeZip(files(10)), makeCtx({ maxFiles: 10 }))).toHaveLength(10);
    const withDir = buildZip([
      { name: "d/", method: 0, crc: 0, compressed: new Uint8Array(0), size: 0 },
      ...files(10).map((f) => ({ name: f.name, method: 0, crc: zlib.crc32(f.data), compressed: f.data, size: f.data.length })),
    ]);
    expect(await collect(unpackZip, withDir, makeCtx({ maxFiles: 10 }))).toHaveLength(10);
    const err = await collect(unpackZip, makeZip(files(11)), makeCtx({ maxFiles: 10 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxFiles");
  });

  it("stops when the scan budget runs out across members", async () => {
    const member = new Uint8Array(600 * 1024).fill(1);
    const zip = makeZip([{ name: "one", data: member }, { name: "two", data: member }]);
    const ctx = makeCtx({ maxScanSize: MiB });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const kid of unpackZip(zip, ctx)) seen.push(kid.name);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["one"]);
    expect((err as LimitExceeded).limit).toBe("MaxScanSize");
  });

  it("opens one level of a 42.zip-like bomb into zips", async () => {
    const bomb = nestedZipBomb(3, 16);
    expect(bomb.length).toBeLessThan(100 * 1024);
    const kids = await collect(unpackZip, bomb);
    expect(kids).toHaveLength(16);
    for (const k of kids) expect(detectType(k.data)).toBe("zip");
  });
});

describe("zip: broken archives", () => {
  const clam = testfile("clam.zip");
  const centralStart = clam.length - 22 - 46 - "clam.exe".length;

  it("finds members of an archive cut before its central directory", async () => {
    const kids = await collect(unpackZip, clam.subarray(0, centralStart));
    expect(kids.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
  });

  it("finds a member that only has a local header (hidden from the directory)", async () => {
    const hidden = makeZip([{ name: "hidden.exe", data: testfile("clam.exe") }]);
    const shown = makeZip([{ name: "shown.txt", data: text("nothing to see") }]);
    const hiddenLocal = hidden.subarray(0, hidden.length - 22 - 46 - "hidden.exe".length);
    // shown.zip's offsets are relative to its own start: the end record tells us the shift
    const kids = await collect(unpackZip, Buffer.concat([hiddenLocal, shown]));
    expect(kids.map((k) => k.name).sort()).toEqual(["hidden.exe", "shown.txt"]);
  });

  it("survives junk appended after the end record and prepended before the archive", async () => {
    const appended = Buffer.concat([clam, Buffer.from("trailing junk")]);
    const prepended = Buffer.concat([Buffer.alloc(1000, 0x90), clam]);
    for (const data of [appended, prepended]) {
      const kids = await collect(unpackZip, data);
      expect(kids.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
    }
  });

  it("yields the readable prefix of a truncated member", async () => {
    const payload = text("0123456789abcdef".repeat(4096));
    const zip = makeZip([{ name: "long.txt", data: payload }]);
    const kids = await collect(unpackZip, zip.subarray(0, 200));
    expect(kids).toHaveLength(1);
    expect(kids[0].data.length).toBeGreaterThan(0);
    expect(kids[0].data).toEqual(payload.subarray(0, kids[0].data.length));
  });

  it("refuses data with no zip structure at all", async () => {
    await expect(collect(unpackZip, text("PK but nothing else"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncation and byte flips of every real zip variant", async () => {
    for (const f of ["clam.zip", "clam.bz2.zip", "clam.d64.zip", "clam.impl.zip"]) {
      await expectSurvivesMutants(unpackZip, mutants(testfile(f), { flips: 80, focus: [0, 512] }));
    }
  });
});

/** A one-member archive whose central record and end record use the ZIP64 forms. */
function zip64Archive(name: string, compressed: Uint8Array, size: number, crc: number): Uint8Array {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(45, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc >>> 0, 14);
  local.writeUInt32LE(compressed.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(n.length, 26);
  const extra = Buffer.alloc(28);
  extra.writeUInt16LE(1, 0);
  extra.writeUInt16LE(24, 2);
  extra.writeBigUInt64LE(BigInt(size), 4);
  extra.writeBigUInt64LE(BigInt(compressed.length), 12);
  extra.writeBigUInt64LE(0n, 20);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(45, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc >>> 0, 16);
  central.writeUInt32LE(0xffffffff, 20);
  central.writeUInt32LE(0xffffffff, 24);
  central.writeUInt16LE(n.length, 28);
  central.writeUInt16LE(extra.length, 30);
  central.writeUInt32LE(0xffffffff, 42);
  const body = Buffer.concat([local, n, compressed]);
  const cd = Buffer.concat([central, n, extra]);
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(0x06064b50, 0);
  end64.writeBigUInt64LE(44n, 4);
  end64.writeBigUInt64LE(1n, 24);
  end64.writeBigUInt64LE(1n, 32);
  end64.writeBigUInt64LE(BigInt(cd.length), 40);
  end64.writeBigUInt64LE(BigInt(body.length), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(body.length + cd.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([body, cd, end64, locator, end]);
}
