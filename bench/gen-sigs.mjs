// Generates the benchmark signature sets (ClamAV formats) into bench/out/sigs/, each from a
// seeded PRNG, plus "plants": byte strings that match known signatures, which the corpus
// generator writes into the random corpus so both scanners have real matches to agree on.
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "./prng.mjs";

const hex = (buf) => Buffer.from(buf).toString("hex");

/** EICAR, XOR 0x5a (never stored plainly in the repository). */
const EICAR_XOR_5A =
  "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270";
const eicar = () => Buffer.from(EICAR_XOR_5A, "hex").map((b) => b ^ 0x5a);

// ---------------------------------------------------------------- random literals (.ndb)

/** Signature i of the literal family; lit1k is the first 1000 of lit100k (same names). */
function literalSigs(n) {
  const rng = new Rng("literals");
  const sigs = [];
  for (let i = 0; i < n; i++) sigs.push({ name: `Bench.Lit.${i}`, bytes: rng.bytes(rng.int(8, 32)) });
  return sigs;
}

/** Every 100th literal (i % 100 == 7) is planted in the random corpus. */
export function literalPlants(n) {
  return literalSigs(n)
    .filter((_, i) => i % 100 === 7)
    .map((s) => s.bytes);
}

function writeLiterals(dir, n, file) {
  const lines = literalSigs(n).map((s) => `${s.name}:0:*:${hex(s.bytes)}`);
  writeFileSync(join(dir, file), lines.join("\n") + "\n");
  return n;
}

// ---------------------------------------------------------------- wildcards (.ndb)

/** One part: 8–24 positions, first/last literal, an 8-byte literal run for anchoring,
 *  the rest ~12% `??`, ~6% high-nibble `a?`, ~6% low-nibble `?a`. */
function wildPart(rng) {
  const len = rng.int(10, 24);
  const runAt = rng.int(1, len - 9);
  const pos = [];
  for (let j = 0; j < len; j++) {
    const b = rng.int(0, 255);
    const fixed = j === 0 || j === len - 1 || (j >= runAt && j < runAt + 8);
    const r = rng.u32() / 0x1_0000_0000;
    if (fixed || r >= 0.24) pos.push({ k: "lit", b });
    else if (r < 0.12) pos.push({ k: "any" });
    else if (r < 0.18) pos.push({ k: "hi", b: b & 0xf0 });
    else pos.push({ k: "lo", b: b & 0x0f });
  }
  return pos;
}

function wildSigs(n) {
  const rng = new Rng("wildcards");
  const sigs = [];
  for (let i = 0; i < n; i++) {
    const parts = [wildPart(rng)];
    const joins = [];
    const nParts = rng.int(2, 3);
    for (let p = 1; p < nParts; p++) {
      if (rng.chance(0.4)) joins.push({ k: "star" });
      else {
        const lo = rng.int(0, 8);
        joins.push({ k: "range", lo, hi: rng.int(lo + 4, 20) });
      }
      parts.push(wildPart(rng));
    }
    sigs.push({ name: `Bench.Wild.${i}`, parts, joins });
  }
  return sigs;
}

function wildHex(sig) {
  const partHex = (part) =>
    part
      .map((p) => (p.k === "lit" ? p.b.toString(16).padStart(2, "0") : p.k === "any" ? "??" : p.k === "hi" ? `${(p.b >> 4).toString(16)}?` : `?${p.b.toString(16)}`))
      .join("");
  let out = partHex(sig.parts[0]);
  sig.joins.forEach((j, i) => {
    out += j.k === "star" ? "*" : `{${j.lo}-${j.hi}}`;
    out += partHex(sig.parts[i + 1]);
  });
  return out;
}

/** A concrete byte string that matches the wildcard signature. */
function wildInstance(sig, rng) {
  const partBytes = (part) =>
    Buffer.from(part.map((p) => (p.k === "lit" ? p.b : p.k === "any" ? rng.int(0, 255) : p.k === "hi" ? p.b | rng.int(0, 15) : (rng.int(0, 15) << 4) | p.b)));
  const chunks = [partBytes(sig.parts[0])];
  sig.joins.forEach((j, i) => {
    chunks.push(rng.bytes(j.k === "star" ? rng.int(0, 64) : rng.int(j.lo, j.hi)));
    chunks.push(partBytes(sig.parts[i + 1]));
  });
  return Buffer.concat(chunks);
}

export function wildPlants(n) {
  const rng = new Rng("wild-plants");
  return wildSigs(n)
    .filter((_, i) => i % 100 === 7)
    .map((s) => wildInstance(s, rng));
}

// ---------------------------------------------------------------- logical (.ldb)

