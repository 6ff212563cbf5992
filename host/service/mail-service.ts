/**
 * One mail through the daemon (zBWMAIL): the agent section's policy ([agent] over [global],
 * SPEC §4) refined per recipient by the agent's user_config file (SPEC §5), one scan, cleaning
 * when a recipient asks for it, one anti-spam classification when a recipient asks for it
 * (SPEC §6, spam-check.ts), one decision per recipient (the stricter of the antivirus and the
 * anti-spam one) and one for the message, header fields, subject tag and footnote for accepted
 * mail, statistics, quarantine of blocked mail, and the log.
 *
 * Failure rule: anything unexpected (a broken user_config, a cleaner that throws, a disabled
 * agent, a rewritten mail over its bound) is a defer, with the reason logged at `error`. A
 * quarantine or statistics failure is logged but does not change the decision: the mail was
 * judged, and bouncing it because a disk is full would be worse than not keeping a copy.
 */
import type { Scanner } from "../api.js";
import type { Config } from "../config/load.js";
import type { Logger } from "../log/types.js";
import { type Action, type Decision, decide, INTERNAL_FAULT_PREFIX, type PolicyOptions, shouldClean } from "../policy/actions.js";
import { cleanMail } from "../policy/clean.js";
import { addFootnote } from "../policy/footnote.js";
import { type HeaderField, scanHeaderFields, verdictFieldValue } from "../policy/headers.js";
import type { RecipientOptions } from "../policy/user-config.js";
import type { QuarantineStore } from "../quarantine/store.js";
import type { Verdict } from "../scan/verdict.js";
import type { Statistics } from "../stats/counters.js";
import { type MailRequest, type MailResult, MAX_REPLY_LIST, MAX_REWRITE_GROWTH } from "./protocol.js";
import { recipientOptions } from "./recipient-options.js";
import { UserConfigCache } from "./user-config-file.js";
import { errorVerdict, oversizeVerdict, trimVerdict } from "./verdicts.js";
import { decideSpam, spamPolicyOf, stricter } from "../policy/spam-actions.js";
import { findSubject, spamHeaderFields, subjectTag, taggedSubject } from "../spam/mark.js";
import type { SpamEngine, SpamResult } from "../spam/types.js";
import { classifyForRecipients, SpamUnavailable } from "./spam-check.js";

export interface ServiceDeps {
  /** getters: the configuration and the signatures are reloaded while the daemon runs */
  config: () => Config;
  scanner: () => Scanner;
  stats: Statistics;
  quarantine: QuarantineStore;
  log: Logger;
  /** the anti-spam engine (host/spam/engine.ts); undefined while it cannot be built, which
   *  defers mail that a recipient wants classified */
  spam?: () => SpamEngine | undefined;
}

/** Bulwark's version in the X-Bulwark-Engine field (the package version). */
export const PRODUCT_VERSION = "0.1.0";
/** The engine named in X-Bulwark-Engine: the WebAssembly core (host/engine/). */
export const ENGINE_NAME = "wasm";

/** What the daemon received of the mail. */
export interface MailInput {
  /** the mail as stored (at most max_file_size bytes) */
  mail: Buffer;
  /** bytes received */
  received: number;
  /** more than max_file_size bytes came (only the first max_file_size are in `mail`) */
  overflow: boolean;
}

export interface MailOutcome {
  result: MailResult;
  /** the rewritten mail when result.rewritten */
  mail?: Buffer;
}

/** Most aggressive first: when recipients ask for different modes the one cleaned copy uses
 *  the strongest, since a recipient must never get less removed than it asked for. */
const CLEAN_STRENGTH = ["rigorous", "strict", "standard"] as const;

/**
 * The message's one action when recipients differ: any defer => defer (a retry gives every
 * recipient another chance, and no recipient loses mail); otherwise reject > discard > accept.
 * A pipe or MDA answers once for all recipients, so the strictest blocking decision wins
 * (rejecting tells the sender, discarding is silent, and a blocked recipient must not receive
 * the mail because another one accepts it); the SMTP and milter agents can act on the
 * per-recipient list instead.
 */
