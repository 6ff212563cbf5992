/**
 * The logical expression of an .ldb signature: parser and evaluator with ClamAV's exact
 * semantics, as read in libclamav/matcher-ac.c `cli_ac_chklsig` (which both validates at load
 * time and evaluates at scan time) and checked against clamscan 1.4.6:
 *
 * Structure (cli_ac_chklsig splits text, it has no precedence):
 * - The first `&`/`|` outside parentheses splits the expression: `0&1|2` is `0&(1|2)`
 *   (right-associative, no precedence; measured: data with only sub 2 does not match).
 * - `( … )` with operators directly inside splits at the LAST of them: `(0&1|2)` is
 *   `(0&1)|2` (measured: data with only sub 2 matches).
 * - `( … )MOD` (MOD = `=x`, `>x`, `<x`, optionally `,y`) must end the (sub)expression and the
 *   parentheses must hold an operator: `(0)>1` is a load error in ClamAV.
 * - `N MOD` on a single subsig: y is ignored (`0>1,2` loads and means `0>1`).
 * - Every subsig index used must be < the number of subsigs, and the highest index + 1 must
 *   equal that number (ClamAV: "number of subsignatures doesn't match the IDs").
 *
 * Evaluation, with counts[i] = matches of subsig i (ClamAV: matches at distinct offsets):
 * - a subsig is true when its count > 0; it contributes count and its id.
 * - `N MOD x`: true when count MOD x (`=0` is negation); contributes count and its id even
 *   when the count is 0.
 * - `A&B`, `A|B`: both sides evaluated; when true, contribute the sum of the counts and the
 *   union of the ids of the sides that were true.
 * - `(A op B) MOD x[,y]`: c = contribution of (A op B) if it is true, else 0 (and no ids);
 *   true when c MOD x and, if y > 0, at least y distinct subsig ids contributed. So `(0|1)>2`
 *   counts all matches of 0 and 1 together, and `(0|1)=0` is "neither". It contributes c to
 *   its parent but no ids (ClamAV drops them there).
 */
import type { LogicNode } from "./types.js";
import { SigSyntaxError } from "./hex.js";

/** ClamAV MAX_LDB_SUBSIGS. */
export const MAX_SUBSIGS = 64;
/** Recursion bound for parsing/evaluating; a 64-term chain needs 64, real sigs far less. */
export const MAX_LOGIC_DEPTH = 256;
/** ClamAV's .ldb line buffer (CLI_DEFAULT_LSIG_BUFSIZE) bounds the expression too. */
export const MAX_LOGIC_CHARS = 32_768;
/** Largest modifier value; ClamAV reads them as unsigned 32-bit. */
const MAX_MOD = 0x7fff_ffff;

type Mod = { op: "=" | ">" | "<"; x: number; y?: number };

/** Parse `[=<>]x[,y]` that must run exactly to `b`. */
function parseMod(s: string, a: number, b: number): Mod {
  const op = s[a];
  if (op !== "=" && op !== ">" && op !== "<") throw new SigSyntaxError(`expected =, > or < at '${s.slice(a, b)}'`);
  const m = /^(\d{1,10})(?:,(\d{1,10}))?$/.exec(s.slice(a + 1, b));
  if (!m) throw new SigSyntaxError(`bad modifier '${s.slice(a, b)}'`);
  const x = Number(m[1]);
  const y = m[2] === undefined ? undefined : Number(m[2]);
  if (x > MAX_MOD || (y ?? 0) > MAX_MOD) throw new SigSyntaxError(`modifier value too large in '${s.slice(a, b)}'`);
  return y ? { op, x, y } : { op, x };
}

function matching(s: string, open: number, b: number): number {
  let d = 0;
  for (let i = open; i < b; i++) {
    if (s[i] === "(") d++;
    else if (s[i] === ")" && --d === 0) return i;
  }
  throw new SigSyntaxError("missing ')'");
}

