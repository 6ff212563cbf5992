import { it } from "vitest";
import fs from "node:fs";
import { compileDatabase } from "../../host/engine/compile.js";
import { createDbMemory, EngineInstance, engineModule } from "../../host/engine/wasm-engine.js";
import { loadSignaturesSync } from "../../host/sigs/load.js";
it("bits", async () => {
  const set = loadSignaturesSync([process.env.SIGS ?? "bench/out/sigs/lit100k.ndb"], { builtin: false });
  const data = fs.readFileSync(process.env.DATA ?? "bench/out/corpus/random-corpus-v2-128M.bin").subarray(0, 64 << 20);
  const { blob, meta } = compileDatabase(set);
  const mem = createDbMemory(blob.length, (v) => v.set(blob));
  const eng = new EngineInstance(await engineModule(), mem);
  const w = eng.inputWindow(data.length); w.set(data);
  for (let i = 0; i < 3; i++) eng.scan(w.subarray(0, 1 << 20), 0);
  let best = Infinity;
  for (let k = 0; k < 4; k++) { const t = performance.now(); eng.scan(w, 0); best = Math.min(best, performance.now() - t); }
  console.log(`extra ${process.env.BW_BITS_EXTRA}: ${(data.length / best / 1e3).toFixed(0)} MB/s`, JSON.stringify(meta.bodyTableStats));
}, 300000);