/** Positive spam reasons named in the summary line; the structured fields list them all. */
const LOGGED_SPAM_REASONS = 5;

const MESSAGE_ACTION_RANK: Record<Action, number> = { defer: 4, reject: 3, discard: 2, accept: 1 };

const policyOf = (o: Record<string, string>): PolicyOptions => ({
  action_av: o.action_av,
  action_av_infected: o.action_av_infected,
  action_av_notscanned: o.action_av_notscanned,
  action_av_deleted: o.action_av_deleted,
  av_clean_mode: o.av_clean_mode,
});

/** The agent section's effective policy options as text (the form user_config values have). */
class Deferred extends Error {}

/** How far judge() got, for handle() to count a scan that ran before a defer. */
interface ScanProgress {
  verdict?: Verdict;
  /** recordScan was called for it (never count one scan twice) */
  counted: boolean;
}

export class MailService {
  private readonly userConfigs = new UserConfigCache();

  constructor(private readonly deps: ServiceDeps) {}

  /** Never rejects: every failure is a defer result (logged at error). */
  async handle(req: MailRequest, input: MailInput): Promise<MailOutcome> {
    const progress: ScanProgress = { counted: false };
    try {
      return await this.judge(req, input, progress);
    } catch (e) {
      const reason = e instanceof Deferred ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
      this.deps.log.error(`mail deferred: ${reason}`, { agent: req.agent, sender: req.sender ?? "", recipients: req.recipients ?? [], size: input.received });
      // the scan ran before the defer (cleaning failed, a rewrite over its bound): its objects
      // were scanned and are counted (SPEC §2), as not cleaned, since the mail is not delivered
      if (progress.verdict && !progress.counted) this.count(() => this.deps.stats.recordScan(req.agent, progress.verdict!, false));
      this.count(() => this.deps.stats.recordDecision(req.agent, "defer"));
      const recipients = (req.recipients ?? []).map((recipient) => ({ recipient, action: "defer" as const, reason }));
      return { result: { action: "defer", reason, recipients, verdict: errorVerdict(reason), cleaned: false, rewritten: false, headers: [] } };
    }
  }

