/**
 * ClamAV body-signature hex (the HEXSIG of .ndb lines and .ldb subsignatures) → IR.
 *
 * Follows libclamav (readdb.c cli_add_content_match_pattern, matcher-ac.c cli_ac_addsig):
 * - A "ClamAV part" (chunk) is the text between `*` and `{…}` splits. `{n}` with 0<n<128 is
 *   rewritten to n×`??` only while it is the first `{` left in the string (ClamAV re-scans with
 *   strchr), so after any other `{…}` a `{n}` is a split with an exact gap. `{0}`, `{-0}`,
 *   `{n-0}` have max 0, which ClamAV reads as "no maximum" (measured: `{0}` behaves as `*`).
 * - Unbounded splits (`*`, `{n-}`) start a new IR Part; bounded ones join chunks in a Part.
 * - Each chunk may carry one `hh[n-m]` anchor before and one `[n-m]hh` after its core
 *   (n ≤ m ≤ 32); they become "near" checks, the core keeps its start/end (measured).
 * - In a chunk: `hh` `??` `h?` `?h`, `(a|b…)` groups, `!(…)`, `(B)(L)(W)`. A chunk must have
 *   ≥ 2 positions and 2 consecutive fixed bytes, where each group counts as one wildcard
 *   position (ClamAV's "static subpattern of length 2" rule).
 * - Groups: all alternatives one byte → a "set" check; fixed-length plain-hex alternatives →
 *   expanded into BodyAlts (negated: "notstr"); anything else (nibbles, nesting, mixed lengths,
 *   or any ldb `::` option) is ClamAV's "generic alternates": expanded, never negatable.
 * - `(B)(L)(W)` at the very start/end of a chunk are zero-width edge checks; elsewhere ClamAV
 *   consumes one byte of that class (`(L)` consumes LF or CR LF → two alternatives). `!(L)`
 *   inside a chunk is rejected (not representable; ClamAV's own rule there is odd).
 * Deviations (stricter than ClamAV, which accepts but never uses them): anchor bytes must be
 * plain hex (ClamAV silently ignores a `??`/`h?` anchor), numbers must be plain digits, and
 * `{n-m}` with n > m (can never match) is rejected.
 */
import type { BodyAlt, ByteCheck, Part, Segment } from "./types.js";
import { C_BANG, C_LB, C_LP, C_RB, C_RP, C_STAR, type Elem, hexVal, isDigits, MAX_ALT_NESTING, MAX_ANCHOR_DIST, MAX_ALTERNATIVES, MAX_GAP, MAX_HEX_CHARS, MAX_SEGMENT_BYTES, midClass, num, pairAt, parseGroup, SigSyntaxError, SMALL_GAP_LIMIT } from "./hex-tokens.js";

export { MAX_ALTERNATIVES, SigSyntaxError } from "./hex-tokens.js";

export interface HexOptions {
  /** `::i`: letters match either case */
  nocase?: boolean;
  /** any `::` option was given: ClamAV then treats every group as generic alternates */
  anyOption?: boolean;
  /** the signature's target root has ClamAV's shift-or prefilter (targets 0, 1, 4, 7): each
   *  part must then also satisfy prefilterRule() or ClamAV refuses the whole database */
  prefilter?: boolean;
}

/** Targets whose ClamAV matcher root has the prefilter (matcher.h cli_mtargets[]). */
export const PREFILTER_TARGETS: ReadonlySet<number> = new Set([0, 1, 4, 7]);
/** filtering.c MAXPATLEN: the prefilter looks at the first 255 positions of a part. */
const PREFILTER_MAXPATLEN = 255;

/** Slot kinds as ClamAV's prefilter sees them: fixed/nibble/?? ('c', any = ??), a
 *  single-byte alternative set ('a', AC_SPECIAL_ALT_CHAR), any other group or class ('s'). */
type Slot = { kind: "c" | "a" | "s"; any: boolean; fixed: boolean };

