import CFB from "cfb";
import { describe, expect, it } from "vitest";
import { decodeMsiName, ENCRYPTED_OLE2, looksLikeOle2, MACROS_VBA, unpackOle2 } from "../../host/unpack/ole2.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const doc = testfile("clam.ole.doc");
const ppt = testfile("clam.ppt");
const SECTOR = 512;

/** A small v3 compound file written by the cfb package (used here only as a writer). */
function buildCfb(streams: Record<string, Uint8Array>): Uint8Array {
  const c = CFB.utils.cfb_new();
  for (const [path, data] of Object.entries(streams)) CFB.utils.cfb_add(c, path, Buffer.from(data));
  return new Uint8Array(CFB.write(c, { type: "buffer" }) as Buffer);
}

const view = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);

/** Byte offsets of the directory entries, following the directory's FAT chain
 *  (small test files: one FAT sector). */
function dirOffsets(f: Uint8Array): number[] {
  const fatAt = (view(f).getUint32(0x4c, true) + 1) * SECTOR;
  const out: number[] = [];
  for (let s = view(f).getUint32(0x30, true); s < 0xfffffffa && out.length < 64; s = view(f).getUint32(fatAt + s * 4, true)) {
    for (let k = 0; k < 4; k++) out.push((s + 1) * SECTOR + k * 128);
  }
  return out;
}

function dirIndex(f: Uint8Array, name: string): number {
  const i = dirOffsets(f).findIndex((o) => {
    const len = view(f).getUint16(o + 0x40, true);
    return Buffer.from(f.subarray(o, o + Math.max(0, len - 2))).toString("utf16le") === name;
  });
  if (i < 0) throw new Error(`no entry ${name}`);
  return i;
}

/** Byte offset of the directory entry called `name`. */
function dirEntry(f: Uint8Array, name: string): number {
  return dirOffsets(f)[dirIndex(f, name)];
}