const LDB_FORMS = [
  { logic: "0&1&2", weight: 50, negative: [0, 1] },
  { logic: "(0|1)&2", weight: 20, negative: [0, 1] },
  { logic: "0&(1|2)", weight: 15, negative: [1, 2] },
  { logic: "(0&1)|2", weight: 15, negative: [0] },
];

function ldbSigs(n) {
  const rng = new Rng("logical");
  const sigs = [];
  for (let i = 0; i < n; i++) {
    let w = rng.int(1, 100);
    const form = LDB_FORMS.find((f) => (w -= f.weight) <= 0);
    const subs = [0, 1, 2].map(() => {
      const bytes = rng.bytes(rng.int(8, 20));
      const wild = rng.chance(0.25) ? rng.int(3, bytes.length - 4) : -1; // one `??` inside
      return { bytes, wild };
    });
    sigs.push({ name: `Bench.Ldb.${i}`, form, subs });
  }
  return sigs;
}

const subHex = (s) => [...s.bytes].map((b, j) => (j === s.wild ? "??" : b.toString(16).padStart(2, "0"))).join("");

/** Every 50th ldb is planted: even ones with all subsigs (match), odd ones with a subset
 *  that does not satisfy the logic (must NOT match). */
export function ldbPlants(n) {
  const rng = new Rng("ldb-plants");
  const out = [];
  ldbSigs(n).forEach((s, i) => {
    if (i % 50 !== 7) return;
    const use = Math.floor(i / 50) % 2 === 0 ? [0, 1, 2] : s.form.negative;
    out.push(Buffer.concat(use.flatMap((k) => [s.subs[k].bytes, rng.bytes(rng.int(0, 100))])));
  });
  return out;
}

function writeLdb(dir, n, file) {
  const lines = ldbSigs(n).map((s) => `${s.name};Engine:51-255,Target:0;${s.form.logic};${s.subs.map(subHex).join(";")}`);
  writeFileSync(join(dir, file), lines.join("\n") + "\n");
  return n;
}

// ---------------------------------------------------------------- hashes (.hdb)

function writeHdb(dir, n, file) {
  const rng = new Rng("hashes");
  const lines = new Array(n);
  for (let i = 0; i < n; i++) lines[i] = `${hex(rng.bytes(16))}:${rng.int(1, 50_000_000)}:Bench.Hash.${i}`;
  writeFileSync(join(dir, file), lines.join("\n") + "\n");
  return n;
}

// ---------------------------------------------------------------- realistic (.ndb from binaries)

const ELF_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/bin"];
/** Skip tiny files (mostly stubs): windows cut from them are not representative. */
const MIN_ELF_BYTES = 16 * 1024;

/** Regular ELF files of the machine, deduplicated by content, split into two disjoint
 *  halves with a seeded shuffle: "sig" (signatures are cut from these) and "corpus"
 *  (scanned). Similar code, never the same files. */
let elfSplitMemo = null;
export function elfSplit() {
  elfSplitMemo ??= computeElfSplit();
  return elfSplitMemo;
}

function computeElfSplit() {
  const seen = new Set();
  const files = [];
  for (const dir of ELF_DIRS) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (!st.isFile() || st.size < MIN_ELF_BYTES) continue;
      const head = Buffer.alloc(4);
      const fd = openSync(path, "r");
      try {
        readSync(fd, head, 0, 4, 0);
      } finally {
        closeSync(fd);
      }
      if (head.toString("latin1") !== "\x7fELF") continue;
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
      files.push({ path, size: st.size });
    }
  }
  new Rng("elf-split").shuffle(files);
  // Identical content under two names (copies, not links) must land in one half only.
  const byHash = new Map();
  const sig = [];
  const corpus = [];
  for (const f of files) {
    // Same size and same first/last 64 KiB: the same file for our purpose (reading
    // every byte of ~1 GB of binaries would dominate generation time).
    const edge = 64 * 1024;
    const h = createHash("sha1").update(String(f.size)).update(readAt(f.path, 0, edge)).update(readAt(f.path, Math.max(0, f.size - edge), edge)).digest("hex");
    if (byHash.has(h)) continue;
    byHash.set(h, true);
    (sig.length <= corpus.length ? sig : corpus).push(f);
  }
  return { sig, corpus };
}

/** Read `len` bytes at `pos` of a file (without reading the whole file). */
function readAt(path, pos, len) {
  const buf = Buffer.alloc(len);
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, buf, 0, len, pos);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Windows of 16–48 bytes at seeded random places of the "sig" half, curated like real
 *  signatures (no padding, no tables of one repeated byte), deduplicated. Candidates are
 *  drawn in rounds and read grouped by file, so each file is opened once per round. */