  private async judge(req: MailRequest, input: MailInput, progress: ScanProgress): Promise<MailOutcome> {
    const { log } = this.deps;
    const config = this.deps.config();
    const scanner = this.deps.scanner();
    const agent = req.agent;
    if (!config.bool(agent, "agent_enabled")) throw new Deferred(`the ${agent} agent is disabled in ${config.file}`);
    const maxFileSize = config.int("global", "max_file_size");
    const perRecipient = this.recipientOptions(config, req);

    // ---- scan once, when any recipient's action_av is scan ----
    let verdict: Verdict | undefined;
    if (perRecipient.some((r) => r.options.action_av === "scan")) {
      verdict = input.overflow || req.truncated || input.received > maxFileSize
        ? oversizeVerdict(maxFileSize, input.received, req.truncated === true)
        : await scanner.scan(input.mail, { name: "mail" });
      progress.verdict = verdict;
    }

    // ---- clean when the mail is infected and a recipient asks for it ----
    let cleaned = false;
    let out = input.mail;
    let rewritten = false;
    const modes = perRecipient.filter((r) => shouldClean(policyOf(r.options))).map((r) => r.options.av_clean_mode);
    if (verdict?.status === "infected" && modes.length > 0) {
      const mode = CLEAN_STRENGTH.find((m) => modes.includes(m))!;
      const cr = await cleanMail(input.mail, mode, (entity) => scanner.scan(entity, { name: "part" }));
      // a scan that failed on our side says nothing about the mail: retry rather than fall back
      // to action_av_infected (or, strict, drop a part that merely met a crashed worker)
      if (cr.failed !== undefined) throw new Deferred(`cleaning (${mode}) failed: ${cr.failed}`);
      if (cr.mail.length > maxFileSize + MAX_REWRITE_GROWTH) throw new Deferred(`the cleaned mail (${cr.mail.length} bytes) is over its size bound`);
      const rescan = cr.complete ? await scanner.scan(cr.mail, { name: "cleaned mail" }) : undefined;
      if (rescan && (rescan.status === "error" || rescan.notScanned.some((n) => n.name.startsWith(INTERNAL_FAULT_PREFIX)))) {
        throw new Deferred(`the re-scan of the cleaned mail failed: ${rescan.error ?? rescan.notScanned.find((n) => n.name.startsWith(INTERNAL_FAULT_PREFIX))?.name ?? "scan error"}`);
      }
      cleaned = cr.complete && rescan?.status === "clean";
      for (const r of cr.removed) log.info(`cleaning (${mode}) removed ${r.part}: ${r.names.join(", ")}`, { agent });
      if (cleaned) {
        out = cr.mail;
        rewritten = true;
      } else {
        const why = !cr.complete ? "the cleaner could not remove every infected part" : `the cleaned copy re-scanned as ${rescan ? verdictFieldValue(rescan) : "?"}`;
        log.warning(`mail not cleaned (${mode}): ${why}; action_av_infected applies`, { agent });
      }
    }

    // ---- anti-spam: one classification when any recipient's action_as is scan ----
    let spamResults: Array<SpamResult | undefined>;
    try {
      spamResults = await classifyForRecipients(this.deps.spam?.(), req, input, perRecipient);
    } catch (e) {
      throw new Deferred(e instanceof SpamUnavailable ? e.message : `anti-spam failed: ${(e as Error)?.message ?? String(e)}`);
    }
    const spam = spamResults.find((x) => x !== undefined && !x.skipped) ?? spamResults.find((x) => x !== undefined);
    // accepted unclassified because it is over max_file_size: say so where an operator looks
    if (spam?.skipped && (input.overflow || req.truncated)) log.warning(`anti-spam skipped: ${spam.skipped}`, { agent, size: input.received });

    // ---- decide per recipient (antivirus and anti-spam), then once for the message ----
    const decisions = perRecipient.map((r, i) => {
      const p = policyOf(r.options);
      const av: Decision = decide(p, verdict ? { verdict, cleaned: cleaned && shouldClean(p) } : undefined);
      const as: Decision = decideSpam(spamPolicyOf(r.options), spamResults[i]);
      const d = stricter(av, as);
      // blocked by what the classification found (not by action_as itself, nor by a skip)
      const classified = spamResults[i] !== undefined && !spamResults[i]!.skipped;
      return { r, d, spamBlocked: classified && d === as && as.action !== "accept" };
    });
    const top = decisions.reduce((a, b) => (MESSAGE_ACTION_RANK[b.d.action] > MESSAGE_ACTION_RANK[a.d.action] ? b : a));
    const action = top.d.action;
    const reason = top.d.reason;

    // ---- header fields and footnote: scanned mail that is accepted ----
    // One mail goes out for every recipient, so a field or footnote any recipient asks for is added.
    const headers: HeaderField[] = [];
    let subject: string | undefined;
    if (action === "accept" && spam) {
      if (decisions.some(({ r }) => r.options.av_hdr_enabled === "yes")) headers.push(...spamHeaderFields(spam));
      const tagging = decisions.find(({ r }, i) => spamResults[i] !== undefined && !spamResults[i]!.skipped && r.options.as_eml_subject_template !== "");
      const tag = tagging ? subjectTag(spam, tagging.r.options.as_eml_subject_template) : "";
      // only a mail held whole: the agent replaces the Subject field of the mail it holds
      if (tag && !input.overflow && !req.truncated) subject = taggedSubject(findSubject(input.mail)?.value, tag);
    }
    if (action === "accept" && verdict) {
      if (decisions.some(({ r }) => r.options.av_hdr_enabled === "yes")) {
        headers.push(...scanHeaderFields(verdict, { product: PRODUCT_VERSION, engine: ENGINE_NAME, signatures: `${scanner.signatureCount} signature${scanner.signatureCount === 1 ? "" : "s"}` }, cleaned));
      }
      const foot = decisions.find(({ r }) => r.options.av_footnote_enabled === "yes");
      // Only a mail received whole may be rewritten: `input.mail` of an oversized one is its first
      // max_file_size bytes, and a footnoted copy of those would replace the whole mail (or have
      // the agent's unheld rest appended after the footnote).
      // And only a mail that was scanned whole gets the footnote, whose text says it was scanned:
      // an accepted not-scanned mail is marked by its X-Bulwark-Verdict field alone.
      const scannedWhole = verdict.status === "clean" || (verdict.status === "infected" && cleaned && verdict.notScanned.length === 0);
      if (foot && scannedWhole && !input.overflow && !req.truncated) {
        const f = addFootnote(out, foot.r.options.av_footnote_text);
        if (f.mail.length > maxFileSize + MAX_REWRITE_GROWTH) throw new Deferred(`the mail with its footnote (${f.mail.length} bytes) is over its size bound`);
        if (f.added) {
          out = f.mail;
          rewritten = true;
        }
      }
    }

    // ---- quarantine: blocked because of what the scan found ----
    let quarantineId: string | undefined;
    const blockedByScan = (action === "reject" || action === "discard") && verdict !== undefined &&
      (verdict.status === "infected" || verdict.status === "not_scanned") &&
      decisions.some(({ r, d }) => d.action === action && r.options.action_av === "scan");
    const blockedAsSpam = !blockedByScan && (action === "reject" || action === "discard") && spam !== undefined &&
      decisions.some(({ d, spamBlocked }) => spamBlocked && d.action === action);
    if (blockedByScan) quarantineId = await this.keep(req, input, { verdict: verdict! }, reason);
    else if (blockedAsSpam) quarantineId = await this.keep(req, input, { spam: spam! }, reason);

    // ---- statistics and log ----
    if (verdict) {
      progress.counted = true;
      this.count(() => this.deps.stats.recordScan(agent, verdict!, cleaned));
    }
    this.count(() => this.deps.stats.recordDecision(agent, action));
    this.logMessage(req, input, verdict, action, reason, quarantineId, spam);
    if (verdict?.status === "error") log.error(`mail deferred: ${reason}`, { agent, sender: req.sender ?? "", size: input.received });

    const result: MailResult = {
      action,
      reason,
      recipients: (req.recipients ?? []).length ? decisions.map(({ r, d }) => ({ recipient: r.recipient, action: d.action, reason: d.reason })) : [],
      verdict: trimVerdict(verdict ?? notScannedByPolicy()),
      cleaned,
      rewritten,
      headers,
      ...(subject !== undefined ? { subject } : {}),
      ...(spam ? { spam: { status: spam.status, score: spam.score, required: spam.required, reasons: spam.reasons.slice(0, MAX_REPLY_LIST).map((x) => x.name), ...(spam.skipped ? { skipped: spam.skipped } : {}) } } : {}),
      ...(quarantineId ? { quarantineId } : {}),
    };
    return rewritten ? { result, mail: out } : { result };
  }

