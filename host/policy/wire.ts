/**
 * The one table from a policy decision to what each kind of agent says on its wire: SMTP reply,
 * milter reply, POP3/IMAP behaviour, and the exit code of a pipe/MDA program. Agents look their
 * answer up here instead of spelling codes themselves, so one decision means the same everywhere
 * (Postfix keeps its status-to-reply mapping in one table for the same reason: cleanup_strerror.c).
 *
 * Meaning of the actions on every wire (SPEC §4): accept = pass on; defer = temporary failure,
 * the MTA retries later; reject = permanent failure, the sender is notified; discard = dropped
 * silently, the sender is told it was delivered. So discard must look exactly like accept to the
 * sending side wherever the wire lets the sender see anything.
 */
import type { Action, Decision } from "./actions.js";

export type Wire = "smtp" | "milter" | "pop3" | "imap" | "exit";

export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code */
  enhanced: string;
  text: string;
}

/** Milter reply commands (libmilter's SMFIR_*) used for a final answer at end of message. */
export type MilterCommand =
  | "c" // SMFIR_CONTINUE: let the MTA deliver (with any header changes sent before it)
  | "d" // SMFIR_DISCARD: the MTA accepts and drops the mail
  | "y"; // SMFIR_REPLYCODE: the MTA answers the client with `reply` (4xx defers, 5xx rejects)

export interface MilterReply {
  command: MilterCommand;
  /** for "y": the full SMTP reply line the MTA sends, e.g. "451 4.7.1 ..." */
  reply?: string;
}

/** What a POP3/IMAP proxy does with one downloaded message. A mailbox client cannot be told
 *  "retry this one message later" in a way it acts on, nor can a listed message vanish, so a
 *  blocked message is replaced by a short notice (SPEC §7) and a deferred one is refused with the
 *  standard "temporary" response code so the client shows an error and fetches it again later. */
export interface MailboxBehaviour {
  behaviour: "pass" | "temporary-error" | "replace-with-notice";
  /** for temporary-error: the response line (POP3 RFC 3206 [SYS/TEMP], IMAP RFC 5530 [UNAVAILABLE]) */
  response?: string;
}

/** Exit codes of programs an MTA runs (bulwark-pipe, bulwark-mda). 0 and 75 are what every MTA
 *  understands (sysexits.h EX_OK, EX_TEMPFAIL). 69 (EX_UNAVAILABLE) is what Postfix's FILTER_README
 *  script uses for "message content rejected" and every MTA turns into a bounce. 99 is outside the
 *  sysexits range 64..78 so it is never mistaken for an error class; it means "handled, deliver
 *  nothing" (qmail gives 99 the same sense: success, stop processing), and a wrapper script maps it
 *  to success with nothing delivered. */
export const EXIT_ACCEPT = 0;
export const EXIT_DEFER = 75;
export const EXIT_REJECT = 69;
export const EXIT_DISCARD = 99;

export interface WireAnswers {
  smtp: SmtpReply;
  milter: MilterReply;
  pop3: MailboxBehaviour;
  imap: MailboxBehaviour;
  exit: number;
}

// The SMTP reply of accept and discard are identical on purpose: the sender of a discarded mail
// must not be able to tell (SPEC §4). 4.7.1 / 5.7.1: "delivery not authorized" (RFC 3463 X.7.1),
// the codes Postfix itself uses for a milter's tempfail and reject, so logs read the same.
const SMTP_ACCEPTED: SmtpReply = { code: 250, enhanced: "2.0.0", text: "Ok: queued" };
const SMTP_DEFERRED: SmtpReply = { code: 451, enhanced: "4.7.1", text: "Message deferred by content filter, try again later" };
const SMTP_REJECTED: SmtpReply = { code: 554, enhanced: "5.7.1", text: "Message rejected by content filter" };

const smtpLine = (r: SmtpReply) => `${r.code} ${r.enhanced} ${r.text}`;

const POP3_TEMP = "-ERR [SYS/TEMP] Message temporarily unavailable, try again later";
const IMAP_TEMP = "NO [UNAVAILABLE] Message temporarily unavailable, try again later";

/** THE table. Frozen: agents must not patch it at run time. */
const TABLE: Record<Action, WireAnswers> = {
  accept: {
    smtp: SMTP_ACCEPTED,
    milter: { command: "c" },
    pop3: { behaviour: "pass" },
    imap: { behaviour: "pass" },
    exit: EXIT_ACCEPT,
  },
  defer: {
    smtp: SMTP_DEFERRED,
    milter: { command: "y", reply: smtpLine(SMTP_DEFERRED) },
    pop3: { behaviour: "temporary-error", response: POP3_TEMP },
    imap: { behaviour: "temporary-error", response: IMAP_TEMP },
    exit: EXIT_DEFER,
  },
  reject: {
    smtp: SMTP_REJECTED,
    milter: { command: "y", reply: smtpLine(SMTP_REJECTED) },
    pop3: { behaviour: "replace-with-notice" },
    imap: { behaviour: "replace-with-notice" },
    exit: EXIT_REJECT,
  },
  discard: {
    smtp: SMTP_ACCEPTED,
    milter: { command: "d" },
    pop3: { behaviour: "replace-with-notice" },
    imap: { behaviour: "replace-with-notice" },
    exit: EXIT_DISCARD,
  },
};

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
export const WIRE_TABLE: Readonly<Record<Action, Readonly<WireAnswers>>> = deepFreeze(TABLE);

/** What `wire` says for `decision`. An action outside the table (a bug upstream) answers as defer. */
export function wireOf<W extends Wire>(decision: Pick<Decision, "action">, wire: W): WireAnswers[W] {
  const action = decision?.action;
  const row = Object.prototype.hasOwnProperty.call(WIRE_TABLE, action) ? WIRE_TABLE[action] : WIRE_TABLE.defer;
  if (!Object.prototype.hasOwnProperty.call(row, wire)) throw new Error(`unknown wire ${JSON.stringify(wire)}`);
  return structuredClone(row[wire]);
}

/** Longest reason put in a reply line (RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets
 *  with its code and CRLF). */
export const MAX_REASON_CHARS = 300;

/** The reply's text followed by the decision's reason (for a reject: the signature name), fit
 *  for one reply line: control characters become spaces and the reason is cut at
 *  MAX_REASON_CHARS. Only rejects carry it: a defer's reason is an internal detail. */
export function replyTextWithReason(reply: SmtpReply, reason?: string): string {
  const why = reason ? `: ${reason.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, MAX_REASON_CHARS)}` : "";
  return `${reply.text}${why}`;
}

/** The SMTP reply as the line an SMTP server writes (without CRLF). */
export function smtpReplyLine(reply: SmtpReply): string {
  return smtpLine(reply);
}