function realSigs(n) {
  const { sig } = elfSplit();
  const rng = new Rng("realistic");
  const total = sig.reduce((a, f) => a + f.size, 0);
  const out = [];
  const seen = new Set();
  for (let round = 0; out.length < n; round++) {
    // Bounded: a machine whose binaries cannot yield n acceptable windows is an error.
    if (round > 20) throw new Error(`realistic set: only ${out.length} acceptable windows found`);
    const want = Math.ceil((n - out.length) * 1.5) + 16;
    const cands = [];
    for (let c = 0; c < want; c++) {
      let at = rng.int(0, total - 1);
      const fi = sig.findIndex((x) => (at -= x.size) < 0);
      const len = rng.int(16, 48);
      cands.push({ fi, off: rng.int(0, Math.max(0, sig[fi].size - len)), len, w: null });
    }
    const byFile = new Map();
    for (const c of cands) byFile.set(c.fi, [...(byFile.get(c.fi) ?? []), c]);
    for (const [fi, list] of byFile) {
      const data = readFileSync(sig[fi].path);
      for (const c of list) c.w = data.subarray(c.off, c.off + c.len);
    }
    for (const c of cands) {
      if (out.length >= n) break;
      const w = c.w;
      if (w.length < 16 || new Set(w).size < 12 || /(.)\1\1\1/s.test(w.toString("latin1"))) continue;
      const h = hex(w);
      if (seen.has(h)) continue;
      seen.add(h);
      out.push(`Bench.Real.${out.length}:0:*:${h}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the sets

/** name → { describe, files (relative to the sigs dir), write(dir) → signature count } */
export const SETS = {
  base: { describe: "EICAR only (1 sig)", files: ["eicar.ndb"], write: (d) => (writeFileSync(join(d, "eicar.ndb"), `Bench.Eicar:0:*:${hex(eicar())}\n`), 1) },
  lit1k: { describe: "1k random literals .ndb", files: ["lit1k.ndb"], write: (d) => writeLiterals(d, 1_000, "lit1k.ndb") },
  lit100k: { describe: "100k random literals .ndb", files: ["lit100k.ndb"], write: (d) => writeLiterals(d, 100_000, "lit100k.ndb") },
  wild20k: {
    describe: "20k wildcard .ndb (??, nibbles, {n-m}, *)",
    files: ["wild20k.ndb"],
    write: (d) => (writeFileSync(join(d, "wild20k.ndb"), wildSigs(20_000).map((s) => `${s.name}:0:*:${wildHex(s)}`).join("\n") + "\n"), 20_000),
  },
  hdb1m: { describe: "1M random MD5 .hdb", files: ["hdb1m.hdb"], write: (d) => writeHdb(d, 1_000_000, "hdb1m.hdb") },
  ldb10k: { describe: "10k .ldb, 3 subsigs each", files: ["ldb10k.ldb"], write: (d) => writeLdb(d, 10_000, "ldb10k.ldb") },
  real10k: {
    describe: "10k realistic windows (16–48 B) from system binaries",
    files: ["real10k.ndb"],
    write: (d) => (writeFileSync(join(d, "real10k.ndb"), realSigs(10_000).join("\n") + "\n"), 10_000),
  },
};

/** Write a set unless already present; returns absolute paths of its files. */
export function ensureSet(outDir, name) {
  const dir = join(outDir, "sigs");
  mkdirSync(dir, { recursive: true });
  const set = SETS[name];
  const paths = set.files.map((f) => join(dir, f));
  if (!paths.every((p) => existsSync(p))) set.write(dir);
  return paths;
}

/** The plant families for the random corpus (each is spread over the whole corpus). */
export function randomCorpusPlants() {
  return [literalPlants(100_000), wildPlants(20_000), ldbPlants(10_000)];
}

/** `dir` holding hard links (copies across filesystems) of `files`, kept as it is when already
 *  right, so Bulwark's compiled-database cache stays valid between runs; with the number of
 *  signatures (non-empty lines) in them. Used by bench/instream.mjs and bench/mta.mjs. */
export function linkedSignatureDir(dir, files) {
  const names = files.map((f) => f.split("/").pop());
  const same = (f, to) => existsSync(to) && statSync(f).ino === statSync(to).ino;
  const current = existsSync(dir) ? readdirSync(dir) : [];
  if (current.length !== names.length || files.some((f, i) => !same(f, join(dir, names[i])))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    files.forEach((f, i) => {
      try {
        linkSync(f, join(dir, names[i]));
      } catch {
        copyFileSync(f, join(dir, names[i]));
      }
    });
  }
  const count = files.reduce((n, f) => n + readFileSync(f, "latin1").split("\n").filter((l) => l.trim()).length, 0);
  return { dir, count, files: names };
}
