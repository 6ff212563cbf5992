/**
 * Gates: one combined regex per group of text rules that read the same text with the same flags
 * (all `body` rules with flag i, all `rawbody` rules without flags, ...). A mail on which the
 * combined regex `(?:r1)|(?:r2)|...` finds nothing cannot match any rule of the group, so the
 * group is skipped after one pass instead of one pass per rule. Most ham hits no body rule at
 * all, and on the corpus this cut the body rules' cost about four times. When the gate does
 * match, each rule of the group runs on its own as before, so results never change.
 *
 * Patterns with backreferences or named groups stay out of gates: joined into one regex their
 * group numbers or names would clash.
 */
import type { MailView } from "./rules-context.js";
import type { RuleDef } from "./rules-parse.js";

/** A group needs this many members before a gate pays for its extra pass. */
const MIN_GATE_MEMBERS = 3;
/** Largest group behind one gate: spam opens most gates, so smaller groups let a spam skip the
 *  groups it does not touch. */
export const MAX_GATE_MEMBERS = 6;

export interface Gate {
  re: RegExp;
  text: (v: MailView) => string;
}

const TEXT_OF = {
  body: (v: MailView) => v.body(),
  rawbody: (v: MailView) => v.rawBody(),
  full: (v: MailView) => v.full(),
} as const;

function gateable(re: RegExp): boolean {
  return !/\\[1-9]|\\k<|\(\?<(?![=!])/.test(re.source);
}

/** Builds the gates for the rules that will run; returns them and each rule's gate index. */
export function buildGates(defs: RuleDef[]): { gates: Gate[]; gateOf: Map<string, number> } {
  const groups = new Map<string, Array<RuleDef & { re: RegExp }>>();
  for (const d of defs) {
    if ((d.kind === "body" || d.kind === "rawbody" || d.kind === "full") && gateable(d.re)) {
      const key = `${d.kind}/${d.re.flags}`;
      const list = groups.get(key) ?? [];
      list.push(d);
      groups.set(key, list);
    }
  }
  const gates: Gate[] = [];
  const gateOf = new Map<string, number>();
  const chunks: Array<[string, Array<RuleDef & { re: RegExp }>]> = [];
  for (const [key, list] of groups) {
    const n = Math.ceil(list.length / MAX_GATE_MEMBERS);
    const size = Math.ceil(list.length / n);
    for (let i = 0; i < list.length; i += size) chunks.push([key, list.slice(i, i + size)]);
  }
  for (const [key, members] of chunks) {
    if (members.length < MIN_GATE_MEMBERS) continue;
    let re: RegExp;
    try {
      re = new RegExp(members.map((m) => `(?:${m.re.source})`).join("|"), members[0]!.re.flags);
    } catch {
      continue; // cannot happen for valid members, but a gate is only an optimisation
    }
    const kind = key.slice(0, key.indexOf("/")) as keyof typeof TEXT_OF;
    for (const m of members) gateOf.set(m.name, gates.length);
    gates.push({ re, text: TEXT_OF[kind] });
  }
  return { gates, gateOf };
}
