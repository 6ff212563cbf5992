/**
 * Seeded random generator of ClamAV signature databases and data files that exercise them:
 * .ndb lines with literals, `??`, nibbles, `{n}`, `{n-m}`, `{-n}`, `{n-}`, `*`, `(aa|bb)`,
 * `!(aa|bb)`, `(aabb|ccdd)`, `!(aabb|ccdd)`, variable-length alternates, `[n-m]` anchors,
 * `(B)(L)(W)` edges and classes, offsets `*` `n` `n,m` `EOF-n` `EOF-n,m`; .ldb lines with
 * `&` `|` parentheses and `=n` `>n` `<n` `(…)>n,m` over 1–5 subsignatures (some with `::i`,
 * `::w`, `::wa`, `::f`); .hdb lines for some whole files. Data files are random bytes with
 * signatures planted fully (often several times) or only partly (near misses: one byte off,
 * one part missing, one byte outside the offset window).
 *
 * Every generated line is one ClamAV 1.4 accepts (each part has a run of ≥ 3 fixed bytes
 * so that random data rarely matches by chance). Same seed → same output.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseNdbLine } from "../../host/sigs/ndb.js";
import { parseSubsig } from "../../host/sigs/ldb.js";
import { DataFiles, Rng } from "./random-data.js";

export { mulberry32 } from "./random-data.js";

type Tok =
  | { k: "lit"; b: number }
  | { k: "any" }
  | { k: "hi"; b: number }
  | { k: "lo"; b: number }
  | { k: "wild"; n: number }
  | { k: "set"; bytes: number[]; neg: boolean }
  | { k: "fixed"; strs: number[][]; neg: boolean }
  | { k: "gen"; alts: number[][] }
  | { k: "cls"; c: "B" | "W" | "L" };
interface Anchor {
  b: number;
  min: number;
  max: number;
}
interface Chunk {
  toks: Tok[];
  left?: Anchor;
  right?: Anchor;
  edgeL?: "B" | "L" | "W";
  edgeR?: { c: "B" | "L" | "W"; neg: boolean };
}
type Join = { k: "star" } | { k: "exact"; n: number } | { k: "range"; a: number; b: number } | { k: "upto"; b: number } | { k: "atleast"; a: number };
interface Body {
  chunks: Chunk[];
  joins: Join[];
  wide: boolean;
}
/** A planted instance: bytes, and where the first chunk's core starts inside them. */
interface Instance {
  bytes: number[];
  core: number;
  firstEnd: number;
}

const hx = (b: number) => b.toString(16).padStart(2, "0");
const LETTERS = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"].map((c) => c.charCodeAt(0));
const B_LEFT = [0x20, 0x2d, 0x2e, 0x2f, 0x3c, 0x40, 0x5f];
const B_RIGHT = [0x0a, 0x0d, 0x20, 0x22, 0x27, 0x2d, 0x2f, 0x3d, 0x3e, 0x5f];
const B_ANY = [0x0a, 0x0d, 0x20, 0x22, 0x27, 0x2d, 0x2e, 0x2f, 0x3c, 0x3d, 0x3e, 0x40, 0x5f];
const NON_ALNUM = [0x00, 0x20, 0x2c, 0x2e, 0x3a, 0x7f, 0x80, 0xff];

/** n strings whose first bytes are all distinct and whose last bytes are all distinct: no
 *  alternative is a prefix (ClamAV would backtrack over it) or a suffix of another (ClamAV
 *  matches the part before its anchor backwards and takes the first alternative that fits,
 *  so `(fd|b1fd)` there starts one byte later than a forward reading says). */
function distinctBytes(r: Rng, n: number, len: number): number[][] {
  const out: number[][] = [];
  const edge = new Set<number>();
  while (out.length < n) {
    const s = Array.from({ length: len }, () => r.byte());
    if (edge.has(s[0]) || edge.has(s[len - 1])) continue;
    edge.add(s[0]).add(s[len - 1]);
    out.push(s);
  }
  return out;
}