function parseRange(s: string, a: number, b: number, depth: number): LogicNode {
  if (depth > MAX_LOGIC_DEPTH) throw new SigSyntaxError(`expression nested deeper than ${MAX_LOGIC_DEPTH}`);
  if (a >= b) throw new SigSyntaxError("missing operand");
  // first operator outside parentheses
  let d = 0;
  for (let i = a; i < b; i++) {
    const c = s[i];
    if (c === "(") d++;
    else if (c === ")") {
      if (--d < 0) throw new SigSyntaxError("missing '('");
    } else if ((c === "&" || c === "|") && d === 0) {
      return { k: c === "&" ? "and" : "or", a: parseRange(s, a, i, depth + 1), b: parseRange(s, i + 1, b, depth + 1) };
    }
  }
  if (d !== 0) throw new SigSyntaxError("missing ')'");
  if (s[a] === "(") {
    const close = matching(s, a, b);
    // last operator directly inside the parentheses
    let last = -1;
    d = 0;
    for (let i = a + 1; i < close; i++) {
      const c = s[i];
      if (c === "(") d++;
      else if (c === ")") d--;
      else if ((c === "&" || c === "|") && d === 0) last = i;
    }
    const inner: LogicNode | null =
      last < 0 ? null : { k: s[last] === "&" ? "and" : "or", a: parseRange(s, a + 1, last, depth + 1), b: parseRange(s, last + 1, close, depth + 1) };
    if (close === b - 1) return inner ?? parseRange(s, a + 1, close, depth + 1);
    if (!inner) throw new SigSyntaxError(`a modifier after '${s.slice(a, close + 1)}' needs an operator inside the parentheses`);
    return { k: "cmp", e: inner, ...parseMod(s, close + 1, b) };
  }
  let i = a;
  while (i < b && s[i] >= "0" && s[i] <= "9") i++;
  if (i === a || i - a > 2) throw new SigSyntaxError(`expected a subsignature number at '${s.slice(a, b)}'`);
  const sub: LogicNode = { k: "sub", i: Number(s.slice(a, i)) };
  if (i === b) return sub;
  const mod = parseMod(s, i, b);
  return { k: "cmp", e: sub, op: mod.op, x: mod.x }; // ClamAV ignores ",y" on a single subsig
}

function maxIndex(n: LogicNode): number {
  switch (n.k) {
    case "sub":
      return n.i;
    case "cmp":
      return maxIndex(n.e);
    default:
      return Math.max(maxIndex(n.a), maxIndex(n.b));
  }
}

/** Parse a logical expression for a signature with `nsubs` subsignatures. */
export function parseLogic(expr: string, nsubs: number): LogicNode {
  if (expr.length > MAX_LOGIC_CHARS) throw new SigSyntaxError("logical expression too long");
  if (!/^[0-9&|()=<>,]+$/.test(expr)) throw new SigSyntaxError(`logical expression '${expr}' has characters other than 0-9 & | ( ) = < > ,`);
  const node = parseRange(expr, 0, expr.length, 0);
  const max = maxIndex(node);
  if (max + 1 > MAX_SUBSIGS) throw new SigSyntaxError(`more than ${MAX_SUBSIGS} subsignatures`);
  if (max + 1 !== nsubs)
    throw new SigSyntaxError(`the expression uses subsignatures 0..${max} but the line has ${nsubs} (ClamAV needs them equal)`);
  return node;
}

interface Acc {
  cnt: number;
  lo: number; // ids 0..31
  hi: number; // ids 32..63
}

function holds(op: "=" | ">" | "<", v: number, x: number): boolean {
  return op === "=" ? v === x : op === ">" ? v > x : v < x;
}

function popcount(v: number): number {
  let c = 0;
  for (v >>>= 0; v; v &= v - 1) c++;
  return c;
}

/** cli_ac_chklsig's evaluation: adds the node's contribution to `acc` when true. */
function ev(n: LogicNode, counts: ArrayLike<number>, acc: Acc, depth: number): boolean {
  if (depth > MAX_LOGIC_DEPTH) throw new SigSyntaxError("expression too deep");
  if (n.k === "sub" || (n.k === "cmp" && n.e.k === "sub")) {
    const id = n.k === "sub" ? n.i : (n.e as { i: number }).i;
    const v = counts[id] ?? 0;
    if (n.k === "sub" ? v === 0 : !holds(n.op, v, n.x)) return false;
    acc.cnt += v;
    if (id < 32) acc.lo |= 1 << id;
    else acc.hi |= 1 << (id - 32);
    return true;
  }
  const bin = n.k === "cmp" ? n.e : n;
  if (bin.k !== "and" && bin.k !== "or") throw new SigSyntaxError("malformed logic tree");
  const l: Acc = { cnt: 0, lo: 0, hi: 0 };
  const r: Acc = { cnt: 0, lo: 0, hi: 0 };
  const lv = ev(bin.a, counts, l, depth + 1);
  const rv = ev(bin.b, counts, r, depth + 1);
  const ok = bin.k === "and" ? lv && rv : lv || rv;
  if (n.k !== "cmp") {
    if (ok) {
      acc.cnt += l.cnt + r.cnt;
      acc.lo |= l.lo | r.lo;
      acc.hi |= l.hi | r.hi;
    }
    return ok;
  }
  const c = ok ? l.cnt + r.cnt : 0;
  if (!holds(n.op, c, n.x)) return false;
  if (n.y) {
    const distinct = ok ? popcount(l.lo | r.lo) + popcount(l.hi | r.hi) : 0;
    if (distinct < n.y) return false;
  }
  acc.cnt += c;
  return true;
}

/** Evaluate `node` given the match count of each subsignature. */
export function evalLogic(node: LogicNode, counts: ArrayLike<number>): boolean {
  return ev(node, counts, { cnt: 0, lo: 0, hi: 0 }, 0);
}
