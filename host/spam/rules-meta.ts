/**
 * Meta rule expressions: `&&`, `||`, `!`, parentheses, `+`, comparisons (`> < >= <= == !=`)
 * over other rules' names (each 1 when it hit, 0 when not) and numbers. Parsed once at load
 * into a small tree; evaluated per mail against an array of hit values.
 */

export type MetaExpr =
  | { op: "name"; name: string }
  | { op: "num"; value: number }
  | { op: "not"; a: MetaExpr }
  | { op: "&&" | "||" | "+" | ">" | "<" | ">=" | "<=" | "==" | "!="; a: MetaExpr; b: MetaExpr };

/** Deepest nesting accepted: a guard against a pathological line blowing the parser's stack. */
const MAX_META_DEPTH = 64;

const TOKEN = /\s*(&&|\|\||>=|<=|==|!=|[!()+<>]|\d+\.\d+|[A-Z0-9_]+)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`unexpected "${text.slice(pos).trim().slice(0, 20)}"`);
    tokens.push(m[1]!);
    pos = TOKEN.lastIndex;
  }
  return tokens;
}

export function parseMeta(text: string): MetaExpr {
  const tokens = tokenize(text);
  if (tokens.length === 0) throw new Error("empty expression");
  let i = 0;
  const peek = () => tokens[i];
  const binary = (ops: string[], next: (d: number) => MetaExpr) => (d: number): MetaExpr => {
    let a = next(d);
    while (ops.includes(peek() ?? "")) {
      const op = tokens[i++] as "&&";
      a = { op, a, b: next(d) };
    }
    return a;
  };
  const primary = (d: number): MetaExpr => {
    if (d > MAX_META_DEPTH) throw new Error(`nested deeper than ${MAX_META_DEPTH}`);
    const t = tokens[i++];
    if (t === undefined) throw new Error("expression ends too early");
    if (t === "!") return { op: "not", a: primary(d + 1) };
    if (t === "(") {
      const e = or(d + 1);
      if (tokens[i++] !== ")") throw new Error("missing )");
      return e;
    }
    if (/^\d/.test(t) && /^\d+(\.\d+)?$/.test(t)) return { op: "num", value: Number(t) };
    if (/^[A-Z0-9_]+$/.test(t)) return { op: "name", name: t };
    throw new Error(`unexpected "${t}"`);
  };
  const sum = binary(["+"], primary);
  const cmp = (d: number): MetaExpr => {
    const a = sum(d);
    const op = peek();
    if (op === ">" || op === "<" || op === ">=" || op === "<=" || op === "==" || op === "!=") {
      i++;
      return { op, a, b: sum(d) };
    }
    return a;
  };
  const and = binary(["&&"], cmp);
  const or: (d: number) => MetaExpr = binary(["||"], and);
  const e = or(0);
  if (i !== tokens.length) throw new Error(`unexpected "${tokens[i]}"`);
  return e;
}

/** Rule names an expression reads. A bare number-looking name like `1` is a number, not a rule. */
export function metaNames(e: MetaExpr, out: Set<string> = new Set()): Set<string> {
  if (e.op === "name") out.add(e.name);
  else if (e.op === "not") metaNames(e.a, out);
  else if (e.op !== "num") {
    metaNames(e.a, out);
    metaNames(e.b, out);
  }
  return out;
}

/** Compiles to a closure over rule indexes so evaluation does no map lookups. */
export function compileMeta(e: MetaExpr, indexOf: (name: string) => number): (hits: Uint8Array) => number {
  switch (e.op) {
    case "name": {
      const k = indexOf(e.name);
      return (h) => h[k]!;
    }
    case "num": {
      const v = e.value;
      return () => v;
    }
    case "not": {
      const a = compileMeta(e.a, indexOf);
      return (h) => (a(h) ? 0 : 1);
    }
    default: {
      const a = compileMeta(e.a, indexOf);
      const b = compileMeta(e.b, indexOf);
      switch (e.op) {
        case "&&": return (h) => (a(h) && b(h) ? 1 : 0);
        case "||": return (h) => (a(h) || b(h) ? 1 : 0);
        case "+": return (h) => a(h) + b(h);
        case ">": return (h) => (a(h) > b(h) ? 1 : 0);
        case "<": return (h) => (a(h) < b(h) ? 1 : 0);
        case ">=": return (h) => (a(h) >= b(h) ? 1 : 0);
        case "<=": return (h) => (a(h) <= b(h) ? 1 : 0);
        case "==": return (h) => (a(h) === b(h) ? 1 : 0);
        case "!=": return (h) => (a(h) !== b(h) ? 1 : 0);
      }
    }
  }
}