function genChunk(r: Rng, inlineWildOk: boolean, opts: { simple: boolean; noNeg: boolean; letters: boolean; noWild: boolean }): Chunk {
  const lit = (): Tok => ({ k: "lit", b: opts.letters && r.chance(0.6) ? r.pick(LETTERS) : r.byte() });
  const special = (): Tok => {
    const x = r.int(0, opts.simple ? 1 : 9);
    if (x === 0) return { k: "any" };
    if (x === 1) return inlineWildOk && !opts.noWild ? { k: "wild", n: r.int(1, 6) } : { k: "any" };
    if (x === 2) return r.chance(0.5) ? { k: "hi", b: r.int(0, 15) } : { k: "lo", b: r.int(0, 15) };
    if (x === 3 || x === 4) return { k: "set", bytes: distinctBytes(r, r.int(2, 4), 1).map((s) => s[0]), neg: !opts.noNeg && x === 4 };
    if (x === 5 || x === 6) return { k: "fixed", strs: distinctBytes(r, r.int(2, 3), r.int(2, 3)), neg: !opts.noNeg && x === 6 };
    if (x === 7) {
      const alts = distinctBytes(r, r.int(2, 3), 3).map((a, i) => a.slice(0, i + 1));
      const edge = new Set<number>();
      // slicing may have made a last byte equal to another alternative's first/last byte
      return alts.every((a) => !edge.has(a[a.length - 1]) && edge.add(a[a.length - 1])) && new Set(alts.map((a) => a[0])).size === alts.length
        ? { k: "gen", alts }
        : { k: "any" };
    }
    return { k: "cls", c: r.pick(["B", "W", "L"] as const) };
  };
  // Before ClamAV's anchor (the first run of 3 fixed bytes) only fixed-length items: ClamAV
  // counts a mid-part class as 0 bytes there when it pre-checks offsets, and matches that
  // region backwards (see distinctBytes). With a run of only 2, ClamAV may anchor later.
  const fixedLen = (t: Tok) => t.k !== "cls" && t.k !== "gen";
  const toks: Tok[] = [];
  for (let i = r.int(0, 2); i > 0; i--) {
    const t = special();
    toks.push(fixedLen(t) ? t : { k: "any" });
  }
  const run = r.int(r.chance(0.2) ? 2 : 3, 5);
  for (let i = run; i > 0; i--) toks.push(lit());
  for (let i = r.int(0, 3); i > 0; i--) {
    const t = r.chance(0.5) ? lit() : special();
    toks.push(run >= 3 || fixedLen(t) ? t : { k: "any" });
  }
  // a class first or last in a part would be ClamAV's zero-width edge, not a consumed byte
  if (toks[0].k === "cls") toks[0] = { k: "any" };
  if (toks[toks.length - 1].k === "cls") toks[toks.length - 1] = { k: "any" };
  const c: Chunk = { toks };
  if (opts.simple) return c;
  if (r.chance(0.12)) c.left = { b: r.byte(), min: r.int(0, 3), max: 0 };
  if (c.left) c.left.max = c.left.min + r.int(0, 4);
  if (r.chance(0.12)) c.right = { b: r.byte(), min: r.int(0, 3), max: 0 };
  if (c.right) c.right.max = c.right.min + r.int(0, 4);
  if (r.chance(0.1)) c.edgeL = r.pick(["B", "L", "W"] as const);
  if (r.chance(0.1)) c.edgeR = { c: r.pick(["B", "L", "W"] as const), neg: r.chance(0.3) };
  return c;
}

type BodyOpts = { simple?: boolean; noNeg?: boolean; letters?: boolean; wide?: boolean; maxChunks?: number };

/** A body our parser accepts (it is at least as strict as ClamAV; the oracle test's clamscan
 *  run and load checks confirm ClamAV accepts the lines too). */
function validBody(r: Rng, opts: BodyOpts, check: (hex: string) => unknown): Body {
  for (let tries = 0; ; tries++) {
    const b = genBody(r, opts);
    try {
      check(bodyHex(b));
      return b;
    } catch (e) {
      if (tries > 200) throw e;
    }
  }
}

function genBody(r: Rng, opts: BodyOpts): Body {
  const n = r.int(1, opts.maxChunks ?? 4);
  const chunks: Chunk[] = [];
  const joins: Join[] = [];
  let brace = false;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      const j: Join = r.pick<Join>([
        { k: "star" },
        { k: "exact", n: r.int(128, 160) },
        { k: "range", a: r.int(0, 6), b: 0 },
        { k: "upto", b: r.int(1, 12) },
        { k: "atleast", a: r.int(1, 12) },
      ]);
      if (j.k === "range") j.b = j.a + r.int(1, 10);
      if (j.k !== "star") brace = true;
      joins.push(j);
    }
    chunks.push(genChunk(r, !brace, { simple: !!opts.simple || !!opts.wide, noNeg: !!opts.noNeg, letters: !!opts.letters, noWild: !!opts.wide }));
  }
  return { chunks, joins, wide: !!opts.wide };
}

