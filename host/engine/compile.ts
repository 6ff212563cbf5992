/**
 * Signature compiler: SignatureSet (IR) -> one flat, position-independent database blob.
 *
 * The blob is what the WASM core reads (gram tables, pattern/segment records, sid records:
 * layout in ./layout.ts) followed by what the host reads (hash tables, names, JSON metadata).
 * Every pointer inside is an offset from the blob start, so the same bytes work wherever the
 * blob lands in shared memory and can be cached on disk as they are (./db-cache.ts).
 *
 * Ids: every body signature (an .ndb line, or one .ldb subsig) is a "sid"; ndb i is sid i,
 * ldb subsigs follow. Every part of every alternative of a sid is a pattern ("pid") with a
 * state slot holding the earliest end of a valid chain through it.
 */
import type { BodySig, LoadError, LogicNode, Segment, SignatureSet } from "../sigs/types.js";
import { evalLogic } from "../sigs/logic.js";
import { chooseAnchors, gramVariants, GRAM_CLASSES, type Anchor } from "./anchor.js";
import { buildTeddy, teddyEntries, TEDDY_CLASS } from "./teddy.js";
import { BlobWriter } from "./blob-writer.js";
import { writeHashSections, type HashSection } from "./compile-hashes.js";
import { CHECK_KIND, CHKF_NEG, CHKF_RIGHT, CHK, DB, DB_MAGIC, DB_VERSION, GRAM_ENTRY_SIZE, PAT, SEG, SID, SIDF_COUNTS, TBL } from "./layout.js";
import { hash32, hash32b, hash64, hash64b } from "./gram-hash.js";


export interface DbMeta {
  version: number;
  ndbNames: string[];
  ldb: { name: string; target: number | null; fileSize?: [number, number]; expr: LogicNode; subs: number[] }[];
  /** for each sid >= ndbNames.length: the ldb index it belongs to */
  sidLdb: number[];
  /** ldb indexes whose logic holds with every count at zero (e.g. `0<1`): ClamAV evaluates
   *  every logical signature on every object, so these are checked even with no match */
  ldbZeroTrue: number[];
  hash: HashSection[];
  allow: HashSection[];
  /** hash-signature names: u32 offsets [n+1] at namesOff, UTF-8 bytes at namesBytes */
  hashNames: { n: number; offsets: number; bytes: number };
  signatureCount: number;
  files: string[];
  errors: LoadError[];
  bodyTableStats: { G: number; S: number; patterns: number; entries: number; bits: number }[];
  /** body parts that had no 2-byte fixed run (cannot be anchored; reported as load errors) */
  unanchored: number;
  /** bytes a chunked scan must keep before / after each chunk so that every verification
   *  finds its bytes; null when some signature reaches too far (chunking is then off) */
  chunkOverlap: { back: number; fwd: number } | null;
}

/** Gram entries of one class before hashing: (lo, hi, pid, off) quadruples in one growing
 *  typed array (hundreds of thousands of small objects cost seconds of GC). */
