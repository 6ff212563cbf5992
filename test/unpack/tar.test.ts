import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { unpackBzip2 } from "../../host/unpack/bzip2.js";
import { unpackCpio } from "../../host/unpack/cpio.js";
import { detectType, type FileType } from "../../host/unpack/filetype.js";
import { unpackGzip } from "../../host/unpack/gzip.js";
import { unpackTar } from "../../host/unpack/tar.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "../../host/unpack/types.js";
import { unpackZip } from "../../host/unpack/zip.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const UNPACKERS: Partial<Record<FileType, Unpacker>> = {
  zip: unpackZip,
  gzip: unpackGzip,
  bzip2: unpackBzip2,
  tar: unpackTar,
  cpio: unpackCpio,
};

/** The natural chain (gzip -> tar -> gzip -> ...), as the orchestrator will walk it:
 *  type by magic, unpack, recurse; returns the leaves with their paths. */
async function leaves(data: Uint8Array, ctx: UnpackCtx, path = "", depth = 0): Promise<Child[]> {
  const unpack = UNPACKERS[detectType(data)];
  if (!unpack || depth > 30) return [{ name: path, data }];
  const out: Child[] = [];
  for await (const kid of unpack(data, ctx)) out.push(...(await leaves(kid.data, ctx, `${path}/${kid.name}`, depth + 1)));
  return out;
}

/** A tar header block; `fields` patch bytes at offsets, then the checksum is computed. */
function header(name: string, size: number, type = "0", fields: Array<[number, string]> = []): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, "utf8");
  h.write("0000644\0", 100);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write(type, 156);
  h.write("ustar\0" + "00", 257, "latin1");
  for (const [off, s] of fields) h.write(s, off, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

function entry(name: string, data: Uint8Array | string, type = "0", fields: Array<[number, string]> = []): Buffer {
  const body = Buffer.from(data);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header(name, body.length, type, fields), body, pad]);
}

const END = Buffer.alloc(1024);

/** "LEN key=value\n" where LEN counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (`${len}${body}`.length !== len) len++;
  return `${len}${body}`;
}

describe("tar", () => {
  it("clam.tar.gz: gzip -> tar -> clam.exe", async () => {
    const found = await leaves(testfile("clam.tar.gz"), makeCtx());
    expect(found.map((c) => c.name)).toEqual(["/gunzip/clam.exe"]);
    expect(sha256(found[0].data)).toBe(CLAM_EXE_SHA256);
  });

  it("clam_cache_emax.tgz: tgz nested 8 and 9 deep, each ending in clam.exe", async () => {
    // the outer tar holds clam01.tgz (which holds clam02.tgz ...) and clam02.tgz itself
    const found = await leaves(testfile("clam_cache_emax.tgz"), makeCtx());
    expect(found.map((c) => sha256(c.data))).toEqual([CLAM_EXE_SHA256, CLAM_EXE_SHA256]);
    const depths = found.map((c) => c.name.split("/").filter((p) => p === "gunzip").length);
    expect(depths).toEqual([9, 8]);
    for (const c of found) expect(c.name).toMatch(/\/clam08\.tgz\/gunzip\/clam\.exe$/);
  });

  it("joins the ustar prefix, reads GNU long names and pax path/size", async () => {
    const long = `${"d".repeat(120)}/file-with-a-long-name.txt`;
    const tar = Buffer.concat([
      entry("short.txt", "one", "0", [[345, "some/prefix"]]),
      entry("././@LongLink", `${long}\0`, "L"),
      entry(long.slice(0, 100), "two"),
      entry("PaxHeaders/x", paxRecord("mtime", "1.5") + paxRecord("path", "pax/name/from/header"), "x"),
      entry("truncated-name", "three"),
      entry("dir/", "", "5"),
      entry("link", "", "2"),
      END,
    ]);
    const kids = await collect(unpackTar, tar);
    expect(kids.map((k) => [k.name, Buffer.from(k.data).toString()])).toEqual([
      ["some/prefix/short.txt", "one"],
      [long, "two"],
      ["pax/name/from/header", "three"],
    ]);
  });

  it("takes the member size from a pax size record", async () => {
    const data = "x".repeat(700);
    const body = Buffer.concat([Buffer.from(data), Buffer.alloc(324)]);
    const tar = Buffer.concat([entry("p", paxRecord("size", "700"), "x"), header("big", 0), body, END]);
    const kids = await collect(unpackTar, tar);
    expect(kids.map((k) => k.data.length)).toEqual([700]);
  });

  it("reads GNU base-256 sizes", async () => {
    const h = header("b256", 0);
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h.writeUInt32BE(5, 132);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const kids = await collect(unpackTar, Buffer.concat([h, Buffer.from("hello"), Buffer.alloc(507), END]));
    expect(Buffer.from(kids[0].data).toString()).toBe("hello");
  });

  it("yields a truncated last member and stops at a bad checksum", async () => {
    const full = Buffer.concat([entry("a", "A".repeat(600)), entry("b", "B".repeat(600))]);
    const cut = await collect(unpackTar, full.subarray(0, 1536 + 512 + 100));
    expect(cut.map((k) => [k.name, k.data.length])).toEqual([["a", 600], ["b", 100]]);
    const bad = Buffer.from(full);
    bad[1536] ^= 0xff; // second header's name byte: checksum no longer matches
    expect((await collect(unpackTar, bad)).map((k) => k.name)).toEqual(["a"]);
    await expect(collect(unpackTar, Buffer.alloc(1024, 0x41))).rejects.toBeInstanceOf(UnpackError);
  });

  it("counts files against maxFiles and charges their bytes", async () => {
    const tar = Buffer.concat([...Array.from({ length: 6 }, (_, i) => entry(`f${i}`, "12345")), END]);
    const ctx = makeCtx({ maxFiles: 6 });
    expect(await collect(unpackTar, tar, ctx)).toHaveLength(6);
    expect(ctx.charged).toBe(30);
    const err = await collect(unpackTar, tar, makeCtx({ maxFiles: 5 })).catch((e: unknown) => e);
    expect((err as LimitExceeded).limit).toBe("MaxFiles");
  });

  it("survives truncation and byte flips", async () => {
    const tar = Buffer.concat([entry("clam.exe", testfile("clam.exe")), entry("x", "y"), END]);
    await expectSurvivesMutants(unpackTar, mutants(tar, { flips: 100, focus: [0, 1600] }));
  });
});