function tokHex(t: Tok): string {
  switch (t.k) {
    case "lit": return hx(t.b);
    case "any": return "??";
    case "hi": return t.b.toString(16) + "?";
    case "lo": return "?" + t.b.toString(16);
    case "wild": return `{${t.n}}`;
    case "set": return `${t.neg ? "!" : ""}(${t.bytes.map(hx).join("|")})`;
    case "fixed": return `${t.neg ? "!" : ""}(${t.strs.map((s) => s.map(hx).join("")).join("|")})`;
    case "gen": return `(${t.alts.map((s) => s.map(hx).join("")).join("|")})`;
    case "cls": return `(${t.c})`;
  }
}

export function bodyHex(b: Body): string {
  return b.chunks
    .map((c, i) => {
      const j = i === 0 ? "" : b.joins[i - 1];
      const js = !j ? "" : j.k === "star" ? "*" : j.k === "exact" ? `{${j.n}}` : j.k === "range" ? `{${j.a}-${j.b}}` : j.k === "upto" ? `{-${j.b}}` : `{${j.a}-}`;
      let s = (c.edgeL ? `(${c.edgeL})` : "") + c.toks.map(tokHex).join("") + (c.edgeR ? `${c.edgeR.neg ? "!" : ""}(${c.edgeR.c})` : "");
      if (c.left) s = `${hx(c.left.b)}[${c.left.min}-${c.left.max}]${s}`;
      if (c.right) s = `${s}[${c.right.min}-${c.right.max}]${hx(c.right.b)}`;
      return js + s;
    })
    .join("");
}

function tokBytes(r: Rng, t: Tok, nocase: boolean): number[] {
  const flip = (b: number) => (nocase && LETTERS.includes(b) && r.chance(0.5) ? b ^ 0x20 : b);
  switch (t.k) {
    case "lit": return [flip(t.b)];
    case "any": return [r.byte()];
    case "hi": return [(t.b << 4) | r.int(0, 15)];
    case "lo": return [(r.int(0, 15) << 4) | t.b];
    case "wild": return Array.from({ length: t.n }, () => r.byte());
    case "set": {
      if (!t.neg) return [r.pick(t.bytes)];
      let b;
      do b = r.byte(); while (t.bytes.includes(b));
      return [b];
    }
    case "fixed": {
      if (!t.neg) return [...r.pick(t.strs)];
      let s: number[];
      do s = t.strs[0].map(() => r.byte()); while (t.strs.some((x) => x.every((v, i) => v === s[i])));
      return s;
    }
    case "gen": return [...r.pick(t.alts)];
    case "cls": return t.c === "L" ? (r.chance(0.5) ? [0x0a] : [0x0d, 0x0a]) : [r.pick(t.c === "B" ? B_ANY : NON_ALNUM)];
  }
}

/** Byte that satisfies an edge rule: LF for (L), space for (B)/(W); 'k' for a negated rule. */
const edgeByte = (c: "B" | "L" | "W", neg: boolean) => (neg ? 0x6b : c === "L" ? 0x0a : 0x20);

function gapLen(r: Rng, j: Join): number {
  return j.k === "star" ? r.int(0, 12) : j.k === "exact" ? j.n : j.k === "range" ? r.int(j.a, j.b) : j.k === "upto" ? r.int(0, j.b) : j.a + r.int(0, 12);
}

/** Bytes that match `b`, as far as we can arrange it (a zero-length gap leaves a neighbour
 *  rule unmet; the oracle test only needs agreement, planting just makes matches common). */