/**
 * filtering.c filter_add_acpatt, run on every part added to a prefiltered root: skip leading
 * 's' slots, then the run up to the next 's' slot must have ≥ 2 slots and one adjacent pair
 * that is not `????`. Otherwise ClamAV warns "Don't know how to create filter" / "Subpattern
 * too short" / "no viable choices" and fails the load (measured: `??(aabb|ccdd)eeff0011`).
 */
function prefilterRule(slots: Slot[], text: string): void {
  let i = 0;
  while (i < slots.length && slots[i].kind === "s") i++;
  const start = i;
  const end = Math.min(slots.length, PREFILTER_MAXPATLEN);
  while (i < end && slots[i].kind !== "s") i++;
  if (i - start < 2) throw new SigSyntaxError(`part '${text}': ClamAV's prefilter needs 2 positions before the first multi-byte group or class`);
  for (let k = start; k + 1 < i; k++) if (!(slots[k].any && slots[k + 1].any)) return;
  throw new SigSyntaxError(`part '${text}': ClamAV's prefilter finds only ???? before the first multi-byte group or class`);
}

interface Edge {
  kind: "B" | "L" | "W";
  right: boolean;
  neg: boolean;
}
interface Anchor {
  byte: number;
  mask: number;
  min: number;
  max: number;
}
interface Chunk {
  elems: Elem[];
  edges: Edge[];
  left?: Anchor;
  right?: Anchor;
}
/** gap before a chunk: max null = unbounded (new Part) */
interface Split {
  min: number;
  max: number | null;
}

/** Split into ClamAV parts at `*` and non-rewritten `{…}`. */
function splitChunks(hex: string): { texts: string[]; splits: Split[] } {
  const texts: string[] = [];
  const splits: Split[] = [];
  let pieces: string[] = [];
  let from = 0, depth = 0, rewrite = true, extra = 0;
  const cut = (i: number) => {
    pieces.push(hex.slice(from, i));
    texts.push(pieces.join(""));
    pieces = [];
  };
  for (let i = 0; i < hex.length; i++) {
    const c = hex.charCodeAt(i);
    if (c === C_LP) depth++;
    else if (c === C_RP) {
      if (--depth < 0) throw new SigSyntaxError("unbalanced ')'");
    } else if (c === C_STAR) {
      if (depth > 0) throw new SigSyntaxError("'*' is not allowed inside (...)");
      cut(i);
      splits.push({ min: 0, max: null });
      from = i + 1;
    } else if (c === C_LB) {
      const close = hex.indexOf("}", i + 1);
      if (close < 0) throw new SigSyntaxError("missing '}'");
      const body = hex.slice(i + 1, close);
      const n = isDigits(body) ? Number(body) : -1;
      if (rewrite && n > 0 && n < SMALL_GAP_LIMIT) {
        extra += 2 * n;
        if (extra > 2 * MAX_SEGMENT_BYTES) throw new SigSyntaxError("too many {n} wildcards");
        pieces.push(hex.slice(from, i), "??".repeat(n));
      } else {
        rewrite = false;
        if (depth > 0) throw new SigSyntaxError("'{...}' ranges are not allowed inside (...)");
        cut(i);
        splits.push(parseGap(body));
      }
      from = close + 1;
      i = close;
    } else if (c === C_RB) throw new SigSyntaxError("unbalanced '}'");
  }
  if (depth !== 0) throw new SigSyntaxError("missing ')'");
  cut(hex.length);
  return { texts, splits };
}

/** `{n}` `{n-m}` `{-m}` `{n-}`; a max of 0 means unbounded, as in ClamAV. */
function parseGap(body: string): Split {
  const dash = body.indexOf("-");
  let min = 0, max = 0;
  if (dash < 0) min = max = num(body, `{${body}}`);
  else {
    const a = body.slice(0, dash), b = body.slice(dash + 1);
    if (a) min = num(a, `{${body}}`);
    if (b) max = num(b, `{${body}}`);
  }
  if (max === 0) return { min, max: null };
  if (min > max) throw new SigSyntaxError(`gap {${body}} has min > max and can never match`);
  return { min, max };
}

