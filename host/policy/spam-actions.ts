/**
 * The anti-spam half of the Handle Object Policy (SPEC §4, §6): from one recipient's options and
 * the classification to one decision, exactly like the antivirus half (actions.ts):
 *
 *  1. action_as, action_as_spam or action_as_probable outside its set      -> defer.
 *  2. action_as = accept | defer | discard | reject                         -> that action, nothing
 *     classified (accept is the default: anti-spam is off until an administrator turns it on).
 *  3. action_as = scan, and the classification is
 *     - missing (the engine failed; the caller normally defers before this) -> defer.
 *     - skipped (approved client, larger than as_message_scan_size)        -> accept.
 *     - ham                                                                -> accept.
 *     - probable                                                           -> action_as_probable.
 *     - spam                                                               -> action_as_spam.
 *     - anything else                                                      -> defer.
 *
 * `stricter` joins this decision with the antivirus one for the same recipient: a recipient gets
 * the mail only when both say accept.
 */
import { type Action, type Decision, DECISION_ACTIONS } from "./actions.js";
import type { SpamResult } from "../spam/types.js";

export interface SpamPolicyOptions {
  action_as: string;
  action_as_spam: string;
  action_as_probable: string;
}

/** The three options out of a recipient's effective options (the text form user_config has). */
export const spamPolicyOf = (o: Record<string, string>): SpamPolicyOptions => ({
  action_as: o.action_as,
  action_as_spam: o.action_as_spam,
  action_as_probable: o.action_as_probable,
});

const isAction = (v: unknown): v is Action => typeof v === "string" && (DECISION_ACTIONS as readonly string[]).includes(v);

const defer = (reason: string): Decision => ({ action: "defer", reason, cleaned: false });

/** Reasons quoted in a decision's reason text; the header field lists more. */
const REASON_NAMES = 3;

/** Should this recipient's mail be classified at all? */
export function shouldClassify(o: SpamPolicyOptions): boolean {
  return o.action_as === "scan" && isAction(o.action_as_spam) && isAction(o.action_as_probable);
}

/** The anti-spam decision for one recipient. Never throws. */
export function decideSpam(o: SpamPolicyOptions, result?: SpamResult): Decision {
  for (const key of ["action_as_spam", "action_as_probable"] as const) {
    if (!isAction(o[key])) return defer(`unknown option value ${key}=${JSON.stringify(o[key])}`);
  }
  if (o.action_as !== "scan") {
    if (!isAction(o.action_as)) return defer(`unknown option value action_as=${JSON.stringify(o.action_as)}`);
    return { action: o.action_as, reason: `action_as=${o.action_as}`, cleaned: false };
  }
  if (!result) return defer("action_as=scan but no classification");
  if (result.skipped) return { action: "accept", reason: `anti-spam skipped: ${result.skipped}`, cleaned: false };
  const top = [...result.reasons].sort((a, b) => b.score - a.score).slice(0, REASON_NAMES).map((r) => r.name);
  const what = `score ${(Math.round(result.score * 10) / 10).toFixed(1)}${top.length ? ` (${top.join(", ")})` : ""}`;
  switch (result.status) {
    case "ham":
      return { action: "accept", reason: `ham, ${what}`, cleaned: false };
    case "probable":
      return { action: o.action_as_probable as Action, reason: `probable spam, ${what}: action_as_probable=${o.action_as_probable}`, cleaned: false };
    case "spam":
      return { action: o.action_as_spam as Action, reason: `spam, ${what}: action_as_spam=${o.action_as_spam}`, cleaned: false };
    default: {
      const unknown: never = result.status;
      return defer(`unknown spam status ${JSON.stringify(unknown)}`);
    }
  }
}

/** How strongly an action blocks, for joining two decisions on one recipient: a defer gives the
 *  mail another chance and so outranks everything; then reject > discard > accept (as the mail
 *  service ranks recipients). */
const RANK: Record<Action, number> = { defer: 4, reject: 3, discard: 2, accept: 1 };

/** The stricter of the antivirus and the anti-spam decision; on a tie the antivirus one. */
export function stricter(av: Decision, as: Decision): Decision {
  return RANK[as.action] > RANK[av.action] ? as : av;
}