class PendingEntries {
  a = new Uint32Array(1024);
  n = 0;
  push(lo: number, hi: number, pid: number, off: number): void {
    if ((this.n + 1) * 4 > this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a.set([lo, hi, pid, off], this.n * 4);
    this.n++;
  }
}

const enc = new TextEncoder();

/** Compile a signature set. Throws only on internal errors; bad signatures were already
 *  filtered (and reported) by the loader. */
export function compileDatabase(set: SignatureSet): { blob: Uint8Array; meta: DbMeta } {
  const w = new BlobWriter();
  w.reserve(DB.HEADER_SIZE);

  const bodies: { body: BodySig; target: number; counts: boolean }[] = [];
  for (const s of set.ndb) bodies.push({ body: s.body, target: s.target, counts: false });
  const sidLdb: number[] = [];
  const ldbMeta: DbMeta["ldb"] = [];
  set.ldb.forEach((l, li) => {
    const subs: number[] = [];
    // only a count comparison (`=n`, `>n`, `<n`) makes the number of matches matter; for
    // plain `&`/`|` logic the first match of each subsig decides, as for an .ndb line
    const counts = usesCounts(l.expr);
    for (const sub of l.subsigs) {
      subs.push(bodies.length);
      sidLdb.push(li);
      bodies.push({ body: sub, target: l.target ?? 0, counts });
    }
    ldbMeta.push({ name: l.name, target: l.target, fileSize: l.fileSize, expr: l.expr, subs });
  });

  // ---- patterns: one per part per alternative, with an anchor each
  const perClass = GRAM_CLASSES.map(() => new PendingEntries());
  const classPatterns = GRAM_CLASSES.map(() => 0);
  const patRecs: number[] = []; // flattened PAT records (u32 words)
  const sidRecs = new Uint32Array(bodies.length * (SID.SIZE / 4));
  const errors: LoadError[] = [...set.errors];
  let nSlots = 0;
  let unanchored = 0;
  const teddySeeds: { pid: number; anchor: Anchor }[] = [];
  let maxBack = 0;
  let maxFwd = 0;
  const anchors = chooseAnchors(
    bodies.flatMap(({ body, counts }) => body.alts.flatMap((alt) => alt.parts.map((p, j) => ({ segs: p.segs, lastSeg: counts && j === alt.parts.length - 1 })))),
  );
  let partIndex = 0;
  bodies.forEach(({ body, target, counts }, sid) => {
    const slotBase = nSlots;
    for (const alt of body.alts) {
      const altSlot = nSlots;
      nSlots += alt.parts.length;
      alt.parts.forEach((part, j) => {
        const anchor = anchors[partIndex++];
        if (!anchor) {
          unanchored++;
          return; // this alternative can never complete; the loader rejects such lines
        }
        const pid = patRecs.length / (PAT.SIZE / 4);
        const segsOff = writeSegments(w, part.segs, part.gapMin, part.gapMax);
        const off = j === 0 ? body.offset : { kind: "any" as const };
        const offKind = off.kind === "abs" ? 1 : off.kind === "eof" ? 2 : 0;
        const offA = off.kind === "any" ? 0 : off.n;
        const offB = off.kind === "any" ? 0 : off.shift;
        patRecs.push(sid, altSlot + j, j, alt.parts.length, alt.partGapMin[j] ?? 0, part.segs.length, anchor.seg, segsOff, offKind, offA, offB, 0);
        const { G, S } = GRAM_CLASSES[anchor.cls];
        const ext = partExtent(part, anchor.seg);
        maxBack = Math.max(maxBack, ext.back);
        maxFwd = Math.max(maxFwd, ext.fwd);
        teddySeeds.push({ pid, anchor });
        classPatterns[anchor.cls]++;
        for (let k = 0; k < S; k++) {
          for (const [lo, hi] of gramVariants(anchor.choices, k, G)) perClass[anchor.cls].push(lo, hi, pid, anchor.start + k);
        }
      });
    }
    const r = sid * (SID.SIZE / 4);
    sidRecs[r] = slotBase;
    sidRecs[r + 1] = nSlots - slotBase;
    sidRecs[r + 2] = target;
    sidRecs[r + 3] = counts ? SIDF_COUNTS : 0;
  });

  // ---- prefilter tables: Teddy for a small set, gram tables otherwise
  const tableRecs: { cls: number; bits: number; bshift: number; bitmap: number; bitmap2?: number; heads: number; entries: number; n: number }[] = [];
  const stats: DbMeta["bodyTableStats"] = [];
  const teddy = teddyEntries(teddySeeds);
  if (teddy) {
    tableRecs.push(buildTeddy(w, teddy));
    stats.push({ G: 3, S: 1, patterns: teddySeeds.length, entries: teddy.length, bits: 0 });
  } else {
    perClass.forEach((ents, cls) => {
      if (ents.n === 0) return;
      const t = buildTable(w, cls, ents);
      tableRecs.push(t);
      stats.push({ G: GRAM_CLASSES[cls].G, S: GRAM_CLASSES[cls].S, patterns: classPatterns[cls], entries: ents.n, bits: t.bits });
    });
  }
  const tablesOff = w.align(16);
  for (const t of tableRecs) {
    const { G, S } = t.cls === TEDDY_CLASS ? { G: 3, S: 1 } : GRAM_CLASSES[t.cls];
    const rec = new Uint32Array(TBL.SIZE / 4);
    rec[TBL.G / 4] = G;
    rec[TBL.S / 4] = S;
    rec[TBL.BITS / 4] = t.bits;
    rec[TBL.BITMAP / 4] = t.bitmap;
    rec[TBL.BSHIFT / 4] = t.bshift;
    rec[TBL.HEADS / 4] = t.heads;
    rec[TBL.ENTRIES / 4] = t.entries;
    rec[TBL.NENT / 4] = t.n;
    rec[TBL.GMASK / 4] = G >= 4 ? 0xffffffff : 0xffff;
    rec[TBL.GMASK / 4 + 1] = G === 8 ? 0xffffffff : 0;
    rec[TBL.BITMAP2 / 4] = t.bitmap2 ?? 0;
    w.u32s(rec);
  }
  const patternsOff = w.align(16);
  w.u32s(Uint32Array.from(patRecs));
  const sidsOff = w.align(16);
  w.u32s(sidRecs);

  // ---- host sections: hash tables and names
  const hashNames: string[] = [];
  const hash = writeHashSections(w, set.hashes, hashNames);
  const allow = writeHashSections(w, set.allow, hashNames);
  // one encode of all names; a name never holds "\n" (databases are split into lines on
  // it), so the separators give the offsets: no per-name call for millions of names
  const namesBytes = enc.encode(hashNames.join("\n") + "\n");
  const namesOffsetsOff = w.align(4);
  const offs = new Uint32Array(hashNames.length + 1);
  for (let i = 0, k = 1; i < namesBytes.length; i++) if (namesBytes[i] === 10) offs[k++] = i + 1;
  w.u32s(offs);
  const namesBytesOff = w.bytes(namesBytes);

  const meta: DbMeta = {
    version: DB_VERSION,
    ndbNames: set.ndb.map((s) => s.name),
    ldb: ldbMeta,
    sidLdb,
    ldbZeroTrue: set.ldb.flatMap((l, i) => (evalLogic(l.expr, new Array(l.subsigs.length).fill(0)) ? [i] : [])),
    hash,
    allow,
    hashNames: { n: hashNames.length, offsets: namesOffsetsOff, bytes: namesBytesOff },
    signatureCount: set.ndb.length + set.ldb.length + set.hashes.length,
    files: set.files,
    errors,
    bodyTableStats: stats,
    unanchored,
    chunkOverlap:
      maxBack + CHUNK_MARGIN > MAX_CHUNK_OVERLAP || maxFwd + CHUNK_MARGIN > MAX_CHUNK_OVERLAP
        ? null
        : { back: maxBack + CHUNK_MARGIN, fwd: maxFwd + CHUNK_MARGIN },
  };
  const metaBytes = enc.encode(JSON.stringify(meta));
  const metaOff = w.bytes(metaBytes);
  w.align(16);
  w.pad(64); // the core may read a v128 past the last record

  const hdr = new Uint32Array(DB.HEADER_SIZE / 4);
  hdr[DB.MAGIC / 4] = DB_MAGIC;
  hdr[DB.VERSION / 4] = DB_VERSION;
  hdr[DB.NTABLES / 4] = tableRecs.length;
  hdr[DB.TABLES / 4] = tablesOff;
  hdr[DB.PATTERNS / 4] = patternsOff;
  hdr[DB.NPATTERNS / 4] = patRecs.length / (PAT.SIZE / 4);
  hdr[DB.SIDS / 4] = sidsOff;
  hdr[DB.NSIDS / 4] = bodies.length;
  hdr[DB.NSLOTS / 4] = nSlots;
  hdr[DB.META / 4] = metaOff;
  hdr[DB.METALEN / 4] = metaBytes.length;
  const blob = w.finish();
  new Uint32Array(blob.buffer, blob.byteOffset, DB.HEADER_SIZE / 4).set(hdr);
  return { blob, meta };
}

/** Beyond a part's segments, verification may read: a boundary rule one or two bytes out,
 *  a `[n-m]` anchor byte up to 32 bytes out (ClamAV's AC_CH_MAXDIST), and the probes read
 *  up to 18 bytes past their position (Teddy's 16-byte block plus two). */
const CHUNK_MARGIN = 64;
/** A signature reaching further than this from its anchor (e.g. `{0-5000000}` inside a
 *  part) turns chunked scanning off: windows would be mostly overlap. */
const MAX_CHUNK_OVERLAP = 1 << 20;

function usesCounts(e: LogicNode): boolean {
  if (e.k === "cmp") return true;
  if (e.k === "and" || e.k === "or") return usesCounts(e.a) || usesCounts(e.b);
  return false;
}

/** How far a part's verification reads before / after its anchor segment, at most. */
function partExtent(part: { segs: Segment[]; gapMax: number[] }, aseg: number): { back: number; fwd: number } {
  const len = (k: number) => part.segs[k].bytes.length;
  let back = len(aseg);
  for (let k = 0; k < aseg; k++) back += len(k) + part.gapMax[k];
  let fwd = len(aseg);
  for (let k = aseg + 1; k < part.segs.length; k++) fwd += part.gapMax[k - 1] + len(k);
  for (const seg of part.segs) for (const c of seg.checks) if (c.kind === "near") { back += c.max + 1; fwd += c.max + 1; }
  return { back, fwd };
}

/** SEG records for one part, with bytes/masks zero-padded to 16 and checks data. */
function writeSegments(w: BlobWriter, segs: Segment[], gapMin: number[], gapMax: number[]): number {
  const recs = new Uint32Array(segs.length * (SEG.SIZE / 4));
  segs.forEach((s, i) => {
    const padded = (s.bytes.length + 15) & ~15;
    const bytes = new Uint8Array(padded);
    const masks = new Uint8Array(padded);
    bytes.set(s.bytes);
    masks.set(s.masks);
    for (let k = 0; k < s.bytes.length; k++) bytes[k] &= masks[k]; // canonical: value within mask
    const bOff = w.bytesAligned(bytes, 16);
    const mOff = w.bytesAligned(masks, 16);
    let cOff = 0;
    if (s.checks.length) {
      const crec = new Uint32Array(s.checks.length * (CHK.SIZE / 4));
      s.checks.forEach((c, k) => {
        let data = 0;
        let len = 0;
        if (c.kind === "set") {
          data = w.bytesAligned(c.set, 4);
          len = 32;
        } else if (c.kind === "notstr") {
          const parts: number[] = [c.strs.length];
          const chunks: Uint8Array[] = [];
          for (const str of c.strs) {
            const padLen = (str.length + 3) & ~3;
            const b = new Uint8Array(4 + padLen);
            new DataView(b.buffer).setUint32(0, str.length, true);
            b.set(str, 4);
            chunks.push(b);
          }
          const head = new Uint8Array(4);
          new DataView(head.buffer).setUint32(0, parts[0], true);
          data = w.bytesAligned(Buffer.concat([head, ...chunks]), 4);
          len = chunks.reduce((a, b) => a + b.length, 4);
        } else if (c.kind === "near") {
          data = w.align(4);
          w.u32s(Uint32Array.from([c.byte, c.mask, c.min, c.max, c.dir === 1 ? 1 : 0]));
          len = 20;
        } else {
          len = (c.at > 0 ? CHKF_RIGHT : 0) | (c.neg ? CHKF_NEG : 0); // boundary flags
        }
        const r = k * (CHK.SIZE / 4);
        crec[r] = CHECK_KIND[c.kind];
        // boundary rules look just outside the segment: before it (at 0) or after it
        crec[r + 1] = c.kind === "B" || c.kind === "L" || c.kind === "W" ? (c.at > 0 ? s.bytes.length : 0) : c.at;
        crec[r + 2] = data;
        crec[r + 3] = len;
      });
      cOff = w.align(4);
      w.u32s(crec);
    }
    const r = i * (SEG.SIZE / 4);
    recs[r + SEG.LEN / 4] = s.bytes.length;
    recs[r + SEG.GAPMIN / 4] = i === 0 ? 0 : gapMin[i - 1];
    recs[r + SEG.GAPMAX / 4] = i === 0 ? 0 : gapMax[i - 1];
    recs[r + SEG.BYTES / 4] = bOff;
    recs[r + SEG.MASKS / 4] = mOff;
    recs[r + SEG.NCHECKS / 4] = s.checks.length;
    recs[r + SEG.CHECKS / 4] = cOff;
  });
  const off = w.align(4);
  w.u32s(recs);
  return off;
}

/** Bitmap bits per gram entry, log2: 16 bits per entry gives each of the two bitmaps ~6%
 *  fill (0.4% false candidates through both) while a 100k-signature table's bitmaps stay
 *  around 2 MiB each. Measured on 100k literals: 2^5 per entry was within noise, 2^6 slower
 *  (8 MiB bitmaps miss the cache on every probe). */
const BITMAP_BITS_PER_ENTRY_LOG2 = 4;
/** 2^26 bits = 8 MiB per bitmap: the cap for million-pattern sets. */
const MAX_BITMAP_BITS = 26;

/** Bitmaps + CSR table for one gram class. */
function buildTable(w: BlobWriter, cls: number, pending: PendingEntries) {
  const { G } = GRAM_CLASSES[cls];
  const n = pending.n;
  const ea = pending.a;
  let bits: number;
  let bshift: number;
  if (G === 2) {
    bits = 16;
    bshift = 0;
  } else {
    const lg = Math.ceil(Math.log2(Math.max(2, n)));
    bits = Math.min(MAX_BITMAP_BITS, Math.max(12, lg + BITMAP_BITS_PER_ENTRY_LOG2));
    const cb = Math.min(bits, Math.max(4, lg));
    bshift = bits - cb;
  }
  const hashOf = (i: number) => (G === 2 ? ea[4 * i] & 0xffff : G === 4 ? hash32(ea[4 * i], bits) : hash64(ea[4 * i], ea[4 * i + 1], bits));
  const bitmap = new Uint8Array(1 << Math.max(0, bits - 3));
  const nb = 1 << (bits - bshift);
  const counts = new Uint32Array(nb + 1);
  const hs = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const h = hashOf(i);
    hs[i] = h;
    bitmap[h >>> 3] |= 1 << (h & 7);
    counts[(h >>> bshift) + 1]++;
  }
  for (let b = 0; b < nb; b++) counts[b + 1] += counts[b];
  const heads = counts.slice();
  const fill = counts.slice(0, nb);
  const entries = new Uint32Array(n * (GRAM_ENTRY_SIZE / 4));
  for (let i = 0; i < n; i++) {
    const k = fill[hs[i] >>> bshift]++ * 4;
    entries[k] = G === 2 ? ea[4 * i] & 0xffff : ea[4 * i];
    entries[k + 1] = G === 8 ? ea[4 * i + 1] : 0;
    entries[k + 2] = ea[4 * i + 2];
    entries[k + 3] = ea[4 * i + 3];
  }
  let bitmap2Off = 0;
  if (G !== 2) {
    const bitmap2 = new Uint8Array(bitmap.length);
    for (let i = 0; i < n; i++) {
      const h2 = G === 4 ? hash32b(ea[4 * i], bits) : hash64b(ea[4 * i], ea[4 * i + 1], bits);
      bitmap2[h2 >>> 3] |= 1 << (h2 & 7);
    }
    bitmap2Off = w.bytesAligned(bitmap2, 64);
  }
  const bitmapOff = w.bytesAligned(bitmap, 64);
  const headsOff = w.align(4);
  w.u32s(heads);
  const entriesOff = w.align(16);
  w.u32s(entries);
  return { cls, bits, bshift, bitmap: bitmapOff, bitmap2: bitmap2Off, heads: headsOff, entries: entriesOff, n };
}

export type { HashSection };
