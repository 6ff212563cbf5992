/**
 * The shapes shared by the anti-spam pieces (SPEC §6): the parsed view of a mail that the
 * tokenizer and the rules read, the counts the statistical filter reads, and the result every
 * agent, the spamd listener and `bulwark spam check` report.
 *
 * Scores follow SpamAssassin's scale: each rule adds its score (negative for ham signs); the
 * statistical filter adds a banded score named BAYES_xx; a message is spam at or above the
 * rules file's `required_score` (5.0 by default) and probable spam at or above `probable_score`.
 */

export type SpamStatus = "ham" | "probable" | "spam";

/** One reason that contributed to the score: a rule, a Bayes band, a network check. */
export interface SpamReason {
  /** upper-case rule name, e.g. GTUBE, BAYES_99, RBL_ZEN_SPAMHAUS_ORG, SPF_FAIL */
  name: string;
  score: number;
  /** one short line for reports (the rule's description, the list's answer, ...) */
  description?: string;
}

export interface SpamResult {
  status: SpamStatus;
  /** rounded to 0.1 where printed; the sum of the reasons' scores */
  score: number;
  /** score at or above which the mail is spam */
  required: number;
  /** score at or above which the mail is probable spam */
  probable: number;
  reasons: SpamReason[];
  /** set when classification was skipped (approved client, larger than as_message_scan_size,
   *  sender/recipient white list): the status is then "ham" with no reasons */
  skipped?: string;
  /** network checks that failed soft (timeout, SERVFAIL, refusal code): logged, score unchanged */
  softFailures?: string[];
}

/** What the mail's envelope and connection say, where the agent knows it. */
export interface SpamContext {
  clientAddr?: string;
  clientName?: string;
  helo?: string;
  sender?: string;
  recipients?: string[];
  /** which network checks to run (the recipient's as_rbl_service and as_auth_enabled); absent:
   *  the engine's [global] defaults */
  network?: { rbl: string[]; auth: boolean };
}

export interface MailHeader {
  /** as written (case kept) */
  name: string;
  /** lower case, for lookups */
  lname: string;
  /** unfolded, RFC 2047 encoded-words decoded, trimmed */
  value: string;
  /** unfolded but not decoded (for rules that look for encoding tricks) */
  raw: string;
}

/** A mail parsed once for the tokenizer and the rules (host/spam/message.ts). Bounded: the
 *  parser stops at its own named limits and says so in `truncated`. */
export interface ParsedMail {
  headers: MailHeader[];
  /** decoded Subject ("" when none) */
  subject: string;
  /** decoded text/plain parts */
  textParts: string[];
  /** decoded text/html parts, as HTML */
  htmlParts: string[];
  /** the html parts reduced to their visible text */
  htmlText: string[];
  /** URIs found in text (http/https/www./mailto) and in HTML attributes (href, src, action) */
  uris: string[];
  /** non-text parts */
  attachments: Array<{ contentType: string; filename: string; size: number }>;
  /** bytes of the raw mail */
  size: number;
  /** a limit stopped the parser (too many parts, too deep, too much text) */
  truncated: boolean;
}

/** The statistical filter's view of its database: message totals and per-feature counts. */
export interface TokenCounts {
  /** messages learned as spam / as ham */
  readonly nspam: number;
  readonly nham: number;
  /** [spam count, ham count] of one feature hash, or undefined when never seen */
  get(feature: number): readonly [number, number] | undefined;
}

/** Classification with everything the daemon knows (host/spam/classify.ts). */
export interface SpamEngine {
  classify(raw: Buffer, ctx: SpamContext): Promise<SpamResult>;
  /** learn a message as spam or ham; learning it again as the other class moves it */
  learn(raw: Buffer, cls: "spam" | "ham"): Promise<LearnOutcome>;
  /** unlearn a message learned before */
  forget(raw: Buffer): Promise<LearnOutcome>;
}

export interface LearnOutcome {
  /** "learned" (new), "relearned" (moved from the other class), "already" (nothing to do),
   *  "forgotten", "unknown" (forget of a message never learned) */
  outcome: "learned" | "relearned" | "already" | "forgotten" | "unknown";
  nspam: number;
  nham: number;
}
