/**
 * The daemon's private anti-spam commands on its local socket (framing as in protocol.ts),
 * shared by the daemon (spam-extensions.ts) and the [spamd] agent (agents/spamd/):
 *
 *   zBWSPAM\0   frame: JSON SpamRequest, then the mail as frames, then a zero frame.
 *               Reply: one frame holding the JSON SpamResult, or { error }; then the daemon closes.
 *   zBWLEARN\0  frame: JSON LearnRequest, then the mail as frames, then a zero frame.
 *               Reply: one frame holding the JSON LearnOutcome, or { error }.
 *
 * `{ error }` says the daemon could not answer (no anti-spam engine, the request could not be
 * read, the engine failed): the agent answers its client with a temporary failure, never a
 * verdict. Replies are checked here before an agent turns them into protocol text.
 */
import { AGENT_SECTIONS, type AgentSection } from "../config/schema.js";
import type { LearnOutcome, SpamContext, SpamReason, SpamResult } from "../spam/types.js";
import { MAX_ADDRESS_TEXT, MAX_REPLY_LIST, MAX_REPLY_TEXT } from "./protocol.js";

export const BWSPAM = "BWSPAM";
export const BWLEARN = "BWLEARN";

export interface SpamRequest {
  agent: AgentSection;
  /** what the agent knows of the mail's envelope and connection (spamd's protocol: nothing) */
  ctx?: SpamContext;
}

export interface LearnRequest {
  cls: "spam" | "ham" | "forget";
  /** the agent asking: only "spamd" may learn through the daemon, and only with [spamd]
   *  allow_tell = yes */
  agent: AgentSection;
}

export interface ErrorReply {
  error: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isAgent = (v: unknown): v is AgentSection => typeof v === "string" && (AGENT_SECTIONS as readonly string[]).includes(v);
const text = (v: unknown): v is string => typeof v === "string" && v.length <= MAX_ADDRESS_TEXT;

export function parseSpamRequest(v: unknown): SpamRequest {
  if (!isObject(v)) throw new Error("the request is not a JSON object");
  if (!isAgent(v.agent)) throw new Error(`unknown agent ${JSON.stringify(v.agent)}`);
  const out: SpamRequest = { agent: v.agent };
  if (v.ctx !== undefined) {
    if (!isObject(v.ctx)) throw new Error("ctx must be an object");
    const ctx: SpamContext = {};
    for (const key of ["clientAddr", "clientName", "helo", "sender"] as const) {
      const t = v.ctx[key];
      if (t === undefined) continue;
      if (!text(t)) throw new Error(`ctx.${key} must be a string of at most ${MAX_ADDRESS_TEXT} characters`);
      ctx[key] = t;
    }
    const r = v.ctx.recipients;
    if (r !== undefined) {
      if (!Array.isArray(r) || r.length > MAX_REPLY_LIST * 10 || !r.every(text)) throw new Error("ctx.recipients must be a list of addresses");
      ctx.recipients = [...r];
    }
    out.ctx = ctx;
  }
  return out;
}

export function parseLearnRequest(v: unknown): LearnRequest {
  if (!isObject(v)) throw new Error("the request is not a JSON object");
  if (v.cls !== "spam" && v.cls !== "ham" && v.cls !== "forget") throw new Error(`cls must be spam, ham or forget, not ${JSON.stringify(v.cls)}`);
  // the agent is required: allow_tell is checked against it, so a request without one must not
  // get past that check
  if (!isAgent(v.agent)) throw new Error(`unknown agent ${JSON.stringify(v.agent)}`);
  return { cls: v.cls, agent: v.agent };
}

const STATUSES = new Set(["ham", "probable", "spam"]);
const OUTCOMES = new Set(["learned", "relearned", "already", "forgotten", "unknown"]);
const finite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);
const cut = (s: string) => (s.length > MAX_REPLY_TEXT ? s.slice(0, MAX_REPLY_TEXT) : s);

/** A SpamResult from the daemon's JSON, checked enough that the reply built from it cannot lie
 *  (a known status, finite numbers, named reasons), with its lists and texts bounded; throws
 *  with the reason when it is not one. */
export function checkSpamResult(v: unknown): SpamResult {
  if (!isObject(v)) throw new Error("the result is not a JSON object");
  if (typeof v.error === "string") throw new Error(v.error);
  if (!STATUSES.has(String(v.status)) || !finite(v.score) || !finite(v.required) || !finite(v.probable) || !Array.isArray(v.reasons)) {
    throw new Error("the daemon sent a malformed spam result");
  }
  const reasons: SpamReason[] = [];
  for (const r of v.reasons.slice(0, MAX_REPLY_LIST)) {
    if (!isObject(r) || typeof r.name !== "string" || !finite(r.score)) throw new Error("the daemon sent a malformed spam reason");
    reasons.push(typeof r.description === "string" ? { name: cut(r.name), score: r.score, description: cut(r.description) } : { name: cut(r.name), score: r.score });
  }
  const out: SpamResult = { status: v.status as SpamResult["status"], score: v.score, required: v.required, probable: v.probable, reasons };
  if (typeof v.skipped === "string") out.skipped = cut(v.skipped);
  if (Array.isArray(v.softFailures)) out.softFailures = v.softFailures.filter((s): s is string => typeof s === "string").slice(0, MAX_REPLY_LIST).map(cut);
  return out;
}

export function checkLearnOutcome(v: unknown): LearnOutcome {
  if (!isObject(v)) throw new Error("the outcome is not a JSON object");
  if (typeof v.error === "string") throw new Error(v.error);
  if (!OUTCOMES.has(String(v.outcome)) || !finite(v.nspam) || !finite(v.nham)) throw new Error("the daemon sent a malformed learn outcome");
  return { outcome: v.outcome as LearnOutcome["outcome"], nspam: v.nspam, nham: v.nham };
}

/** Trim a result for the reply frame (reasons and texts bounded like MailResult's lists). */
export function trimSpamResult(r: SpamResult): SpamResult {
  const out: SpamResult = { ...r, reasons: r.reasons.slice(0, MAX_REPLY_LIST).map((x) => ({ ...x, name: cut(x.name), ...(x.description !== undefined ? { description: cut(x.description) } : {}) })) };
  if (r.softFailures) out.softFailures = r.softFailures.slice(0, MAX_REPLY_LIST).map(cut);
  if (r.skipped !== undefined) out.skipped = cut(r.skipped);
  return out;
}
