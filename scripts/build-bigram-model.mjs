#!/usr/bin/env node
// Builds the clean-content models the signature compiler uses to pick anchors
// (host/engine/anchor.ts), in engine-wasm/model/:
//   bigram.bin  65536 bytes: entry (a << 8 | b) is the cost of the pair "a b" in eighths of
//               a bit, round(-log2 p(a,b) * 8), clamped to 255 (larger = rarer);
//   gram4.bin, gram8.bin  count sketches of 4- and 8-byte grams: 2^17 buckets indexed by the
//               gram's probe hash (host/engine/gram-hash.ts), each round(log2(count+1) * 8).
// Needs `npm run build` first (it uses the compiled gram hash so the buckets match).
//
// Trained on clean content of the kind a mail gateway scans: executables and shared
// libraries (attachments, archive members), plain text and licences (bodies, documents),
// and base64 text (undecoded parts). Run it again only to retrain; the result is committed
// (64 KiB) so builds are reproducible and need no corpus.
import fs from "node:fs";
import path from "node:path";
import { hash32, hash64 } from "../dist/host/engine/gram-hash.js";

const SKETCH_BITS = 17;
const sk4 = new Float64Array(1 << SKETCH_BITS);
const sk8 = new Float64Array(1 << SKETCH_BITS);

const BUDGET = 48 << 20; // bytes of training data: enough for stable pair counts
const counts = new Float64Array(65536);
let total = 0;

function feed(buf) {
  for (let i = 0; i + 1 < buf.length; i++) counts[(buf[i] << 8) | buf[i + 1]]++;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i + 8 <= buf.length; i++) {
    const lo = dv.getUint32(i, true);
    sk4[hash32(lo, SKETCH_BITS)]++;
    sk8[hash64(lo, dv.getUint32(i + 4, true), SKETCH_BITS)]++;
  }
  total += Math.max(0, buf.length - 1);
}

function files(dir, filter, max) {
  const out = [];
  const walk = (d, depth) => {
    if (out.length >= max || depth > 3) return;
    let ents;
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    ents.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile() && filter(p)) out.push(p);
      if (out.length >= max) return;
    }
  };
  walk(dir, 0);
  return out;
}

function take(list, share) {
  let used = 0;
  for (const f of list) {
    if (used >= share) break;
    let b;
    try { b = fs.readFileSync(f); } catch { continue; }
    b = b.subarray(0, Math.min(b.length, 4 << 20, share - used));
    feed(b);
    used += b.length;
  }
  return used;
}

const bins = files("/usr/bin", () => true, 400);
const libs = files("/usr/lib/x86_64-linux-gnu", (p) => /\.so/.test(p), 400);
const text = [...files("/usr/share/common-licenses", () => true, 50), ...files("/usr/share/doc", (p) => /copyright$|README$/.test(p), 2000)];
let used = take(bins, BUDGET * 0.35) + take(libs, BUDGET * 0.35) + take(text, BUDGET * 0.2);
// base64 text, as undecoded MIME parts appear
const b64 = Buffer.from(fs.readFileSync(bins[0]).subarray(0, 1 << 20).toString("base64").replace(/(.{76})/g, "$1\r\n"));
feed(b64);
used += b64.length;

const out = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) {
  const p = (counts[i] + 0.5) / (total + 32768);
  out[i] = Math.min(255, Math.round(-Math.log2(p) * 8));
}
const dest = new URL("../engine-wasm/model/bigram.bin", import.meta.url);
fs.writeFileSync(dest, out);
for (const [name, sk] of [["gram4.bin", sk4], ["gram8.bin", sk8]]) {
  const b = new Uint8Array(sk.length);
  for (let i = 0; i < sk.length; i++) b[i] = Math.min(255, Math.round(Math.log2(sk[i] + 1) * 8));
  fs.writeFileSync(new URL(`../engine-wasm/model/${name}`, import.meta.url), b);
}
console.log(`trained on ${(used / 1048576).toFixed(1)} MiB; wrote ${dest.pathname}`);
