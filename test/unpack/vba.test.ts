import CFB from "cfb";
import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { unpackOle2 } from "../../host/unpack/ole2.js";
import { ovbaDecompress } from "../../host/unpack/vba.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** MS-OVBA container without compression: full 4 KiB chunks stored raw, the tail as a
 *  "compressed" chunk of literal tokens only (valid, just not smaller). */
function ovbaLiteral(data: Uint8Array): Uint8Array {
  const out: number[] = [0x01];
  let c = 0;
  for (; c + 4096 <= data.length; c += 4096) out.push(0xff, 0x3f, ...data.subarray(c, c + 4096));
  const tail = data.subarray(c);
  if (tail.length > 3640) throw new Error("tail too long for a literal-only chunk");
  const body: number[] = [];
  for (let i = 0; i < tail.length; i += 8) body.push(0x00, ...tail.subarray(i, i + 8));
  const size = body.length + 2 - 3;
  if (tail.length > 0) out.push(size & 0xff, 0xb0 | ((size >> 8) & 0x0f), ...body);
  return Uint8Array.from(out);
}

function rec(id: number, body: Uint8Array): number[] {
  return [id & 0xff, id >> 8, body.length & 0xff, (body.length >> 8) & 0xff, 0, 0, ...body];
}

/** A Word-style VBA project with one module whose source is `code`. */
function vbaDocument(code: string, moduleOffset = 16): Uint8Array {
  const u32 = (n: number) => Uint8Array.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]);
  const dir = Uint8Array.from([
    ...[0x09, 0x00, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0], // PROJECTVERSION: size says 4, 6 bytes follow
    ...rec(0x0019, enc("Module1")),
    ...rec(0x001a, enc("Module1")),
    ...rec(0x0031, u32(moduleOffset)),
    ...rec(0x002b, new Uint8Array(0)),
  ]);
  const moduleStream = new Uint8Array([...new Uint8Array(moduleOffset).fill(0xcc), ...ovbaLiteral(enc(code))]);
  const c = CFB.utils.cfb_new();
  CFB.utils.cfb_add(c, "/Macros/VBA/dir", Buffer.from(ovbaLiteral(dir)));
  CFB.utils.cfb_add(c, "/Macros/VBA/Module1", Buffer.from(moduleStream));
  CFB.utils.cfb_add(c, "/Macros/VBA/_VBA_PROJECT", Buffer.from([0xcc, 0x61, 0xff, 0xff]));
  CFB.utils.cfb_add(c, "/WordDocument", Buffer.alloc(16));
  return new Uint8Array(CFB.write(c, { type: "buffer" }) as Buffer);
}

describe("vba", () => {
  it("decompresses the [MS-OVBA] 3.2.3 example (copy tokens)", () => {
    const compressed = Uint8Array.from([
      0x01, 0x2f, 0xb0, 0x00, 0x23, 0x61, 0x61, 0x61, 0x62, 0x63, 0x64, 0x65, 0x82, 0x66, 0x00, 0x70, 0x61, 0x67, 0x68, 0x69,
      0x6a, 0x01, 0x38, 0x08, 0x61, 0x6b, 0x6c, 0x00, 0x30, 0x6d, 0x6e, 0x6f, 0x70, 0x06, 0x71, 0x02, 0x70, 0x04, 0x10, 0x72,
      0x73, 0x74, 0x75, 0x76, 0x10, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x3c,
    ]);
    expect(latin1(ovbaDecompress(compressed, makeCtx())!)).toBe("#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa");
  });

  it("round-trips literal chunks across the 4 KiB chunk boundary", () => {
    const text = "Sub AutoOpen()\r\n  Shell \"calc\"\r\nEnd Sub\r\n".repeat(200);
    expect(latin1(ovbaDecompress(ovbaLiteral(enc(text)), makeCtx())!)).toBe(text);
  });

  it("extracts module source from a VBA project inside an OLE2 document", async () => {
    const ctx = makeCtx();
    const kids = await collect(unpackOle2, vbaDocument('Sub AutoOpen()\r\n  MsgBox "hi"\r\nEnd Sub\r\n'), ctx);
    const mod = kids.find((k) => k.name === "Macros/VBA/Module1.vba");
    expect(latin1(mod!.data)).toBe('Sub AutoOpen()\r\n  MsgBox "hi"\r\nEnd Sub\r\n');
    expect(ctx.heuristics).toContain("Heuristics.OLE2.ContainsMacros.VBA");
  });

  it("stops a copy-token bomb at the ratio limit", () => {
    // per chunk: flags 0b10, literal "A", copy token offset 1 / length 4095: 6 bytes -> 4 KiB
    const chunk = [0x03, 0xb0, 0x02, 0x41, 0xfc, 0x0f];
    const bomb = Uint8Array.from([0x01, ...Array.from({ length: 500 }, () => chunk).flat()]);
    const ctx = makeCtx();
    expect(ovbaDecompress(bomb, ctx)!.length).toBe(500 * 4096); // ~680:1, under the default 1000
    expect(() => ovbaDecompress(bomb, makeCtx({ maxRatio: 100 }))).toThrow(LimitExceeded);
    expect(() => ovbaDecompress(bomb, makeCtx({ maxFileSize: 100_000 }))).toThrow(/MaxFileSize/);
  });

  it("survives truncated and corrupted VBA projects", async () => {
    const doc = vbaDocument("Sub X()\r\nEnd Sub\r\n".repeat(50));
    await expectSurvivesMutants(unpackOle2, mutants(doc, { flips: 300, focus: [512, doc.length] }));
  });
});