function parseAnchor(tok: string, range: string, nocase: boolean): Anchor {
  if (hexVal(tok.charCodeAt(0)) < 0 || hexVal(tok.charCodeAt(1)) < 0)
    throw new SigSyntaxError(`anchor byte '${tok}' must be plain hex`);
  const p = pairAt(tok, 0, nocase);
  const dash = range.indexOf("-");
  const min = num(dash < 0 ? range : range.slice(0, dash), `[${range}]`);
  const max = dash < 0 ? min : num(range.slice(dash + 1), `[${range}]`);
  if (min > max || max > MAX_ANCHOR_DIST) throw new SigSyntaxError(`bad anchor range [${range}] (need n <= m <= ${MAX_ANCHOR_DIST})`);
  return { byte: p.b, mask: p.m, min, max };
}

/** Strip `hh[n-m]` / `[n-m]hh` anchors the way cli_ac_addsig does. */
function takeAnchors(text: string, nocase: boolean): { core: string; left?: Anchor; right?: Anchor } {
  let rest = text;
  let left: Anchor | undefined, right: Anchor | undefined;
  for (let k = 0; k < 2; k++) {
    const lb = rest.indexOf("[");
    if (lb < 0) break;
    const rb = rest.indexOf("]", lb + 1);
    if (rb < 0) throw new SigSyntaxError("missing ']'");
    const range = rest.slice(lb + 1, rb), before = rest.slice(0, lb), after = rest.slice(rb + 1);
    if (before.length === 2) {
      if (k) throw new SigSyntaxError("[n-m] needs a single byte on one side and the pattern on the other");
      left = parseAnchor(before, range, nocase);
      rest = after;
    } else if (after.length === 2) {
      right = parseAnchor(after, range, nocase);
      rest = before;
      break;
    } else throw new SigSyntaxError("[n-m] needs a single byte on one side and the pattern on the other");
  }
  if (rest.includes("[") || rest.includes("]")) throw new SigSyntaxError("misplaced '[' or ']'");
  return { core: rest, left, right };
}

function matchParen(s: string, open: number): number {
  let level = 0, nest = 0;
  for (let i = open + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === C_LP) {
      level++;
      if (++nest > MAX_ALT_NESTING) throw new SigSyntaxError(`alternatives nested deeper than ${MAX_ALT_NESTING}`);
    } else if (c === C_RP) {
      if (level === 0) return i;
      level--;
    }
  }
  throw new SigSyntaxError("missing ')'");
}

/** Parse one ClamAV part (chunk) text into elements and edge checks; enforce the static-run rule. */
function parseChunk(text: string, o: HexOptions): Chunk {
  if (text.length < 4) throw new SigSyntaxError(`part '${text}' is shorter than 2 bytes`);
  const { core, left, right } = takeAnchors(text, !!o.nocase);
  const elems: Elem[] = [];
  const edges: Edge[] = [];
  const slots: Slot[] = [];
  for (let i = 0; i < core.length; ) {
    const c = core.charCodeAt(i);
    if (c === C_BANG || c === C_LP) {
      const neg = c === C_BANG;
      const open = neg ? i + 1 : i;
      if (core.charCodeAt(open) !== C_LP) throw new SigSyntaxError("'!' must be followed by '('");
      const close = matchParen(core, open);
      const body = core.slice(open + 1, close);
      if (!body) throw new SigSyntaxError("empty ()");
      if (body === "B" || body === "L" || body === "W") {
        if (close === core.length - 1) edges.push({ kind: body, right: true, neg });
        else if (open === 0) edges.push({ kind: body, right: false, neg: false });
        else {
          elems.push(midClass(body, neg));
          slots.push({ kind: "s", any: false, fixed: false });
        }
      } else {
        const g = parseGroup(body, neg, o);
        elems.push(g.e);
        slots.push({ kind: g.altChar ? "a" : "s", any: false, fixed: false });
      }
      i = close + 1;
    } else {
      if (i + 1 >= core.length) throw new SigSyntaxError("odd number of hex digits");
      const p = pairAt(core, i, !!o.nocase);
      elems.push({ t: "pos", b: p.b, m: p.m });
      slots.push({ kind: "c", any: p.m === 0, fixed: p.m === 0xff || p.m === 0xdf });
      i += 2;
    }
  }
  if (slots.length < 2) throw new SigSyntaxError(`part '${text}' is shorter than 2 bytes`);
  if (o.prefilter) prefilterRule(slots, text);
  let run = false;
  for (let k = 0; k + 1 < slots.length && !run; k++) run = slots[k].fixed && slots[k + 1].fixed;
  if (!run) throw new SigSyntaxError(`part '${text}' has no run of 2 fixed bytes (ClamAV needs one to anchor it)`);
  return { elems, edges, left, right };
}

