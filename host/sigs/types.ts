/**
 * The signature IR: what the ClamAV-format loaders produce and what both matchers
 * (the WASM engine via host/engine/compile.ts, and the plain TypeScript reference
 * matcher in host/engine/reference.ts) consume. Plain data, no behaviour.
 *
 * A body signature (an .ndb line or one .ldb subsignature) is parsed into:
 *   BodySig  = one or more alternatives (multi-byte `(aa bb|cc dd)` groups are expanded);
 *              any alternative matching means the body signature matches.
 *   BodyAlt  = parts split at unbounded gaps (`*`, `{n-}`), matched in order, each part
 *              starting at least `partGapMin[j]` bytes after the previous part ended.
 *   Part     = segments separated by bounded gaps (`{n-m}`, `{-n}`, `[n-m]`, `{n}` for n ≥ 128).
 *   Segment  = a fixed-length run of byte positions: position i matches byte b when
 *              (b & masks[i]) === bytes[i] and every check at i holds.
 * A match of a body signature is reported at the start offset of its first part.
 */

/** Extra conditions on single positions of a segment that a (value, mask) pair cannot say. */
export type ByteCheck =
  /** byte at `at` is in the 256-bit set (`(aa|bb)` alternatives, `!(aa|bb)` negations) */
  | { kind: "set"; at: number; set: Uint8Array }
  /** the bytes starting at `at` are none of `strs` (negated multi-byte `!(aabb|ccdd)`); the
   *  positions they cover are wildcards (mask 0) in bytes/masks */
  | { kind: "notstr"; at: number; strs: Uint8Array[] }
  /** zero-width boundary assertion at a segment edge (ClamAV `(B)`/`(L)`/`(W)` written at the
   *  start or end of a part). `at` = 0: left rule on the byte before the segment; `at` = segment
   *  length: right rule on the byte after it. The file edge satisfies every rule.
   *  B left: previous byte in ` -/.<@_` (ClamAV boundary[] 1|3); B right: next byte in
   *  `\n \r space " ' - / = > _` (boundary[] 2|3). L left: previous byte is LF; L right: next
   *  is LF or CR LF. W: the neighbour is not [0-9A-Za-z]. `neg` inverts the rule (ClamAV only
   *  allows it on the right edge: `!(B)` at the start of a part is a one-byte class instead). */
  | { kind: "B" | "L" | "W"; at: number; neg?: boolean }
  /** ClamAV single-byte anchor `hh[min-max]core` (dir -1, at = 0) or `core[min-max]hh`
   *  (dir 1, at = segment length): some byte b with (b & mask) === byte lies d bytes before
   *  position `at` (index at-1-d) or after it (index at+d), for some d in [min, max]. The anchor
   *  is outside the segment: it does not move the segment's start/end (offsets, gaps and ldb
   *  counts use the core), and it may fall inside a neighbouring part. */
  | { kind: "near"; at: number; dir: -1 | 1; byte: number; mask: number; min: number; max: number };

export interface Segment {
  bytes: Uint8Array;
  masks: Uint8Array; // 0xff exact, 0xf0 / 0x0f nibble, 0x00 any byte
  checks: ByteCheck[];
}

export interface Part {
  segs: Segment[];
  /** gapMin[i], gapMax[i]: bytes allowed between segs[i] and segs[i+1]; length segs.length-1 */
  gapMin: number[];
  gapMax: number[];
}

export interface BodyAlt {
  parts: Part[];
  /** minimum bytes between the end of part j-1 and the start of part j; [0] is 0 */
  partGapMin: number[];
}

/** Where a body signature may start (ClamAV offset field). */
export type OffsetSpec =
  | { kind: "any" }
  /** start in [n, n + shift] */
  | { kind: "abs"; n: number; shift: number }
  /** start in [size - n, size - n + shift] */
  | { kind: "eof"; n: number; shift: number };

export interface BodySig {
  alts: BodyAlt[];
  offset: OffsetSpec;
  /** subsig modifiers from `::opts` (ldb only): i = nocase, w = wide, f = fullword, a = ascii.
   *  Informational: the parser already encodes nocase letters as (upper-case byte, mask 0xdf)
   *  and adds both cases to sets; w/f/a are rewritten into the hex before parsing. */
  nocase?: boolean;
}

export interface SourceRef {
  file: string;
  line: number;
}

/**
 * ClamAV target types. 0 = any file. The loader keeps the number; the scanner decides
 * which objects have which type (host/unpack/filetype.ts).
 */
export type TargetType = number;

export interface NdbSig {
  name: string;
  target: TargetType;
  body: BodySig;
  src: SourceRef;
}

/** Logical expression of an .ldb signature over subsig indexes. */
export type LogicNode =
  | { k: "sub"; i: number }
  | { k: "and" | "or"; a: LogicNode; b: LogicNode }
  /** `(expr)=x`, `=x,y`, `>x`, `>x,y`, `<x`, `<x,y` */
  | { k: "cmp"; e: LogicNode; op: "=" | ">" | "<"; x: number; y?: number };

export interface LdbSig {
  name: string;
  target: TargetType | null; // null = no Target: in the TDB (any)
  fileSize?: [number, number];
  expr: LogicNode;
  subsigs: BodySig[]; // index = subsig number
  src: SourceRef;
}

import type { HashList } from "./hash-list.js";

export type HashAlgo = "md5" | "sha1" | "sha256";

export interface HashSig {
  name: string;
  algo: HashAlgo;
  digest: Uint8Array;
  size: number | null; // null = `*` (any size)
  src: SourceRef;
}

export interface LoadError {
  file: string;
  line: number; // 0 when the whole file is at fault
  reason: string;
}

export interface SignatureSet {
  ndb: NdbSig[];
  ldb: LdbSig[];
  hashes: HashList; // .hdb/.hsb (alerting)
  allow: HashList; // .fp/.sfp (allow list: a match makes the object clean)
  ignored: Set<string>; // .ign/.ign2 names (with the ClamAV suffix stripped)
  errors: LoadError[]; // bad lines, each skipped
  /** names of every database file read, for the summary and the cache key */
  files: string[];
}