describe("ole2", () => {
  it("detects compound files only", () => {
    expect(looksLikeOle2(doc)).toBe(true);
    expect(looksLikeOle2(ppt)).toBe(true);
    expect(looksLikeOle2(testfile("clam.exe"))).toBe(false);
  });

  it("lists the streams of clam.ole.doc by storage path", async () => {
    const names = (await collect(unpackOle2, doc)).map((c) => c.name);
    expect(names).toContain("WordDocument");
    expect(names).toContain("ObjectPool/_1279313719/Ole10Native");
    expect(names).toContain("SummaryInformation");
  });

  it("extracts clam.exe from the Ole10Native package in clam.ole.doc", async () => {
    const kids = await collect(unpackOle2, doc);
    const exe = kids.find((c) => sha256(c.data) === CLAM_EXE_SHA256);
    expect(exe?.name).toBe("ObjectPool/_1279313719/Ole10Native/clam.exe");
  });

  it("reaches clam.exe in clam.ppt through the compressed ExOleObjStg (one more level)", async () => {
    const kids = await collect(unpackOle2, ppt);
    expect(kids.some((c) => sha256(c.data) === CLAM_EXE_SHA256)).toBe(false);
    const embedded = kids.filter((c) => c.name.startsWith("PowerPoint Document/ExOleObjStg-"));
    expect(embedded).toHaveLength(1);
    expect(looksLikeOle2(embedded[0].data)).toBe(true);
    const inner = await collect(unpackOle2, embedded[0].data);
    expect(inner.some((c) => sha256(c.data) === CLAM_EXE_SHA256 && c.name.endsWith("/clam.exe"))).toBe(true);
  });

  it("raises no macro heuristic on documents without VBA", async () => {
    const ctx = makeCtx();
    await collect(unpackOle2, doc, ctx);
    expect(ctx.heuristics).not.toContain(MACROS_VBA);
  });

  it("raises the VBA macro heuristic for a Macros/VBA project", async () => {
    const f = buildCfb({ "/Macros/VBA/_VBA_PROJECT": new Uint8Array([0xcc, 0x61]), "/WordDocument": new Uint8Array(8) });
    const ctx = makeCtx();
    const kids = await collect(unpackOle2, f, ctx);
    expect(ctx.heuristics).toContain(MACROS_VBA);
    expect(kids.map((k) => k.name)).toContain("Macros/VBA/_VBA_PROJECT");
  });

  it("raises Heuristics.Encrypted.OLE2 for encrypted Word, Excel and OOXML packages", async () => {
    const wordFib = new Uint8Array(64);
    wordFib.set([0xec, 0xa5], 0);
    wordFib[11] = 0x01; // fEncrypted
    const filepass = Uint8Array.from([0x09, 0x08, 2, 0, 0, 6, /* BOF */ 0x2f, 0x00, 2, 0, 1, 0 /* FILEPASS */]);
    const cases: Array<[Record<string, Uint8Array>, boolean]> = [
      [{ "/WordDocument": wordFib }, true],
      [{ "/Workbook": filepass }, true],
      [{ "/EncryptionInfo": new Uint8Array(8), "/EncryptedPackage": new Uint8Array(8) }, true],
      [{ "/Workbook": filepass.subarray(0, 6) }, false],
    ];
    for (const [streams, encrypted] of cases) {
      const ctx = makeCtx();
      await collect(unpackOle2, buildCfb(streams), ctx);
      expect(ctx.heuristics.includes(ENCRYPTED_OLE2)).toBe(encrypted);
    }
    const plain = makeCtx();
    await collect(unpackOle2, doc, plain);
    expect(plain.heuristics).toEqual([]);
  });

  it("terminates on a directory whose storages are each other's child", async () => {
    const f = buildCfb({ "/Macros/VBA/dir": new Uint8Array(10), "/WordDocument": new TextEncoder().encode("hello") });
    view(f).setUint32(dirEntry(f, "VBA") + 0x4c, dirIndex(f, "Macros"), true); // Macros -> VBA -> Macros
    view(f).setUint32(dirEntry(f, "WordDocument") + 0x44, dirIndex(f, "WordDocument"), true); // own left sibling
    const kids = await collect(unpackOle2, f);
    expect(kids.filter((k) => k.name === "WordDocument")).toHaveLength(1);
  });

  it("terminates on a FAT chain that loops back on itself (the cfb package dies of OOM here)", async () => {
    const f = buildCfb({ "/Big": new Uint8Array(10 * SECTOR).fill(0x41) });
    const big = dirEntry(f, "Big");
    const fatAt = (view(f).getUint32(0x4c, true) + 1) * SECTOR;
    const chain: number[] = [];
    for (let s = view(f).getUint32(big + 0x74, true); s < 0xfffffffa && chain.length < 20; s = view(f).getUint32(fatAt + s * 4, true)) chain.push(s);
    expect(chain).toHaveLength(10);
    view(f).setUint32(fatAt + chain[9] * 4, chain[1], true); // last sector -> second: a cycle
    view(f).setUint32(big + 0x74, chain[1], true); // and the stream starts inside it
    const kids = await collect(unpackOle2, f);
    const data = kids.find((k) => k.name === "Big")!.data;
    expect(data.length).toBe(9 * SECTOR); // each sector of the cycle read once
    expect(data.every((b) => b === 0x41)).toBe(true);
  });

  it("charges stream bytes and stops at the scan-size limit", async () => {
    const f = buildCfb({ "/A": new Uint8Array(6000), "/B": new Uint8Array(6000) });
    await expect(collect(unpackOle2, f, makeCtx({ maxScanSize: 8000 }))).rejects.toThrow(/MaxScanSize/);
  });

  it("returns streams unreachable from the root as orphans", async () => {
    const f = buildCfb({ "/Hidden": new TextEncoder().encode("evil payload"), "/WordDocument": new Uint8Array(4) });
    const hidden = dirIndex(f, "Hidden");
    // unlink Hidden from the sibling tree wherever it is referenced
    for (const o of dirOffsets(f)) {
      for (const field of [0x44, 0x48, 0x4c]) if (view(f).getUint32(o + field, true) === hidden) view(f).setUint32(o + field, 0xffffffff, true);
    }
    const kids = await collect(unpackOle2, f);
    const orphan = kids.find((k) => k.name.endsWith("/Hidden"));
    expect(orphan?.name).toBe(`orphan-${hidden}/Hidden`);
    expect(new TextDecoder().decode(orphan!.data)).toBe("evil payload");
  });

  it("decodes packed MSI stream names", () => {
    // "clam.cab" packs as c+l, a+m, .+c, a+b; "!" marks a table stream
    const pack = (a: string, b: string) => {
      const cs = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";
      return String.fromCharCode(0x3800 + cs.indexOf(a) + (cs.indexOf(b) << 6));
    };
    expect(decodeMsiName(pack("c", "l") + pack("a", "m") + pack(".", "c") + pack("a", "b"))).toBe("clam.cab");
    expect(decodeMsiName("\u4840" + pack("F", "i") + "\u4800")).toBe("!Fi0");
    expect(decodeMsiName("WordDocument")).toBe("WordDocument");
  });

  it("rejects non-OLE2 input with UnpackError", async () => {
    await expect(collect(unpackOle2, new Uint8Array(1024))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants of clam.ole.doc", async () => {
    await expectSurvivesMutants(unpackOle2, mutants(doc, { flips: 300 }));
    const dirAt = (view(doc).getUint32(0x30, true) + 1) * SECTOR;
    await expectSurvivesMutants(unpackOle2, mutants(doc, { flips: 300, seed: 3, focus: [dirAt, dirAt + 2 * SECTOR] }));
  });

  it("survives truncated and corrupted variants of clam.ppt", async () => {
    await expectSurvivesMutants(unpackOle2, mutants(ppt, { flips: 300 }));
    const dirAt = (view(ppt).getUint32(0x30, true) + 1) * SECTOR;
    await expectSurvivesMutants(unpackOle2, mutants(ppt, { flips: 300, seed: 3, focus: [dirAt, dirAt + 2 * SECTOR] }));
    // the ExOleObjStg record header (recInstance 1, type 0x1011) and its zlib data
    const rec = Buffer.from(ppt).indexOf(Buffer.from([0x10, 0x00, 0x11, 0x10]));
    expect(rec).toBeGreaterThan(0);
    await expectSurvivesMutants(unpackOle2, mutants(ppt, { flips: 300, seed: 5, focus: [rec, rec + 700] }));
  });
});
