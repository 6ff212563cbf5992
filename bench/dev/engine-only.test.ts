// Engine-only throughput on the benchmark's own signature sets and corpora (run
// `npm run bench` first so bench/out exists): the matcher on data already in its input
// window, no process start, file read or first-touch page faults. Complements
// bench/run.mjs, which measures the whole `bulwark scan` command against clamscan.
// Run: npx vitest run -c bench/dev/vitest.config.ts bench/dev/engine-only.test.ts
import fs from "node:fs";
import { it } from "vitest";
import { compileDatabase } from "../../host/engine/compile.js";
import { DbView } from "../../host/engine/dbview.js";
import { createDbMemory, EngineInstance, engineModule } from "../../host/engine/wasm-engine.js";
import { matchSignatures } from "../../host/scan/scan-object.js";
import { loadSignaturesSync } from "../../host/sigs/load.js";

const OUT = "bench/out";
const CASES: [string, string, string][] = [
  ["EICAR only (Teddy)", "", "random-corpus-v2"],
  ["1k literals", "lit1k.ndb", "random-corpus-v2"],
  ["100k literals", "lit100k.ndb", "random-corpus-v2"],
  ["20k wildcards", "wild20k.ndb", "random-corpus-v2"],
  ["10k ldb", "ldb10k.ldb", "random-corpus-v2"],
  ["10k realistic", "real10k.ndb", "elf"],
];

it("engine-only throughput", async () => {
  const corpora = fs.readdirSync(`${OUT}/corpus`);
  const rows: string[] = ["| set | data | MB/s (best of 5) | matched |", "|---|---|---:|---:|"];
  for (const [label, sigs, corpus] of CASES) {
    const file = corpora.find((f) => f.startsWith(corpus) && !f.includes("slice") && f.endsWith(".bin"))!;
    const data = fs.readFileSync(`${OUT}/corpus/${file}`).subarray(0, 128 << 20);
    const set = loadSignaturesSync(sigs ? [`${OUT}/sigs/${sigs}`] : [], { builtin: true });
    const { blob } = compileDatabase(set);
    const memory = createDbMemory(blob.length, (v) => v.set(blob));
    const engine = new EngineInstance(await engineModule(), memory);
    const db = new DbView(memory);
    const w = engine.inputWindow(data.length);
    w.set(data);
    let best = Infinity;
    let matched = 0;
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      const m = matchSignatures(engine, db, w, 0);
      best = Math.min(best, performance.now() - t);
      matched = m.ndb.length + m.ldb.length;
    }
    rows.push(`| ${label} | ${file} (128 MiB) | ${((data.length / best) / 1e3).toFixed(0)} | ${matched} |`);
  }
  console.log(rows.join("\n"));
}, 600_000);
