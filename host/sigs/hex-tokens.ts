/**
 * Lexical pieces of ClamAV body-signature hex shared by the parser (hex.ts): the error type,
 * the named limits, single tokens (`hh` `??` `h?` `?h`) and the contents of `( … )` groups —
 * single-byte sets, fixed-length strings, ClamAV's "generic alternates" and the classes
 * `(B)(L)(W)` written inside a part. See hex.ts for the rules and their sources.
 */
import type { HexOptions } from "./hex.js";

export class SigSyntaxError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "SigSyntaxError";
  }
}

/** Longest hex text accepted: ClamAV's longest line buffer is 32 KiB (.ldb lines). */
export const MAX_HEX_CHARS = 32_768;
/** Most BodyAlts one signature may expand to; each is matched separately, so this bounds
 *  the work a single line can create (2–3 small groups per real signature stay far below). */
export const MAX_ALTERNATIVES = 256;
/** Longest segment: ClamAV stores pattern lengths in 16 bits. */
export const MAX_SEGMENT_BYTES = 65_535;
/** ClamAV ACPATT_ALTN_MAXNEST: most `(` inside one group. */
export const MAX_ALT_NESTING = 15;
/** ClamAV AC_CH_MAXDIST: farthest `[n-m]` anchor distance. */
export const MAX_ANCHOR_DIST = 32;
/** `{n}` below this is inline wildcards (ClamAV's rewrite), at or above it a gap. */
export const SMALL_GAP_LIMIT = 128;
/** Largest number in a gap; ClamAV keeps gaps in 32-bit ints. */
export const MAX_GAP = 0x7fff_ffff;

export interface Pos {
  b: number;
  m: number;
}
/** One position (or group) of a part before alternatives are chosen. */
export type Elem =
  | { t: "pos"; b: number; m: number }
  | { t: "set"; set: Uint8Array }
  | { t: "notstr"; strs: Uint8Array[]; len: number }
  | { t: "alt"; alts: Pos[][] };
export const C_LP = 40, C_RP = 41, C_STAR = 42, C_LB = 123, C_RB = 125, C_BANG = 33, C_Q = 63, C_BAR = 124;

export function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 10) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export function num(s: string, what: string): number {
  if (!isDigits(s)) throw new SigSyntaxError(`bad number '${s}' in ${what}`);
  const n = Number(s);
  if (n > MAX_GAP) throw new SigSyntaxError(`number ${s} too large in ${what}`);
  return n;
}

/** One `hh` / `??` / `h?` / `?h` token, nocase letters as (upper, 0xdf). */
export function pairAt(s: string, i: number, nocase: boolean): Pos {
  const c1 = s.charCodeAt(i), c2 = s.charCodeAt(i + 1);
  const v1 = hexVal(c1), v2 = hexVal(c2);
  if (v1 >= 0 && v2 >= 0) {
    const b = (v1 << 4) | v2;
    if (nocase && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a))) return { b: b & 0xdf, m: 0xdf };
    return { b, m: 0xff };
  }
  if (c1 === C_Q && c2 === C_Q) return { b: 0, m: 0 };
  if (c1 === C_Q && v2 >= 0) return { b: v2, m: 0x0f };
  if (v1 >= 0 && c2 === C_Q) return { b: v1 << 4, m: 0xf0 };
  throw new SigSyntaxError(`invalid hex token '${s.slice(i, i + 2)}'`);
}

const setOf = (): Uint8Array => new Uint8Array(32);
const setAdd = (s: Uint8Array, b: number) => (s[b >> 3] |= 1 << (b & 7));
function setAddPos(s: Uint8Array, p: Pos) {
  for (let b = 0; b < 256; b++) if ((b & p.m) === p.b) setAdd(s, b);
}
function complement(s: Uint8Array): Uint8Array {
  const out = setOf();
  for (let i = 0; i < 32; i++) out[i] = ~s[i] & 0xff;
  return out;
}
const isAlnum = (b: number) => (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122);
/** ClamAV matcher-ac.c boundary[]: nonzero bytes count as a "(B)" byte inside a pattern. */
const BOUNDARY_BYTES = [0x0a, 0x0d, 0x20, 0x22, 0x27, 0x2d, 0x2e, 0x2f, 0x3c, 0x3d, 0x3e, 0x40, 0x5f];

