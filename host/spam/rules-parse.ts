/**
 * Reading the anti-spam rules files (format documented at the top of host/spam/rules/default.rules)
 * into plain definitions: one pass per line, every mistake reported as `file:line: what is wrong`.
 * Cross-line checks (unknown rule in a meta, cycles, score for an undefined rule) happen in
 * host/spam/rules.ts once every file is read, because a later file may refer to an earlier one.
 */
import { EVAL_FUNCTIONS, type EvalTest } from "./rules-eval.js";
import { parseMeta, type MetaExpr } from "./rules-meta.js";

/** Where a definition came from, for error messages. */
export interface Origin {
  file: string;
  line: number;
}

export type RuleDef =
  | { kind: "header"; name: string; at: Origin; header: string; raw: boolean; negate: boolean; re: RegExp }
  | { kind: "header-exists"; name: string; at: Origin; header: string }
  | { kind: "body" | "rawbody" | "uri" | "full"; name: string; at: Origin; re: RegExp }
  | { kind: "meta"; name: string; at: Origin; expr: MetaExpr }
  | { kind: "eval"; name: string; at: Origin; test: EvalTest };

/** Everything the files said, in file order; later entries override earlier ones. */
export interface ParsedRules {
  rules: Map<string, RuleDef>;
  scores: Map<string, { score: number; at: Origin }>;
  descriptions: Map<string, { text: string; at: Origin }>;
  required?: number;
  probable?: number;
}

/** A rule name: upper-case letters, digits and underscores (SpamAssassin's convention). */
const RULE_NAME = /^[A-Z0-9_]+$/;
/** A header field name (RFC 5322 ftext, printable ASCII without the colon). */
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** Flags a rule's regular expression may carry. `g` and `y` are refused: they make RegExp.test
 *  stateful (lastIndex), so one mail's match would change the next mail's result. */
const ALLOWED_FLAGS = /^[imsu]*$/;
/** Longest pattern accepted: far above any sensible rule, low enough to keep compile cheap. */
const MAX_PATTERN_LENGTH = 2000;

export class RulesFileError extends Error {}

export function ruleError(at: Origin, message: string): RulesFileError {
  return new RulesFileError(`${at.file}:${at.line}: ${message}`);
}

/**
 * Refuses patterns whose shape is the classic cause of catastrophic backtracking: a quantified
 * group that itself contains an unbounded quantifier, e.g. `(a+)+`, `(\w+\s?)*`, `(.*x)*`.
 * This is a cheap syntactic check (one scan, a stack of groups), not a proof: it misses
 * alternation-overlap cases such as `(a|a)*`, which is why every rule also runs on bounded input.
 */
export function hasNestedQuantifier(source: string): boolean {
  const stack: boolean[] = []; // per open group: does it contain an unbounded quantifier?
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") stack.push(false);
    else if (c === ")") {
      const innerUnbounded = stack.pop() ?? false;
      const q = unboundedQuantifierAt(source, i + 1);
      if (innerUnbounded && q) return true;
      if (stack.length > 0 && (innerUnbounded || q)) stack[stack.length - 1] = true;
    } else if ((c === "+" || c === "*" || c === "{") && unboundedQuantifierAt(source, i)) {
      if (stack.length > 0) stack[stack.length - 1] = true;
    }
  }
  return false;
}

/** Is there a `+`, `*` or `{n,}` (or `{n,m}` with m > 10) quantifier at position i? */
function unboundedQuantifierAt(s: string, i: number): boolean {
  const c = s[i];
  if (c === "+" || c === "*") return true;
  if (c !== "{") return false;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i, i + 20));
  if (!m || m[2] === undefined) return false;
  return m[3] === "" || Number(m[3]) > 10;
}

/** Parses `/pattern/flags` (the whole remaining text) into a RegExp. */
export function parseRegex(text: string, at: Origin): RegExp {
  const t = text.trim();
  const end = t.lastIndexOf("/");
  if (!t.startsWith("/") || end <= 0) throw ruleError(at, `expected /pattern/flags, got "${t}"`);
  const source = t.slice(1, end);
  const flags = t.slice(end + 1);
  if (!ALLOWED_FLAGS.test(flags)) throw ruleError(at, `bad regex flags "${flags}" (allowed: i, m, s, u)`);
  if (source.length === 0) throw ruleError(at, "empty regex");
  if (source.length > MAX_PATTERN_LENGTH) throw ruleError(at, `regex longer than ${MAX_PATTERN_LENGTH} characters`);
  if (hasNestedQuantifier(source)) {
    throw ruleError(at, `regex /${source}/ nests unbounded quantifiers (catastrophic backtracking risk)`);
  }
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw ruleError(at, `bad regex /${source}/${flags}: ${(e as Error).message}`);
  }
}

