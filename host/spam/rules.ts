/**
 * The anti-spam rule engine: loads the documented rules files (host/spam/rules/default.rules,
 * then the administrator's `as_rules_file`, which may add rules and re-score or disable built-in
 * ones), checks them as a whole (unknown rules in metas, meta cycles, scores for rules that do not
 * exist), and evaluates them against one parsed mail. Evaluation reads only bounded views of the
 * mail (host/spam/rules-context.ts) and never throws: a rule that fails counts as not hit.
 */
import fs from "node:fs";
import { packageFile } from "../paths.js";
import { MailView } from "./rules-context.js";
import { buildGates, type Gate } from "./rules-gate.js";
import { compileMeta, metaNames } from "./rules-meta.js";
import { parseRulesText, ruleError, RulesFileError, type ParsedRules, type RuleDef } from "./rules-parse.js";
import type { ParsedMail, SpamReason } from "./types.js";

export { RulesFileError } from "./rules-parse.js";

/** SpamAssassin's defaults, used when no file sets them. */
export const DEFAULT_REQUIRED_SCORE = 5.0;
export const DEFAULT_PROBABLE_SCORE = 3.0;
/** Score of a rule that has no `score` line (SpamAssassin does the same). */
export const DEFAULT_RULE_SCORE = 1.0;
/** Largest rules file read: the shipped one is ~20 KB; this stops a wrong path (a mailbox, a
 *  log) from being slurped whole. */
const MAX_RULES_FILE_BYTES = 8 * 1024 * 1024;

/** The shipped rules. Non-TypeScript files are not copied to dist/, so this resolves from the
 *  package root in both the source tree and the installed package. */
export function defaultRulesPath(): string {
  return packageFile("host/spam/rules/default.rules");
}

/** Sub-rules (`__NAME`) feed metas only: never scored, never reported. */
function isSubRule(name: string): boolean {
  return name.startsWith("__");
}

type Test = (v: MailView) => boolean;

function compileTest(def: Exclude<RuleDef, { kind: "meta" }>): Test {
  switch (def.kind) {
    case "header": {
      const { re, negate, raw, header } = def;
      if (header === "ALL") return (v) => re.test(v.allHeaders(raw)) !== negate;
      return (v) => re.test(v.header(header, raw)) !== negate;
    }
    case "header-exists": {
      const h = def.header;
      return (v) => v.has(h);
    }
    case "body": {
      const re = def.re;
      return (v) => re.test(v.body());
    }
    case "rawbody": {
      const re = def.re;
      return (v) => re.test(v.rawBody());
    }
    case "full": {
      const re = def.re;
      return (v) => re.test(v.full());
    }
    case "uri": {
      const re = def.re;
      return (v) => v.uris().some((u) => re.test(u));
    }
    case "eval":
      return def.test;
  }
}

interface CompiledRule {
  name: string;
  score: number;
  description?: string;
  reported: boolean;
  test?: Test;
  meta?: (hits: Uint8Array) => number;
  /** index into RuleSet.gates: when that gate finds nothing, this rule cannot hit */
  gate?: number;
}

export class RuleSet {
  /** score at or above which a mail is spam */
  readonly required: number;
  /** score at or above which a mail is probable spam */
  readonly probable: number;
  /** evaluation order: tests first, then metas after everything they read */
  private readonly order: CompiledRule[];
  private readonly hits: Uint8Array;
  private readonly gates: Gate[];
  /** per mail: -1 gate not run yet, 0 gate found nothing, 1 gate matched */
  private readonly gateState: Int8Array;

