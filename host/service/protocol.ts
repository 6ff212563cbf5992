/**
 * The daemon's private commands on its local socket (daemon_socket_path), shared by the daemon
 * (host/service/extensions.ts) and the agents (agents/common/daemon-client.ts):
 *
 *   zBWSCAN\0  frame: JSON ScanRequest, then the object as frames, then a zero frame.
 *              Reply: one frame holding the JSON Verdict; then the daemon closes.
 *   zBWMAIL\0  frame: JSON MailRequest, then the mail as frames, then a zero frame.
 *              Reply: one frame holding the JSON MailResult; when `rewritten` is true the new
 *              mail follows as frames ending in a zero frame; then the daemon closes.
 *
 *   zBWSPAM\0 / zBWLEARN\0  anti-spam classification and training: spam-protocol.ts.
 *
 * A frame is a u32 big-endian length and that many bytes (clamd's INSTREAM chunks). These
 * commands are served only on the daemon's own socket, never on the [clamd] listeners, and
 * VERSIONCOMMANDS does not list them. Any failure on either side means defer.
 */
import { AGENT_SECTIONS, type AgentSection } from "../config/schema.js";
import type { Action } from "../policy/actions.js";
import type { HeaderField } from "../policy/headers.js";
import type { Verdict } from "../scan/verdict.js";

export const BWSCAN = "BWSCAN";
export const BWMAIL = "BWMAIL";

/** Largest request metadata frame (ScanRequest / MailRequest JSON). The bulk of it is the
 *  recipient list: 1,000 recipients (Postfix's smtpd_recipient_limit) of a typical 30-50
 *  characters fit with room to spare; anything larger is refused before it is buffered. */
export const MAX_METADATA_FRAME = 64 * 1024;
/** Largest reply metadata frame an agent reads (MailResult / Verdict JSON). The daemon caps the
 *  lists it puts in a reply (MAX_REPLY_LIST, MAX_REPLY_TEXT), so a real reply is a few KiB plus
 *  one short line per recipient; 1 MiB leaves room for 1,000 recipients with long reasons. */
export const MAX_RESULT_FRAME = 1024 * 1024;
/** How much a rewritten mail may exceed max_file_size: a footnote (one option value, at most
 *  16 KiB) and the notices that replace removed parts. Both sides enforce it, so an agent never
 *  buffers more than max_file_size plus this. */
export const MAX_REWRITE_GROWTH = 1024 * 1024;
/** Detections / not-scanned entries carried in a reply; the daemon logs every one, the agent
 *  only needs enough for its header field (which lists 10) and its own log line. */
export const MAX_REPLY_LIST = 100;
/** Longest string (name, path, reason) carried in a reply; attachment names are attacker text. */
export const MAX_REPLY_TEXT = 1024;
/** Most recipients in one MailRequest: Postfix's default smtpd_recipient_limit. */
export const MAX_RECIPIENTS = 1000;
/** Longest address or IP text in a request (RFC 5321 path: 256 octets, with slack for <>). */
export const MAX_ADDRESS_TEXT = 512;

export interface ScanRequest {
  /** the agent section the request is counted for ("cli", ...) */
  agent: AgentSection;
}

export interface MailRequest {
  agent: AgentSection;
  /** envelope sender; "" or absent for the null sender */
  sender?: string;
  recipients?: string[];
  /** SMTP client address (user_config [client:IP] sections) */
  clientAddr?: string;
  /** address the mail came in on (user_config [server:IP] sections) */
  serverAddr?: string;
  /** The client's HELO/EHLO name and the name the MTA found for its address (reverse DNS,
   *  "unknown" when none), as the MTA reported them (XFORWARD HELO/NAME, milter connect and
   *  HELO). Logged now; they are what the anti-spam checks (SPF's HELO identity, rDNS rules)
   *  will read. */
  helo?: string;
  clientName?: string;
  /** The agent stopped reading the mail at max_file_size: the bytes sent are only its start,
   *  so it must not be scanned (it is "not scanned", never clean). Without it an agent whose
   *  own limit is lower than the daemon's would get a verdict on a prefix. */
  truncated?: boolean;
}

export interface RecipientResult {
  recipient: string;
  action: Action;
  reason: string;
}

export interface MailResult {
  /** the one answer for the whole message */
  action: Action;
  reason: string;
  /** per recipient; empty when the request named none */
  recipients: RecipientResult[];
  verdict: Verdict;
  cleaned: boolean;
  /** the cleaned and/or footnoted mail follows the result frame (without the header fields) */
  rewritten: boolean;
  /** X-Bulwark-* fields to add when accepting (may be empty) */
  headers: HeaderField[];
  /** set when the daemon kept the mail in quarantine */
  quarantineId?: string;
  /** the new value of the Subject field (the subject template applied to spam); the agent
   *  replaces the mail's first Subject field with it, or adds one */
  subject?: string;
  /** the anti-spam classification, when a recipient's action_as was scan */
  spam?: { status: "ham" | "probable" | "spam"; score: number; required: number; reasons: string[]; skipped?: string };
}

const isAgent = (v: unknown): v is AgentSection => typeof v === "string" && (AGENT_SECTIONS as readonly string[]).includes(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function optText(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length > MAX_ADDRESS_TEXT) throw new Error(`${key} must be a string of at most ${MAX_ADDRESS_TEXT} characters`);
  return v;
}

/** A ScanRequest from untrusted JSON, or throws with the reason. */
export function parseScanRequest(v: unknown): ScanRequest {
  if (!isObject(v)) throw new Error("the request is not a JSON object");
  if (!isAgent(v.agent)) throw new Error(`unknown agent ${JSON.stringify(v.agent)}`);
  return { agent: v.agent };
}

/** A MailRequest from untrusted JSON, or throws with the reason. */
export function parseMailRequest(v: unknown): MailRequest {
  if (!isObject(v)) throw new Error("the request is not a JSON object");
  if (!isAgent(v.agent)) throw new Error(`unknown agent ${JSON.stringify(v.agent)}`);
  const out: MailRequest = { agent: v.agent };
  const sender = optText(v, "sender");
  if (sender !== undefined) out.sender = sender;
  for (const key of ["clientAddr", "serverAddr", "helo", "clientName"] as const) {
    const t = optText(v, key);
    if (t !== undefined) out[key] = t;
  }
  if (v.recipients !== undefined) {
    const r = v.recipients;
    if (!Array.isArray(r) || r.length > MAX_RECIPIENTS || !r.every((x) => typeof x === "string" && x.length <= MAX_ADDRESS_TEXT)) {
      throw new Error(`recipients must be at most ${MAX_RECIPIENTS} strings of at most ${MAX_ADDRESS_TEXT} characters`);
    }
    out.recipients = [...r];
  }
  if (v.truncated !== undefined) {
    if (typeof v.truncated !== "boolean") throw new Error("truncated must be a boolean");
    out.truncated = v.truncated;
  }
  return out;
}