function parseNumber(text: string, at: Origin, what: string): number {
  const t = text.trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(t)) throw ruleError(at, `${what}: "${t}" is not a number`);
  return Number(t);
}

/** `fn` or `fn(a, b)` where each argument is a number, a bare word or a "quoted string". */
function parseEval(text: string, at: Origin): EvalTest {
  const m = /^([a-z_][a-z0-9_]*)\s*(?:\((.*)\))?$/.exec(text.trim());
  if (!m) throw ruleError(at, `expected function(args), got "${text.trim()}"`);
  const fn = EVAL_FUNCTIONS.get(m[1]!);
  if (!fn) throw ruleError(at, `unknown eval function "${m[1]}" (known: ${[...EVAL_FUNCTIONS.keys()].join(", ")})`);
  const args = (m[2] ?? "").trim() === "" ? [] : m[2]!.split(",").map((a) => a.trim().replace(/^"(.*)"$/, "$1"));
  try {
    return fn.make(args);
  } catch (e) {
    throw ruleError(at, `${m[1]}: ${(e as Error).message}`);
  }
}

/** Splits `keyword NAME rest` and checks the name. */
function nameAndRest(rest: string, at: Origin, keyword: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/.exec(rest);
  if (!m) throw ruleError(at, `${keyword}: missing rule name`);
  const name = m[1]!;
  if (!RULE_NAME.test(name)) throw ruleError(at, `${keyword}: bad rule name "${name}" (use A-Z, 0-9, _)`);
  return [name, m[2]!];
}

function parseHeaderRule(name: string, rest: string, at: Origin): RuleDef {
  const exists = /^(\S+):exists$/.exec(rest.trim());
  if (exists) {
    if (!HEADER_NAME.test(exists[1]!)) throw ruleError(at, `bad header name "${exists[1]}"`);
    return { kind: "header-exists", name, at, header: exists[1]!.toLowerCase() };
  }
  const m = /^(\S+?)(:raw)?\s+(=~|!~)\s*(.*)$/.exec(rest);
  if (!m) throw ruleError(at, `header: expected "Header-Name =~ /re/", "Header-Name:raw =~ /re/" or "Header-Name:exists"`);
  const header = m[1]!;
  if (header !== "ALL" && !HEADER_NAME.test(header)) throw ruleError(at, `bad header name "${header}"`);
  return {
    kind: "header",
    name,
    at,
    header: header === "ALL" ? "ALL" : header.toLowerCase(),
    raw: m[2] !== undefined,
    negate: m[3] === "!~",
    re: parseRegex(m[4]!, at),
  };
}

/** Adds one file's text to `into`. `definedHere` catches a rule defined twice in one file (a
 *  later file may replace a rule on purpose; twice in the same file is a mistake). */
export function parseRulesText(text: string, file: string, into: ParsedRules): void {
  const definedHere = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const at = { file, line: i + 1 };
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = m[1]!;
    const rest = m[2]!;
    if (keyword === "required_score" || keyword === "probable_score") {
      const n = parseNumber(rest, at, keyword);
      if (keyword === "required_score") into.required = n;
      else into.probable = n;
      continue;
    }
    const [name, tail] = nameAndRest(rest, at, keyword);
    let def: RuleDef;
    switch (keyword) {
      case "score":
        into.scores.set(name, { score: parseNumber(tail, at, "score"), at });
        continue;
      case "describe":
        into.descriptions.set(name, { text: tail.trim(), at });
        continue;
      case "header":
        def = parseHeaderRule(name, tail, at);
        break;
      case "body":
      case "rawbody":
      case "uri":
      case "full":
        def = { kind: keyword, name, at, re: parseRegex(tail, at) };
        break;
      case "meta":
        try {
          def = { kind: "meta", name, at, expr: parseMeta(tail) };
        } catch (e) {
          throw ruleError(at, `meta: ${(e as Error).message}`);
        }
        break;
      case "eval":
        def = { kind: "eval", name, at, test: parseEval(tail, at) };
        break;
      default:
        throw ruleError(at, `unknown keyword "${keyword}"`);
    }
    if (definedHere.has(name)) throw ruleError(at, `rule ${name} is defined twice in this file`);
    definedHere.add(name);
    into.rules.set(name, def);
  }
}