/** `(B)` / `(W)` / `(L)` in the middle of a part: one (or for L, LF or CR LF) byte of that class. */
export function midClass(kind: "B" | "L" | "W", neg: boolean): Elem {
  if (kind === "L") {
    if (neg) throw new SigSyntaxError("!(L) inside a pattern is not supported");
    return { t: "alt", alts: [[{ b: 0x0a, m: 0xff }], [{ b: 0x0d, m: 0xff }, { b: 0x0a, m: 0xff }]] };
  }
  let set = setOf();
  for (let b = 0; b < 256; b++) if (kind === "B" ? BOUNDARY_BYTES.includes(b) : !isAlnum(b)) setAdd(set, b);
  if (neg) set = complement(set);
  return { t: "set", set };
}

/** Generic alternates: alts := seq ('|' seq)*, seq := (pair | '(' alts ')')*. */
function expandGeneric(s: string, nocase: boolean): Pos[][] {
  let i = 0;
  const alts = (): Pos[][] => {
    const out: Pos[][] = [];
    for (;;) {
      out.push(...seq());
      if (out.length > MAX_ALTERNATIVES) throw new SigSyntaxError(`alternatives expand to more than ${MAX_ALTERNATIVES}`);
      if (s.charCodeAt(i) !== C_BAR) return out;
      i++;
    }
  };
  const seq = (): Pos[][] => {
    let acc: Pos[][] = [[]];
    let any = false;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === C_BAR || c === C_RP) break;
      let next: Pos[][];
      if (c === C_BANG) throw new SigSyntaxError("generic alternates cannot contain negations");
      if (c === C_LP) {
        i++;
        next = alts();
        if (s.charCodeAt(i) !== C_RP) throw new SigSyntaxError("missing ')'");
        i++;
      } else {
        if (i + 1 >= s.length) throw new SigSyntaxError("odd number of hex digits in alternative");
        next = [[pairAt(s, i, nocase)]];
        i += 2;
      }
      if (acc.length * next.length > MAX_ALTERNATIVES) throw new SigSyntaxError(`alternatives expand to more than ${MAX_ALTERNATIVES}`);
      const grown: Pos[][] = [];
      for (const a of acc) for (const n of next) grown.push(a.concat(n));
      acc = grown;
      any = true;
    }
    if (!any) throw new SigSyntaxError("empty alternative");
    return acc;
  };
  const out = alts();
  if (i !== s.length) throw new SigSyntaxError("unbalanced ')' in alternatives");
  const seen = new Set<string>();
  return out.filter((a) => {
    const k = a.map((p) => p.b * 256 + p.m).join(",");
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/** A group and whether ClamAV stores it as a single-byte alternative (AC_SPECIAL_ALT_CHAR). */
export function parseGroup(body: string, neg: boolean, o: HexOptions): { e: Elem; altChar: boolean } {
  const e = parseGroupElem(body, neg, o);
  const altChar = !o.anyOption && !body.includes("(") && !body.includes("?") && e.t === "set";
  return { e, altChar };
}

function parseGroupElem(body: string, neg: boolean, o: HexOptions): Elem {
  const nocase = !!o.nocase;
  let fixed = !o.anyOption && !body.includes("(") && !body.includes("?");
  const strs = body.split("|");
  if (fixed) for (const a of strs) if (a.length !== strs[0].length) fixed = false;
  if (fixed) {
    const bytes = strs.map((a) => {
      if (a.length === 0 || a.length % 2) throw new SigSyntaxError(`bad alternative '${a}'`);
      const out = new Uint8Array(a.length / 2);
      for (let k = 0; k < out.length; k++) out[k] = pairAt(a, 2 * k, false).b;
      return out;
    });
    if (bytes[0].length === 1) {
      const set = setOf();
      for (const b of bytes) setAdd(set, b[0]);
      return { t: "set", set: neg ? complement(set) : set };
    }
    if (neg) return { t: "notstr", strs: bytes, len: bytes[0].length };
    return { t: "alt", alts: bytes.map((b) => Array.from(b, (x) => ({ b: x, m: 0xff }))) };
  }
  if (neg) throw new SigSyntaxError("negation is not allowed on generic alternates (variable length, nibbles, nesting or :: options)");
  const alts = expandGeneric(body, nocase);
  if (alts.every((a) => a.length === 1)) {
    const set = setOf();
    for (const a of alts) setAddPos(set, a[0]); // a nocase letter (mask 0xdf) adds both cases
    return { t: "set", set };
  }
  return { t: "alt", alts };
}
