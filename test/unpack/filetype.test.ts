import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { detectType, isExecutable, targetTypeOf, type FileType } from "../../host/unpack/filetype.js";
import { TESTFILES_DIR, testfile } from "../helpers/testfiles.js";

const bytes = (...parts: Array<string | number[]>): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

/** Expected type of every Debian clamav-testfile, by what its bytes are. */
const TESTFILE_TYPES: Record<string, FileType> = {
  "clam.7z": "7z",
  "clam.arj": "arj",
  "clam.bin-be.cpio": "cpio",
  "clam.bin-le.cpio": "cpio",
  "clam.newc.cpio": "cpio",
  "clam.odc.cpio": "cpio",
  "clam.bz2.zip": "zip",
  "clam.d64.zip": "zip",
  "clam.impl.zip": "zip",
  "clam.zip": "zip",
  "clam.cab": "cab",
  "clam.chm": "chm",
  "clam.exe.bz2": "bzip2",
  "clam.exe.szdd": "szdd",
  "clam.exe.rtf": "rtf",
  "clam.ole.doc": "ole2",
  "clam.ppt": "ole2",
  "clam.pdf": "pdf",
  "clam.sis": "sis",
  "clam.tnef": "tnef",
  "clam.tar.gz": "gzip",
  "clam_cache_emax.tgz": "gzip",
  // text encodings are recognised elsewhere (mail/html/binhex/uu detectors)
  "clam.exe.binhex": "binary",
  "clam.exe.html": "binary",
  "clam.exe.mbox.base64": "binary",
  "clam.exe.mbox.uu": "binary",
  "clam.mail": "binary",
};

describe("detectType on the Debian clamav-testfiles", () => {
  for (const file of readdirSync(TESTFILES_DIR).sort()) {
    const expected = TESTFILE_TYPES[file] ?? (file.endsWith(".exe") ? "pe" : undefined);
    it(`${file} -> ${expected}`, () => {
      expect(expected, "every test file needs an expectation").toBeDefined();
      expect(detectType(testfile(file))).toBe(expected);
    });
  }
});

describe("detectType on synthetic headers", () => {
  const cases: Array<[string, Uint8Array, FileType]> = [
    ["ELF", bytes([0x7f], "ELF", [2, 1, 1]), "elf"],
    ["Mach-O 64 LE", bytes([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]), "macho"],
    ["Mach-O 32 BE", bytes([0xfe, 0xed, 0xfa, 0xce, 0, 0, 0, 7]), "macho"],
    ["Mach-O universal, 2 slices", bytes([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]), "macho"],
    ["Java class 52.0", bytes([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]), "java"],
    ["PNG", bytes([0x89], "PNG\r\n", [0x1a, 0x0a]), "png"],
    ["GIF89a", bytes("GIF89a"), "gif"],
    ["GIF87a", bytes("GIF87a"), "gif"],
    ["JPEG", bytes([0xff, 0xd8, 0xff, 0xe0]), "jpeg"],
    ["TIFF LE", bytes("II*\0"), "tiff"],
    ["TIFF BE", bytes("MM\0*"), "tiff"],
    ["SWF", bytes("FWS", [9]), "swf"],
    ["compressed SWF", bytes("CWS", [9]), "swf"],
    ["LZMA SWF", bytes("ZWS", [13]), "swf"],
    ["empty zip", bytes("PK\x05\x06", new Array(18).fill(0)), "zip"],
    ["spanned zip", bytes("PK\x07\x08PK\x03\x04"), "zip"],
    ["newc crc cpio", bytes("070702"), "cpio"],
    ["PDF after junk", bytes("x".repeat(900), "%PDF-1.7"), "pdf"],
    ["PDF too far in", bytes("x".repeat(1100), "%PDF-1.7"), "binary"],
    ["DOS MZ", bytes("MZ", [0x90, 0]), "pe"],
    ["bzip2 word without block magic", bytes("BZh9 hello there"), "binary"],
    ["empty", new Uint8Array(0), "binary"],
    ["short CAFEBABE", bytes([0xca, 0xfe, 0xba]), "binary"],
  ];
  for (const [label, data, type] of cases) {
    it(`${label} -> ${type}`, () => expect(detectType(data)).toBe(type));
  }

  it("recognises ustar and pre-POSIX tar by header, not by name", () => {
    const h = Buffer.alloc(1024);
    h.write("notes.txt", 0);
    h.write("0000644\0", 100);
    h.write("00000000005\0", 124);
    h.write("0", 156);
    const withChecksum = (b: Buffer): Buffer => {
      b.fill(0x20, 148, 156);
      let sum = 0;
      for (const x of b.subarray(0, 512)) sum += x;
      b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
      return b;
    };
    const v7 = withChecksum(Buffer.from(h));
    expect(detectType(v7)).toBe("tar");
    const ustar = Buffer.from(h);
    ustar.write("ustar\x0000", 257, "latin1");
    expect(detectType(ustar)).toBe("tar");
    const broken = Buffer.from(v7);
    broken[0] ^= 1; // checksum no longer adds up, no ustar magic
    expect(detectType(broken)).toBe("binary");
  });
});

describe("targetTypeOf and isExecutable", () => {
  it("maps onto ClamAV target types", () => {
    const table: Array<[Parameters<typeof targetTypeOf>[0], number]> = [
      ["pe", 1], ["ole2", 2], ["html", 3], ["mail", 4], ["png", 5], ["gif", 5], ["jpeg", 5], ["tiff", 5],
      ["elf", 6], ["text", 7], ["macho", 9], ["pdf", 10], ["swf", 11], ["java", 12],
      ["zip", 0], ["gzip", 0], ["rtf", 0], ["binary", 0], ["tnef", 0],
    ];
    for (const [t, n] of table) expect(targetTypeOf(t), t).toBe(n);
  });

  it("calls PE, ELF and Mach-O executables, whatever their name", () => {
    expect(isExecutable(testfile("clam.exe"))).toBe(true);
    expect(isExecutable(testfile("clam-upx.exe"))).toBe(true);
    expect(isExecutable(bytes([0x7f], "ELF", [2]))).toBe(true);
    expect(isExecutable(bytes([0xcf, 0xfa, 0xed, 0xfe]))).toBe(true);
    expect(isExecutable(testfile("clam.pdf"))).toBe(false);
    expect(isExecutable(testfile("clam.zip"))).toBe(false);
    expect(isExecutable(bytes([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]))).toBe(false); // Java class
  });
});