  /** Each recipient's options: the agent section's, refined by its user_config file. */
  private recipientOptions(config: Config, req: MailRequest): RecipientOptions[] {
    let resolved;
    try {
      resolved = recipientOptions(config, this.userConfigs, req);
    } catch (e) {
      throw new Deferred(`${(e as Error).message} (every message of the ${req.agent} agent is deferred until it is fixed)`);
    }
    if (resolved.ignored.length) this.deps.log.debug(`user_config: addresses matching no section (not plain addresses): ${resolved.ignored.length}`, { agent: req.agent });
    return resolved.perRecipient;
  }

  /** Keep a blocked mail in quarantine: what the scan found (infected / notscanned) or what
   *  the classification found (spam, named by its positive reasons). */
  private async keep(req: MailRequest, input: MailInput, why: { verdict: Verdict } | { spam: SpamResult }, reason: string): Promise<string | undefined> {
    if (input.overflow || req.truncated) {
      this.deps.log.warning(`mail not quarantined: only its first ${input.mail.length} bytes were received (it is over max_file_size)`, { agent: req.agent });
      return undefined;
    }
    let names: string[];
    let status: string;
    if ("spam" in why) {
      names = why.spam.reasons.filter((x) => x.score > 0).map((x) => x.name).slice(0, MAX_REPLY_LIST);
      status = "spam";
    } else {
      const infected = why.verdict.status === "infected";
      names = infected ? [...why.verdict.names] : [...new Set(why.verdict.notScanned.map((n) => n.name))];
      status = infected ? "infected" : "notscanned";
    }
    try {
      const { id } = await this.deps.quarantine.put(input.mail, { names, status, sender: req.sender ?? "", recipients: req.recipients ?? [], agent: req.agent, reason });
      return id;
    } catch (e) {
      this.deps.log.error(`quarantine failed, the decision stands: ${(e as Error).message}`, { agent: req.agent });
      return undefined;
    }
  }