  constructor(parsed: ParsedRules) {
    this.required = parsed.required ?? DEFAULT_REQUIRED_SCORE;
    this.probable = parsed.probable ?? DEFAULT_PROBABLE_SCORE;
    for (const [name, s] of parsed.scores) {
      if (!parsed.rules.has(name)) throw ruleError(s.at, `score for undefined rule ${name}`);
    }
    for (const [name, d] of parsed.descriptions) {
      if (!parsed.rules.has(name)) throw ruleError(d.at, `describe for undefined rule ${name}`);
    }
    const score = (name: string) => (isSubRule(name) ? 0 : (parsed.scores.get(name)?.score ?? DEFAULT_RULE_SCORE));

    // One depth-first walk over every rule: refuses unknown names and cycles in metas (also in
    // metas no scored rule reads, so a broken admin file fails at load, not later), and lists
    // each rule after everything it reads.
    const done = new Set<string>();
    const onPath = new Set<string>();
    const ordered: string[] = [];
    const walk = (def: RuleDef) => {
      if (done.has(def.name)) return;
      onPath.add(def.name);
      if (def.kind === "meta") {
        for (const dep of metaNames(def.expr)) {
          const next = parsed.rules.get(dep);
          if (!next) throw ruleError(def.at, `meta ${def.name} reads unknown rule ${dep}`);
          if (onPath.has(dep)) throw ruleError(def.at, `meta ${def.name} is part of a cycle (it reads ${dep})`);
          walk(next);
        }
      }
      onPath.delete(def.name);
      done.add(def.name);
      ordered.push(def.name);
    };
    for (const def of parsed.rules.values()) walk(def);

    // which rules must run: every scored rule, and everything a scored meta reads (transitively)
    const needed = new Set<string>();
    const need = (name: string) => {
      if (needed.has(name)) return;
      needed.add(name);
      const def = parsed.rules.get(name)!;
      if (def.kind === "meta") for (const dep of metaNames(def.expr)) need(dep);
    };
    for (const name of parsed.rules.keys()) if (score(name) !== 0) need(name);
    const sorted = ordered.filter((n) => needed.has(n));

    const { gates, gateOf } = buildGates(sorted.map((n) => parsed.rules.get(n)!));
    this.gates = gates;
    this.gateState = new Int8Array(gates.length);
    const index = new Map<string, number>();
    const tests = sorted.filter((n) => parsed.rules.get(n)!.kind !== "meta");
    const metas = sorted.filter((n) => parsed.rules.get(n)!.kind === "meta"); // already dependency-ordered
    this.order = [...tests, ...metas].map((name, i) => {
      index.set(name, i);
      const def = parsed.rules.get(name)!;
      const s = score(name);
      const rule: CompiledRule = { name, score: s, reported: s !== 0, description: parsed.descriptions.get(name)?.text };
      if (def.kind === "meta") rule.meta = compileMeta(def.expr, (n) => index.get(n)!);
      else rule.test = compileTest(def);
      rule.gate = gateOf.get(name);
      return rule;
    });
    this.hits = new Uint8Array(this.order.length);
  }

  /** Names of the rules that run (scored ones and their sub-rules), for reports and tests. */
  get activeRules(): string[] {
    return this.order.map((r) => r.name);
  }

  /** The rules with a non-zero score that hit this mail. Never throws. */
  evaluate(mail: ParsedMail, raw: Buffer): SpamReason[] {
    const reasons: SpamReason[] = [];
    const hits = this.hits;
    hits.fill(0);
    this.gateState.fill(-1);
    let view: MailView;
    try {
      view = new MailView(mail ?? ({} as ParsedMail), raw);
    } catch {
      return reasons;
    }
    for (let i = 0; i < this.order.length; i++) {
      const r = this.order[i]!;
      let hit = false;
      try {
        hit = r.gate !== undefined && !this.gateOpen(r.gate, view) ? false : r.test ? r.test(view) : r.meta!(hits) !== 0;
      } catch {
        hit = false; // a broken rule or a malformed mail: the rule simply does not hit
      }
      hits[i] = hit ? 1 : 0;
      if (hit && r.reported) {
        const reason: SpamReason = { name: r.name, score: r.score };
        if (r.description) reason.description = r.description;
        reasons.push(reason);
      }
    }
    return reasons;
  }

  private gateOpen(g: number, view: MailView): boolean {
    let state = this.gateState[g]!;
    if (state < 0) {
      const gate = this.gates[g]!;
      state = this.gateState[g] = gate.re.test(gate.text(view)) ? 1 : 0;
    }
    return state === 1;
  }
}

/** Parses text as if it were a file (for tests and for rules held in memory). */
export function parseRules(sources: Array<{ file: string; text: string }>): RuleSet {
  const parsed: ParsedRules = { rules: new Map(), scores: new Map(), descriptions: new Map() };
  for (const s of sources) parseRulesText(s.text, s.file, parsed);
  try {
    return new RuleSet(parsed);
  } catch (e) {
    if (e instanceof RangeError) throw new RulesFileError(`${sources.at(-1)?.file}: metas nested too deeply (${e.message})`);
    throw e;
  }
}

/** Loads rules files in order: later files add rules, replace rules of the same name, re-score
 *  (`score NAME 0` disables) and reset the thresholds. Throws RulesFileError with file:line. */
export function loadRules(paths: string[]): RuleSet {
  const sources = paths.map((file) => {
    let text: string;
    try {
      const st = fs.statSync(file);
      if (st.size > MAX_RULES_FILE_BYTES) throw new RulesFileError(`${file}: larger than ${MAX_RULES_FILE_BYTES} bytes`);
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if (e instanceof RulesFileError) throw e;
      throw new RulesFileError(`${file}: cannot read rules file: ${(e as Error).message}`);
    }
    return { file, text };
  });
  return parseRules(sources);
}
