/**
 * The Handle Object Policy of SPEC §4: from the effective options of one object (a mail for one
 * recipient, or one file) and its scan outcome to one decision: accept, defer, discard or reject.
 *
 * Pure: no I/O, no clock. Every path that cannot be justified by the options ends in `defer`
 * (never lose mail): an unknown option value, a scan outcome that is missing or contradicts
 * itself, a verdict status this module does not know. "Not scanned" is never treated as clean.
 *
 * The rules, in order (the test states them again as an independent table):
 *  1. Any of the five options holds a value outside its set          -> defer.
 *  2. action_av = accept | defer | discard | reject                   -> that action, nothing scanned.
 *  3. action_av = scan, and the outcome is
 *     - missing, or contradicts itself (see `inconsistency`)          -> defer.
 *     - status "error" (the input could not be read at all)           -> defer, whatever
 *       action_av_notscanned says: the failure is ours, not a property of the mail, so it must
 *       neither pass unscanned mail (accept) nor bounce or drop it (reject/discard); the MTA
 *       retries and a later attempt scans it.
 *     - status "clean"                                                -> accept.
 *     - status "infected", not cleaned (av_clean_mode = none, or cleaning could not remove every
 *       infected part)                                                -> action_av_infected.
 *     - status "infected", cleaned (every infected part removed)      -> action_av_deleted; the
 *       object the action applies to is the cleaned copy (`cleaned: true`). action_av_infected
 *       no longer applies: the cleaned copy is not infected, and if it still applied, cleaning
 *       would be pointless whenever infected != accept.
 *     - status "not_scanned"                                          -> action_av_notscanned,
       except when a part could not be scanned because of an internal fault (a name under
       INTERNAL_FAULT_PREFIX: a crashed or killed worker, an unpacker bug, a read error), which is
       defer like status "error": the fault is ours, and a retry may well succeed on a fresh worker.
       A limit (Heuristics.Limits.Exceeded.*, encryption) is a property of the mail and stays a
       verdict of its own.
 *     - any other status                                              -> defer.
 *  4. SPEC: "accepted only when the applicable option says accept". When several options apply
 *     to one object (an infected mail that also has a part that could not be scanned), the
 *     object is accepted only if all of them say accept; otherwise the first blocking one in the
 *     order infected > deleted > notscanned wins. Why this order: a detection is a known fact
 *     about the mail, and deferring it would only make the MTA retry a mail that will be found
 *     infected again; an unscanned part of an otherwise cleaned mail still blocks it (a cleaned
 *     mail with an unscanned part is not known to be clean).
 */
import type { Verdict } from "../scan/verdict.js";

export const DECISION_ACTIONS = ["accept", "defer", "discard", "reject"] as const;
export type Action = (typeof DECISION_ACTIONS)[number];

export const ACTION_AV_VALUES = ["scan", ...DECISION_ACTIONS] as const;
export type ActionAv = (typeof ACTION_AV_VALUES)[number];

export const CLEAN_MODES = ["none", "standard", "strict", "rigorous"] as const;
/** How hard cleaning tries (SPEC §3). The difference between standard, strict and rigorous is the
 *  cleaner's business (which parts it may remove); the policy only needs "cleaning on or off" and
 *  whether the cleaner removed every infected part. */
export type CleanMode = (typeof CLEAN_MODES)[number];

/** The five options of SPEC §4, as read from the configuration (strings, so that a value the
 *  schema let through by mistake still reaches rule 1 instead of a type assertion). */
export interface PolicyOptions {
  action_av: string;
  action_av_infected: string;
  action_av_notscanned: string;
  action_av_deleted: string;
  av_clean_mode: string;
}

export interface ScanOutcome {
  verdict: Verdict;
  /** true only when cleaning ran and removed EVERY infected part; a cleaner that removed some
   *  but not all must report false (the object is then still infected). */
  cleaned: boolean;
}

export interface Decision {
  action: Action;
  /** for logs: which rule decided, with the option and its value */
  reason: string;
  /** the action applies to the cleaned copy: an accepting agent passes that copy on, and the
   *  statistics count the object as Cleaned */
  cleaned: boolean;
}

/** Not-scanned names that mean "Bulwark failed", not "the mail is beyond a limit". */
export const INTERNAL_FAULT_PREFIX = "Bulwark.Error.";

const internalFault = (v: Verdict): string | undefined => v.notScanned.find((n) => n.name.startsWith(INTERNAL_FAULT_PREFIX))?.name;

const isAction = (v: string): v is Action => (DECISION_ACTIONS as readonly string[]).includes(v);
const isActionAv = (v: string): v is ActionAv => (ACTION_AV_VALUES as readonly string[]).includes(v);
const isCleanMode = (v: string): v is CleanMode => (CLEAN_MODES as readonly string[]).includes(v);

