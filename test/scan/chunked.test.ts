/**
 * Large non-container files are scanned in chunks (host/scan/scan-chunked.ts): the verdict
 * must equal the whole-object scan, including matches that straddle chunk boundaries,
 * split (`*`) signatures whose parts lie chunks apart, EOF and absolute offsets, logical
 * counts summed over chunks, and whole-file hashes. Small policy numbers make a 3 MiB file
 * take ~50 chunks.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { EngineInstance } from "../../host/engine/wasm-engine.js";
import { createScanner } from "../../host/scanner.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-chunk-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CHUNK = 64 << 10;
const hex = (b: Buffer) => b.toString("hex");

describe("chunked scanning of large files", () => {
  it("gives the whole-object verdict", async () => {
    const size = 3 << 20;
    const data = crypto.randomBytes(size);
    data[0] = 0; // random bytes must not look like a known container type
    data[1] = 0;
    const lit = crypto.randomBytes(32);
    const a = crypto.randomBytes(8);
    const b = crypto.randomBytes(8);
    const eof = crypto.randomBytes(8);
    const abs = crypto.randomBytes(8);
    const rep = crypto.randomBytes(6);
    lit.copy(data, CHUNK - 10); // straddles the first chunk boundary
    a.copy(data, 100_000);
    b.copy(data, 2_000_000); // thirty chunks later
    eof.copy(data, size - 100);
    abs.copy(data, 2 * CHUNK - 2); // straddles the second boundary
    for (const at of [5_000, CHUNK * 7 - 3, CHUNK * 20]) rep.copy(data, at);
    const file = path.join(tmp, "big.bin");
    fs.writeFileSync(file, data);
    const db = path.join(tmp, "db");
    fs.mkdirSync(db);
    fs.writeFileSync(
      path.join(db, "c.ndb"),
      [
        `Chunk.Lit:0:*:${hex(lit)}`,
        `Chunk.Star:0:*:${hex(a)}*${hex(b)}`,
        `Chunk.StarWrongOrder:0:*:${hex(b)}*${hex(a)}`,
        `Chunk.Eof:0:EOF-100:${hex(eof)}`,
        `Chunk.Abs:0:${2 * CHUNK - 2}:${hex(abs)}`,
        `Chunk.Miss:0:*:${hex(crypto.randomBytes(16))}`,
      ].join("\n") + "\n",
    );
    fs.writeFileSync(path.join(db, "c.ldb"), `Chunk.Count3;Engine:51-255,Target:0;0=3;${hex(rep)}\nChunk.Count4;Engine:51-255,Target:0;0>3;${hex(rep)}\n`);
    fs.writeFileSync(path.join(db, "c.hdb"), `${crypto.createHash("md5").update(data).digest("hex")}:${size}:Chunk.Hash\n`);

    const common = { databases: [db], builtin: false, workers: 0, cacheDir: null, limits: { maxFileSize: 64 << 20 } } as const;
    const chunked = await createScanner({ ...common, chunking: { threshold: 1 << 20, chunk: CHUNK } });
    const whole = await createScanner({ ...common, chunking: { threshold: Infinity, chunk: CHUNK } });
    const spy = vi.spyOn(EngineInstance.prototype, "scanChunked");
    try {
      const vc = await chunked.scan(file);
      expect(spy).toHaveBeenCalledTimes(1);
      const vw = await whole.scan(file);
      expect(spy).toHaveBeenCalledTimes(1); // the whole-object scanner never chunks
      const want = ["Chunk.Abs", "Chunk.Count3", "Chunk.Eof", "Chunk.Hash", "Chunk.Lit", "Chunk.Star"].map((n) => `${n}.UNOFFICIAL`);
      expect([...vc.names].sort()).toEqual(want);
      expect([...vw.names].sort()).toEqual(want);
      expect(vc.status).toBe("infected");
      expect(vc.notScanned).toEqual([]);
    } finally {
      spy.mockRestore();
      await chunked.close();
      await whole.close();
    }
  });
});
