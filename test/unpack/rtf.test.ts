import { describe, expect, it } from "vitest";
import { looksLikeRtf, parseOle1, unpackRtf } from "../../host/unpack/rtf.js";
import { UnpackError } from "../../host/unpack/types.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";

const rtf = testfile("clam.exe.rtf");
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** An OLE1 embedded object of class `cls` with the given native data. */
function ole1(cls: string, native: Uint8Array): Uint8Array {
  const name = enc(cls + "\0");
  const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
  return Uint8Array.from([...u32(0x501), ...u32(2), ...u32(name.length), ...name, ...u32(0), ...u32(0), ...u32(native.length), ...native]);
}

describe("rtf", () => {
  it("detects RTF by its {\\rt prefix", () => {
    expect(looksLikeRtf(rtf)).toBe(true);
    expect(looksLikeRtf(enc("{\\rtxa weird}"))).toBe(true);
    expect(looksLikeRtf(enc("<html>"))).toBe(false);
  });

  it("extracts clam.exe from the Package object in clam.exe.rtf", async () => {
    const kids = await collect(unpackRtf, rtf);
    const exe = kids.find((k) => sha256(k.data) === CLAM_EXE_SHA256);
    expect(exe?.name).toBe("objdata-0/clam.exe");
    expect(kids[0].name).toBe("objdata-0");
  });

  it("decodes hex split by whitespace, control words, groups and \\bin", async () => {
    const obj = ole1("Word.Document.8", enc("NATIVE-BYTES"));
    const h = hex(obj);
    const body = `${h.slice(0, 10)}\r\n ${h.slice(10, 20)}\\par ${h.slice(20, 30)}{\\*\\junk}${h.slice(30, -8)}\\bin4 ${Buffer.from(obj.subarray(-4)).toString("latin1")}`;
    const kids = await collect(unpackRtf, enc(`{\\rtf1{\\object\\objemb{\\*\\objdata ${body}}}}`));
    expect(hex(kids[0].data)).toBe(h);
    expect(kids[1]).toEqual({ name: "objdata-0/Word.Document.8", data: enc("NATIVE-BYTES") });
  });

  it("parses only embedded OLE1 objects", () => {
    const obj = ole1("Package", new Uint8Array(3));
    expect(parseOle1(obj)?.className).toBe("Package");
    const linked = obj.slice();
    linked[4] = 1;
    expect(parseOle1(linked)).toBeNull();
  });

  it("stays linear on many nested \\objdata groups", async () => {
    const n = 20_000;
    const doc = enc("{\\rtf1" + "{\\objdata 41".repeat(n) + "}".repeat(n) + "}");
    const ctx = makeCtx();
    const kids = await collect(unpackRtf, doc, ctx);
    // the first region swallows the nested ones: one object, n bytes, not n^2/2
    expect(kids).toHaveLength(1);
    expect(kids[0].data.length).toBe(n);
    expect(ctx.charged).toBe(n);
  });

  it("charges decoded bytes against the limits", async () => {
    await expect(collect(unpackRtf, rtf, makeCtx({ maxScanSize: 100 }))).rejects.toThrow(/MaxScanSize/);
  });

  it("rejects non-RTF input with UnpackError", async () => {
    await expect(collect(unpackRtf, enc("hello"))).rejects.toBeInstanceOf(UnpackError);
  });

  it("survives truncated and corrupted variants", async () => {
    const at = Buffer.from(rtf).indexOf("\\objdata");
    await expectSurvivesMutants(unpackRtf, mutants(rtf, { flips: 150 }));
    // concentrate flips on the object header, where the lengths are
    await expectSurvivesMutants(unpackRtf, mutants(rtf, { flips: 150, seed: 7, focus: [at, at + 400] }));
  });
});