/** First option whose value is outside its set, as "option=value", or undefined. */
export function invalidOption(o: PolicyOptions): string | undefined {
  const checks: Array<[keyof PolicyOptions, (v: string) => boolean]> = [
    ["action_av", isActionAv],
    ["action_av_infected", isAction],
    ["action_av_notscanned", isAction],
    ["action_av_deleted", isAction],
    ["av_clean_mode", isCleanMode],
  ];
  for (const [key, ok] of checks) {
    const v = o?.[key];
    if (typeof v !== "string" || !ok(v)) return `${key}=${JSON.stringify(v)}`;
  }
  return undefined;
}

/** Should the agent scan this object at all? Only with action_av = scan and valid options. */
export function shouldScan(o: PolicyOptions): boolean {
  return invalidOption(o) === undefined && o.action_av === "scan";
}

/** Should the agent try to clean an infected object before asking for a decision? */
export function shouldClean(o: PolicyOptions): boolean {
  return shouldScan(o) && o.av_clean_mode !== "none";
}

/** Why an outcome cannot be believed, or undefined when it is coherent. */
export function inconsistency(o: PolicyOptions, out: ScanOutcome): string | undefined {
  const v = out.verdict;
  if (!v || typeof v !== "object") return "no verdict";
  const names = Array.isArray(v.names) ? v.names : null;
  const notScanned = Array.isArray(v.notScanned) ? v.notScanned : null;
  if (!names || !notScanned) return "verdict without names or notScanned lists";
  if (typeof out.cleaned !== "boolean") return "cleaned is not a boolean";
  if (v.status === "clean" && (v.infected || names.length > 0 || notScanned.length > 0))
    return "status clean with detections or unscanned parts";
  if (v.status === "infected" && (!v.infected || names.length === 0)) return "status infected without detections";
  if (v.status === "not_scanned" && (v.infected || names.length > 0 || notScanned.length === 0))
    return "status not_scanned with detections or without unscanned parts";
  if (out.cleaned && v.status !== "infected") return `cleaned, but status is ${String(v.status)}`;
  if (out.cleaned && o.av_clean_mode === "none") return "cleaned, but av_clean_mode=none";
  return undefined;
}

/** Detection names quoted in a reason; the full list is in the verdict and the header field. */
const REASON_NAMES = 3;

const defer = (reason: string): Decision => ({ action: "defer", reason, cleaned: false });

/** The decision for one object. Never throws: anything unexpected is a `defer`. */
export function decide(options: PolicyOptions, outcome?: ScanOutcome): Decision {
  try {
    return decideUnguarded(options, outcome);
  } catch (err) {
    return defer(`internal error in policy: ${(err as Error)?.message ?? String(err)}`);
  }
}

function decideUnguarded(o: PolicyOptions, outcome: ScanOutcome | undefined): Decision {
  const bad = invalidOption(o);
  if (bad !== undefined) return defer(`unknown option value ${bad}`);
  if (o.action_av !== "scan") return { action: o.action_av as Action, reason: `action_av=${o.action_av}`, cleaned: false };
  if (!outcome) return defer("action_av=scan but no scan outcome");
  const why = inconsistency(o, outcome);
  if (why !== undefined) return defer(`inconsistent scan outcome: ${why}`);

  const v = outcome.verdict;
  const status = v.status;
  switch (status) {
    case "error":
      return defer(`scan error: ${v.error ?? "input could not be read"}`);
    case "clean":
      return { action: "accept", reason: "clean", cleaned: false };
    case "not_scanned": {
      const fault = internalFault(v);
      if (fault !== undefined) return defer(`scan failed: ${fault}`);
      return { action: o.action_av_notscanned as Action, reason: `not scanned: action_av_notscanned=${o.action_av_notscanned}`, cleaned: false };
    }
    case "infected": {
      // Rule 4: the applicable options in blocking order; the first non-accept one wins.
      const applicable: Array<[string, string]> = outcome.cleaned
        ? [["action_av_deleted", o.action_av_deleted]]
        : [["action_av_infected", o.action_av_infected]];
      if (internalFault(v) !== undefined) applicable.push(["internal fault", "defer"]);
      else if (v.notScanned.length > 0) applicable.push(["action_av_notscanned", o.action_av_notscanned]);
      const blocking = applicable.find(([, value]) => value !== "accept");
      const [key, value] = blocking ?? applicable[0];
      const what = `${outcome.cleaned ? "infected parts removed" : "infected"} (${v.names.slice(0, REASON_NAMES).join(", ")})`;
      return { action: value as Action, reason: `${what}: ${key}=${value}`, cleaned: outcome.cleaned };
    }
    default: {
      // A status added to Verdict later must be taught here, not passed through.
      const unknown: never = status;
      return defer(`unknown verdict status ${JSON.stringify(unknown)}`);
    }
  }
}