function instance(r: Rng, b: Body, nocase: boolean): Instance {
  const out: number[] = [];
  const free: boolean[] = []; // filler we may overwrite for edge/anchor rules
  let pending: { idx: number; val: number }[] = [];
  const push = (bs: number[], isFree: boolean) => {
    for (const x of bs) {
      if (b.wide && !isFree) out.push(x, 0), free.push(false, false);
      else out.push(x), free.push(isFree);
    }
    pending = pending.filter((p) => {
      if (p.idx >= out.length) return true;
      if (free[p.idx]) out[p.idx] = p.val;
      return false;
    });
  };
  const rand = (n: number) => Array.from({ length: n }, () => r.byte());
  let core = 0, firstEnd = 0;
  b.chunks.forEach((c, i) => {
    push(rand(i === 0 ? (c.left ? c.left.max + 1 : 0) + (c.edgeL ? 1 : 0) : gapLen(r, b.joins[i - 1])), true);
    const start = out.length;
    if (i === 0) core = start;
    if (c.edgeL && free[start - 1]) out[start - 1] = edgeByte(c.edgeL, false);
    if (c.left) {
      const k = start - 1 - r.int(c.left.min, c.left.max);
      if (k >= 0 && free[k] && !(c.edgeL && k === start - 1)) out[k] = c.left.b;
    }
    for (const t of c.toks) push(tokBytes(r, t, nocase), false);
    const end = out.length;
    if (i === 0) firstEnd = end;
    if (c.edgeR) pending.push({ idx: end, val: edgeByte(c.edgeR.c, c.edgeR.neg) });
    if (c.right) {
      const d = r.int(c.right.min, c.right.max);
      if (!(c.edgeR && d === 0)) pending.push({ idx: end + d, val: c.right.b });
    }
  });
  const last = b.chunks[b.chunks.length - 1];
  push(rand((last.right ? last.right.max + 1 : 0) + (last.edgeR ? 1 : 0)), true);
  return { bytes: out, core, firstEnd };
}

/** Near miss: one byte changed at the start of the first part, or only the first part. */
function nearMiss(r: Rng, b: Body, nocase: boolean): Instance {
  const inst = instance(r, b, nocase);
  if (b.chunks.length > 1 && r.chance(0.5)) return { ...inst, bytes: inst.bytes.slice(0, inst.firstEnd) };
  inst.bytes[inst.core + r.int(0, 1)] ^= 0x01;
  return inst;
}

/** Offset text for a body planted with its core at `pos` in a file of `size` (or random). */
function offsetFor(r: Rng, at: { pos: number; size: number } | null, miss: boolean): string {
  const kind = r.int(0, 9);
  if (kind < 5 || !at) return "*";
  const slack = r.int(0, 6);
  const off = miss ? 1 + slack : 0; // a near miss sits one byte outside the window
  if (kind === 5) return `${at.pos + (miss ? 1 : 0)}`;
  if (kind === 6) return `${Math.max(0, at.pos - slack) + off}${`,${slack}`}`;
  if (kind === 7) return `EOF-${at.size - at.pos - (miss ? 1 : 0)}`;
  return `EOF-${at.size - at.pos + slack - off}${`,${slack}`}`;
}

export interface GenOptions {
  ndb?: number;
  ldb?: number;
  hdb?: number;
  files?: number;
  minSize?: number;
  maxSize?: number;
}
export interface GeneratedSet {
  ndbText: string;
  ldbText: string;
  hdbText?: string;
  files: { name: string; data: Uint8Array }[];
}

function genLogic(r: Rng, n: number): string {
  const leaf = (i: number): string => {
    const m = r.int(0, 5);
    return m === 0 ? `${i}=${r.int(0, 2)}` : m === 1 ? `${i}>${r.int(0, 2)}` : m === 2 ? `${i}<${r.int(1, 3)}` : `${i}`;
  };
  const expr = (ids: number[]): string => {
    if (ids.length === 1) return leaf(ids[0]);
    const cut = r.int(1, ids.length - 1);
    const op = r.pick(["&", "|"]);
    const a = expr(ids.slice(0, cut)), b = expr(ids.slice(cut));
    const k = r.int(0, 4);
    if (k === 0) return `(${a}${op}${b})`;
    if (k === 1) return `(${a}${op}${b})${r.pick(["=", ">", "<"])}${r.int(0, 3)}${r.chance(0.4) ? `,${r.int(1, 2)}` : ""}`;
    return `${a}${op}${b}`;
  };
  const ids = Array.from({ length: n }, (_, i) => i).sort(() => r.int(-1, 1));
  return expr(ids);
}

