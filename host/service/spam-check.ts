/**
 * The anti-spam step of one mail through the daemon (SPEC §6): which recipients want their mail
 * classified (action_as = scan), the skips that come before classification (an approved client
 * address, a mail larger than as_message_scan_size or received only in part), one classification
 * for the message, and the per-recipient result the policy decides on (spam-actions.ts).
 *
 * One classification serves every recipient. The network checks use the options of the first
 * classifying recipient: the SMTP and milter agents keep recipients whose options differ out of
 * one transaction (recipient-split.ts), so in practice they are all the same.
 *
 * Failure rule: an engine that is missing or throws is the caller's defer (never "not spam"); a
 * network check that fails is the engine's soft failure and changes nothing here.
 */
import { findOption } from "../config/schema.js";
import { parseOptionValue } from "../config/values.js";
import { type ApprovedIpList, parseApprovedList } from "../spam/net/approved-ip.js";
import { effectiveClient } from "../spam/net/index.js";
import { DEFAULT_PROBABLE_SCORE, DEFAULT_REQUIRED_SCORE } from "../spam/rules.js";
import type { SpamContext, SpamEngine, SpamResult } from "../spam/types.js";
import type { RecipientOptions } from "../policy/user-config.js";
import { shouldClassify, spamPolicyOf } from "../policy/spam-actions.js";
import type { MailRequest } from "./protocol.js";

export interface SpamInput {
  mail: Buffer;
  received: number;
  overflow: boolean;
}

export class SpamUnavailable extends Error {}

/** A skipped result: the mail was not classified, for a reason that is the mail's or the
 *  administrator's, not a failure. */
function skipped(why: string, required: number, probable: number): SpamResult {
  return { status: "ham", score: 0, required, probable, reasons: [], skipped: why };
}

const SCAN_SIZE = findOption("global", "as_message_scan_size")!;

/** as_message_scan_size in bytes from its text form ("500K"); user_config values are checked
 *  against the schema when the file is read, so a bad one cannot get here. */
function sizeBytes(text: string | undefined): number {
  const p = parseOptionValue(SCAN_SIZE, { text: text ?? "0", quoted: false });
  return p.ok ? (p.value as number) : 0;
}

/** Why this recipient's mail skips classification, or undefined. */
function skipReason(o: Record<string, string>, req: MailRequest, input: SpamInput): string | undefined {
  if (input.overflow || req.truncated) return "only part of the mail was received (over max_file_size)";
  const limit = sizeBytes(o.as_message_scan_size);
  if (limit > 0 && input.received > limit) return `larger than as_message_scan_size (${input.received} > ${limit} bytes)`;
  const list = approvedList(o.as_approved_ip_list ?? "");
  if (!list) return undefined;
  // the connection's client (an approved 127.0.0.1 for local submission), and the client the
  // network checks look up: the one our MTA's Received field names when the connection is
  // from loopback (a content filter without XFORWARD, the pipe agent)
  const candidates = [req.clientAddr, effectiveClient(input.mail, { ...(req.clientAddr ? { clientAddr: req.clientAddr } : {}) })?.addr];
  const hit = candidates.find((ip) => ip !== undefined && list.matches(ip));
  return hit ? `approved client ${hit}` : undefined;
}

/** Parsed approved lists kept (one per distinct option value: the agent's and the user_config
 *  sections'); past this the cache starts over. Parsing 10,000 entries per recipient per mail
 *  would cost more than classifying. */
const MAX_CACHED_APPROVED_LISTS = 64;
const approvedLists = new Map<string, ApprovedIpList | undefined>();

function approvedList(text: string): ApprovedIpList | undefined {
  if (approvedLists.has(text)) return approvedLists.get(text);
  const entries = text.split(",").map((s) => s.trim()).filter(Boolean);
  // a bad entry throws (the caller defers): the config loader refuses one, so only a
  // user_config value read before it was checked could get here
  const list = entries.length ? parseApprovedList(entries) : undefined;
  if (approvedLists.size >= MAX_CACHED_APPROVED_LISTS) approvedLists.clear();
  approvedLists.set(text, list);
  return list;
}

/** Per recipient (same order as `perRecipient`): the classification, a skip, or undefined for a
 *  recipient whose action_as is not scan. Throws SpamUnavailable when the engine is missing. */
export async function classifyForRecipients(engine: SpamEngine | undefined, req: MailRequest, input: SpamInput, perRecipient: RecipientOptions[]): Promise<Array<SpamResult | undefined>> {
  const wanted = perRecipient.map((r) => shouldClassify(spamPolicyOf(r.options)));
  if (!wanted.some(Boolean)) return perRecipient.map(() => undefined);
  if (!engine) throw new SpamUnavailable("the anti-spam engine is not available");
  const skips = perRecipient.map((r, i) => (wanted[i] ? skipReason(r.options, req, input) : undefined));
  const first = perRecipient.find((r, i) => wanted[i] && skips[i] === undefined);
  let result: SpamResult | undefined;
  if (first) {
    const ctx: SpamContext = {
      ...(req.clientAddr ? { clientAddr: req.clientAddr } : {}),
      ...(req.clientName ? { clientName: req.clientName } : {}),
      ...(req.helo ? { helo: req.helo } : {}),
      sender: req.sender ?? "",
      recipients: req.recipients ?? [],
      network: {
        rbl: (first.options.as_rbl_service ?? "").split(",").map((s) => s.trim()).filter(Boolean),
        auth: first.options.as_auth_enabled === "yes",
      },
    };
    result = await engine.classify(input.mail, ctx);
  }
  return perRecipient.map((_, i) => {
    if (!wanted[i]) return undefined;
    if (skips[i] !== undefined) return skipped(skips[i]!, result?.required ?? DEFAULT_REQUIRED_SCORE, result?.probable ?? DEFAULT_PROBABLE_SCORE);
    return result;
  });
}
