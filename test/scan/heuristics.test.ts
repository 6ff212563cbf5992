/**
 * Heuristic verdicts with their own names, through the whole scanner: an executable behind
 * a document extension, office macros, an encrypted archive (not scanned, never clean).
 * Inputs are built at test time.
 */
import CFB from "cfb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { createScanner } from "../../host/index.js";
import { makeZip } from "../helpers/zip-bombs.js";

/** The smallest thing detectType calls a PE: an MZ header whose e_lfanew points at "PE\0\0". */
function tinyPe(): Buffer {
  const b = Buffer.alloc(512);
  b.write("MZ", 0, "latin1");
  b.writeUInt32LE(0x80, 0x3c);
  b.write("PE\0\0", 0x80, "latin1");
  b.writeUInt16LE(0x14c, 0x84); // i386
  return b;
}

let scanner: Scanner;
beforeAll(async () => {
  scanner = await createScanner({ workers: 0, cacheDir: null });
});
afterAll(() => scanner?.close());

describe("heuristics", () => {
  it("flags an executable hidden behind a document extension, not an honest name", async () => {
    const v = await scanner.scan(makeZip([{ name: "invoice.pdf.exe", data: tinyPe() }, { name: "setup.exe", data: tinyPe() }]));
    expect(v.status).toBe("infected");
    expect(v.detections).toEqual([{ name: "Heuristics.Executable.DoubleExtension", path: "invoice.pdf.exe", kind: "heuristic" }]);
    const text = await scanner.scan(makeZip([{ name: "notes.txt.exe", data: Buffer.from("just text, not a program") }]));
    expect(text.status).toBe("clean");
    const script = await scanner.scan(makeZip([{ name: "photo.jpg.js", data: Buffer.from("WScript.Echo(1)") }]));
    expect(script.names).toEqual(["Heuristics.Executable.DoubleExtension"]);
  });

  it("reports VBA macros in an OLE2 document", async () => {
    const doc = CFB.utils.cfb_new();
    CFB.utils.cfb_add(doc, "WordDocument", Buffer.from("document body"));
    CFB.utils.cfb_add(doc, "Macros/VBA/dir", Buffer.from([1, 2, 3, 4]));
    CFB.utils.cfb_add(doc, "Macros/VBA/ThisDocument", Buffer.from("Attribute VB_Name"));
    const withMacros = Buffer.from(CFB.write(doc, { type: "buffer" }) as Uint8Array);
    const v = await scanner.scan(withMacros);
    expect(v.names).toContain("Heuristics.OLE2.ContainsMacros.VBA");

    const plain = CFB.utils.cfb_new();
    CFB.utils.cfb_add(plain, "WordDocument", Buffer.from("document body"));
    expect((await scanner.scan(Buffer.from(CFB.write(plain, { type: "buffer" }) as Uint8Array))).status).toBe("clean");
  });

  it("an encrypted member is not scanned, never clean", async () => {
    const v = await scanner.scan(makeZip([{ name: "secret.exe", data: tinyPe(), encrypted: true }]));
    expect(v.status).toBe("not_scanned");
    expect(v.notScanned.map((n) => n.name)).toContain("Heuristics.Encrypted.Zip");
    expect(v.infected).toBe(false);
  });
});