export function genSignatureSet(seed: number, o: GenOptions = {}): GeneratedSet {
  const r = new Rng(seed);
  const files = new DataFiles(r, o.files ?? 4, o.minSize ?? 1500, o.maxSize ?? 6000);
  const ndb: string[] = [];
  for (let i = 0; i < (o.ndb ?? 40); i++) {
    const body = validBody(r, {}, (h) => parseNdbLine(`x:0:*:${h}`, false, { file: "", line: 0 }));
    const fate = r.int(0, 9); // 0-5 planted, 6 planted outside its offset, 7 near miss, 8-9 absent
    const inst = fate <= 7 ? (fate <= 6 ? instance(r, body, false) : nearMiss(r, body, false)) : null;
    const at = inst ? files.plant(inst.bytes) : null;
    const where = at ? { pos: at[1] + inst!.core, size: files.files[at[0]].data.length } : null;
    const target = r.chance(0.1) ? r.pick(["1", "6", "*"]) : "0";
    ndb.push(`Gen.Ndb.S${seed}.${i}:${target}:${offsetFor(r, where, fate === 6)}:${bodyHex(body)}`);
  }
  const ldb: string[] = [];
  for (let i = 0; i < (o.ldb ?? 20); i++) {
    const n = r.int(1, 5);
    const fileIdx = r.int(0, files.files.length - 1);
    const subs: string[] = [];
    for (let s = 0; s < n; s++) {
      const optKind = r.int(0, 9); // 0: ::i, 1: ::w, 2: ::wa, 3: ::f, else none
      const opt = optKind === 0 ? "i" : optKind === 1 ? "w" : optKind === 2 ? "wa" : optKind === 3 ? "f" : "";
      const bo = { noNeg: !!opt, letters: opt === "i", wide: opt.includes("w"), simple: opt === "f", maxChunks: 3 };
      const body = validBody(r, bo, (h) => parseSubsig(`${h}${opt ? "::" + opt : ""}`));
      let where: { pos: number; size: number } | null = null;
      for (let k = r.pick([0, 0, 1, 1, 1, 2, 3]); k > 0; k--) {
        const inst = instance(r, body, opt === "i");
        if (opt === "f") inst.bytes = [0x20, ...inst.bytes, 0x20];
        const at = files.plant(inst.bytes, fileIdx);
        if (at && !where) where = { pos: at[1] + inst.core + (opt === "f" ? 1 : 0), size: files.files[fileIdx].data.length };
      }
      const off = opt || r.chance(0.7) ? "*" : offsetFor(r, where, false);
      subs.push(`${off === "*" ? "" : off + ":"}${bodyHex(body)}${opt ? "::" + opt : ""}`);
    }
    const size = r.chance(0.15) ? `,FileSize:${r.int(0, 3000)}-${r.int(3000, 9000)}` : "";
    ldb.push(`Gen.Ldb.S${seed}.${i};Engine:81-255,Target:0${size};${genLogic(r, n)};${subs.join(";")}`);
  }
  const hdb: string[] = [];
  const hashed = new Set<string>(); // ClamAV keeps one name per (hash, size): no duplicates
  for (let i = 0; i < (o.hdb ?? 0); i++) {
    const f = r.pick(files.files);
    const algo = r.pick(["md5", "sha1", "sha256"]);
    if (hashed.has(f.name + algo)) continue;
    hashed.add(f.name + algo);
    const digest = createHash(algo).update(f.data).digest("hex");
    const wrong = r.chance(0.3);
    const hash = wrong ? digest.slice(0, -1) + (digest.endsWith("0") ? "1" : "0") : digest;
    hdb.push(r.chance(0.2) ? `${hash}:*:Gen.Hdb.S${seed}.${i}:73` : `${hash}:${f.data.length}:Gen.Hdb.S${seed}.${i}`);
  }
  return {
    ndbText: ndb.join("\n") + "\n",
    ldbText: ldb.join("\n") + "\n",
    ...(hdb.length ? { hdbText: hdb.join("\n") + "\n" } : {}),
    files: files.files.map((f) => ({ name: f.name, data: f.data })),
  };
}

/** Write a generated set as ClamAV database files (dir/db/gen.*) and its data files
 *  (dir/<name>); returns the database directory and the data file paths. */
export function writeGeneratedSet(g: GeneratedSet, dir: string): { db: string; files: string[] } {
  const db = path.join(dir, "db");
  fs.mkdirSync(db, { recursive: true });
  fs.writeFileSync(path.join(db, "gen.ndb"), g.ndbText);
  fs.writeFileSync(path.join(db, "gen.ldb"), g.ldbText);
  if (g.hdbText) fs.writeFileSync(path.join(db, "gen.hdb"), g.hdbText);
  const files = g.files.map((f) => {
    const p = path.join(dir, f.name);
    fs.writeFileSync(p, f.data);
    return p;
  });
  return { db, files };
}