  private count(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.deps.log.error(`statistics: ${(e as Error).message}`);
    }
  }

  private logMessage(req: MailRequest, input: MailInput, verdict: Verdict | undefined, action: Action, reason: string, quarantineId?: string, spam?: SpamResult): void {
    const { log } = this.deps;
    const fields = {
      agent: req.agent,
      sender: req.sender ?? "",
      recipients: req.recipients ?? [],
      ...(req.clientAddr ? { client: req.clientAddr } : {}),
      ...(req.helo ? { helo: req.helo } : {}),
      verdict: verdict ? verdictFieldValue(verdict) : "not-scanned (policy)",
      action,
      reason,
      size: input.received,
      ...(quarantineId ? { quarantine: quarantineId } : {}),
      ...(spam ? { spam: spam.skipped ? `skipped (${spam.skipped})` : `${spam.status} ${spam.score.toFixed(1)}/${spam.required.toFixed(1)}`, spamReasons: spam.reasons.map((x) => x.name) } : {}),
    };
    // the client as the MTA saw it (XFORWARD / milter connect), like Postfix's "client=" field
    const client = req.clientAddr ? ` client=${req.clientAddr}` : "";
    const spamText = fields.spam ? `, spam: ${fields.spam}${spam && !spam.skipped && spam.reasons.length ? ` (${spam.reasons.filter((x) => x.score > 0).slice(0, LOGGED_SPAM_REASONS).map((x) => x.name).join(", ")})` : ""}` : "";
    const line = `${req.agent}: ${action} from <${fields.sender}> to ${fields.recipients.length} recipient(s)${client}: ${fields.verdict}${spamText}`;
    log.log("summall", line, fields);
    if (verdict && (verdict.status === "infected" || verdict.status === "not_scanned")) log.log("summ", line, fields);
    // one line per detection and per part not scanned (the verdict has no list of clean parts)
    for (const d of verdict?.detections ?? []) {
      for (const cls of ["part", "partall"] as const) log.log(cls, `${req.agent}: ${d.path || "(mail)"}: ${d.name} found`, { agent: req.agent, name: d.name, path: d.path });
    }
    for (const n of verdict?.notScanned ?? []) {
      for (const cls of ["part", "partall"] as const) log.log(cls, `${req.agent}: ${n.path || "(mail)"}: not scanned: ${n.name}`, { agent: req.agent, name: n.name, path: n.path, reason: n.reason });
    }
  }
}

/** The verdict reported when no recipient's action_av was scan: nothing was looked at. */
function notScannedByPolicy(): Verdict {
  return {
    status: "not_scanned", infected: false, names: [], detections: [], objects: 0, bytesScanned: 0,
    notScanned: [{ name: "Bulwark.Policy.NotScanned", path: "", reason: "action_av is not scan for any recipient" }],
  };
}
