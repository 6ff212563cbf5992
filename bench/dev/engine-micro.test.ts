// Developer micro-benchmark of the matcher alone (not part of npm test: lives outside test/).
// Run: npx vitest run bench/dev/engine-micro.test.ts --dir bench
import { it } from "vitest";
import { mulberry32 } from "../../test/helpers/random-data.js";
import crypto from "node:crypto";
import fs from "node:fs";
import { compileDatabase } from "../../host/engine/compile.js";
import { createDbMemory, EngineInstance, engineModule } from "../../host/engine/wasm-engine.js";
import { HashList } from "../../host/sigs/hash-list.js";
import type { BodyAlt, SignatureSet } from "../../host/sigs/types.js";

function lit(b: Uint8Array): BodyAlt {
  return { parts: [{ segs: [{ bytes: b, masks: new Uint8Array(b.length).fill(0xff), checks: [] }], gapMin: [], gapMax: [] }], partGapMin: [0] };
}
const rnd = mulberry32;

it("throughput", async () => {
  const r = rnd(1);
  const mk = (n: number, src?: Uint8Array) => {
    const ndb = [];
    for (let i = 0; i < n; i++) {
      const len = 16 + Math.floor(r() * 33);
      let b: Uint8Array;
      if (src) { do { const at = Math.floor(r() * (src.length - len)); b = src.slice(at, at + len); } while (new Set(b).size < 8); }
      else b = crypto.randomBytes(len);
      ndb.push({ name: `S${i}`, target: 0, body: { alts: [lit(b)], offset: { kind: "any" as const } }, src: { file: "x", line: i } });
    }
    return { ndb, ldb: [], hashes: new HashList(), allow: new HashList(), ignored: new Set<string>(), errors: [], files: [] } as SignatureSet;
  };
  const libs = Buffer.concat(["/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/perl"].map((f) => fs.readFileSync(f)));
  const elf = Buffer.concat(["/usr/bin/bash", "/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/bin/gdb"].filter(fs.existsSync).map((f) => fs.readFileSync(f))).subarray(0, 64 << 20);
  const rand = crypto.randomBytes(64 << 20);
  for (const [label, set] of [["100k random", mk(100000)], ["10k realistic", mk(10000, libs)]] as const) {
    let t = performance.now();
    const { blob, meta } = compileDatabase(set);
    const ct = performance.now() - t;
    const mem = createDbMemory(blob.length, (v) => v.set(blob));
    const eng = new EngineInstance(await engineModule(), mem);
    for (let i = 0; i < 5; i++) eng.scan(rand.subarray(0, 1 << 20), 0);
    for (const [dl, data] of [["random", rand], ["elf", elf]] as const) {
      const w = eng.inputWindow(data.length); w.set(data);
      let best = Infinity, hits = 0;
      for (let k = 0; k < 3; k++) { t = performance.now(); hits = eng.scan(w, 0).sids.length; best = Math.min(best, performance.now() - t); }
      console.log(`${label} on ${dl}: ${(data.length / best / 1e3).toFixed(0)} MB/s, hits ${hits}, compile ${ct.toFixed(0)} ms, blob ${(blob.length / 1e6).toFixed(1)} MB`, JSON.stringify(meta.bodyTableStats));
    }
  }
}, 300000);