/** Build the segment of one chunk for one choice of its alternatives. */
function buildSegment(ch: Chunk, pick: number[]): Segment {
  let len = 0, a = 0;
  for (const e of ch.elems) len += e.t === "notstr" ? e.len : e.t === "alt" ? e.alts[pick[a++]].length : 1;
  if (len > MAX_SEGMENT_BYTES) throw new SigSyntaxError(`part longer than ${MAX_SEGMENT_BYTES} bytes`);
  const bytes = new Uint8Array(len), masks = new Uint8Array(len);
  const checks: ByteCheck[] = [];
  let at = 0;
  a = 0;
  for (const e of ch.elems) {
    if (e.t === "pos") {
      bytes[at] = e.b;
      masks[at++] = e.m;
    } else if (e.t === "set") checks.push({ kind: "set", at: at++, set: e.set });
    else if (e.t === "notstr") {
      checks.push({ kind: "notstr", at, strs: e.strs });
      at += e.len;
    } else
      for (const p of e.alts[pick[a++]]) {
        bytes[at] = p.b;
        masks[at++] = p.m;
      }
  }
  for (const g of ch.edges) checks.push(g.neg ? { kind: g.kind, at: g.right ? len : 0, neg: true } : { kind: g.kind, at: g.right ? len : 0 });
  if (ch.left) checks.push({ kind: "near", at: 0, dir: -1, ...ch.left });
  if (ch.right) checks.push({ kind: "near", at: len, dir: 1, ...ch.right });
  return { bytes, masks, checks };
}

/**
 * Parse ClamAV body-signature hex into alternatives (each alternative matches on its own).
 * Throws SigSyntaxError with the reason on anything ClamAV would reject.
 */
export function parseHexSig(hex: string, opts: HexOptions = {}): BodyAlt[] {
  if (hex.length === 0) throw new SigSyntaxError("empty signature");
  if (hex.length > MAX_HEX_CHARS) throw new SigSyntaxError(`signature longer than ${MAX_HEX_CHARS} characters`);
  const { texts, splits } = splitChunks(hex);
  const chunks = texts.map((t) => parseChunk(t, opts));
  // alternative choices: one counter per "alt" element, in chunk order
  const radix: number[] = [];
  for (const ch of chunks) for (const e of ch.elems) if (e.t === "alt") radix.push(e.alts.length);
  let total = 1;
  for (const r of radix) {
    total *= r;
    if (total > MAX_ALTERNATIVES) throw new SigSyntaxError(`signature expands to more than ${MAX_ALTERNATIVES} alternatives`);
  }
  const out: BodyAlt[] = [];
  const pick = new Array<number>(radix.length).fill(0);
  for (let n = 0; n < total; n++) {
    let k = 0;
    const parts: Part[] = [];
    const partGapMin: number[] = [];
    chunks.forEach((ch, ci) => {
      const mine = pick.slice(k, k + ch.elems.filter((e) => e.t === "alt").length);
      k += mine.length;
      const seg = buildSegment(ch, mine);
      const sp = ci === 0 ? null : splits[ci - 1];
      if (ci === 0 || sp!.max === null) {
        parts.push({ segs: [seg], gapMin: [], gapMax: [] });
        partGapMin.push(ci === 0 ? 0 : sp!.min);
      } else {
        const p = parts[parts.length - 1];
        p.segs.push(seg);
        p.gapMin.push(sp!.min);
        p.gapMax.push(sp!.max!);
      }
    });
    out.push({ parts, partGapMin });
    for (let d = radix.length - 1; d >= 0; d--) {
      if (++pick[d] < radix[d]) break;
      pick[d] = 0;
    }
  }
  return out;
}
