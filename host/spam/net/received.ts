/**
 * The client address and HELO name from the Received header fields our MTA added, for callers
 * that have no SMTP connection of their own (spamd, `bulwark spam check`) or whose connection
 * comes from the local MTA on loopback (a Postfix content_filter). Pure code, no I/O.
 *
 * Only the top of the header is trusted: the topmost Received field was written by the MTA that
 * handed us the mail; fields below it were written by hosts we know nothing about and may be
 * forged. Fields whose client is on loopback are local hops (a content filter, a re-injection) and
 * are passed over; the first field with another client address is the answer. A topmost field
 * without a parseable `from` clause (local submission, `by host (Postfix, from userid 1000)`)
 * ends the search with no answer, as anything below it came from elsewhere.
 *
 * Forms understood (IPv6 as `[IPv6:2001:db8::1]` or `[2001:db8::1]`, optional `:port` after `]`):
 *   Postfix / Sendmail  from HELO (RDNS [1.2.3.4])      from HELO (unknown [1.2.3.4])
 *                       from HELO ([1.2.3.4])           from HELO (user@RDNS [1.2.3.4] (may be forged))
 *   Exim                from RDNS ([1.2.3.4] helo=HELO)  from [1.2.3.4] (helo=HELO)  from RDNS ([1.2.3.4]:25)
 *   qmail-like          from unknown (HELO helo) (1.2.3.4)
 */
import { isIP } from "node:net";
import { headerBlock } from "./header-block.js";
import { isLoopbackIp, unmapIpv4 } from "./ip.js";

/** Bytes of the raw mail searched for the header; Received fields are at the very top, and a
 *  header larger than this is abuse, not mail. */
export const RECEIVED_SCAN_BYTES = 64 * 1024;
/** Received fields looked at, from the top: enough for a few local hops (content filter,
 *  re-injection) before the one that saw the client. */
export const MAX_RECEIVED_FIELDS = 5;
/** A Received field value is cut to this many characters before the patterns run on it. */
export const MAX_RECEIVED_CHARS = 2048;

/** Shaped like the SpamContext fields it stands in for. */
export interface ReceivedClient {
  clientAddr: string;
  helo?: string;
  /** the reverse DNS name the MTA found, when it wrote one ("unknown" is left out) */
  clientName?: string;
}

/** The Received field values at the top of the header (unfolded, at most MAX_RECEIVED_FIELDS). */
export function topReceivedFields(raw: Buffer): string[] {
  const lines = headerBlock(raw, RECEIVED_SCAN_BYTES).split(/\r?\n/);
  const fields: string[] = [];
  let current: string | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (current !== undefined && current.length < MAX_RECEIVED_CHARS) current += " " + line.trim();
      continue;
    }
    if (current !== undefined) { fields.push(current); current = undefined; }
    if (fields.length >= MAX_RECEIVED_FIELDS) break;
    if (/^received:/i.test(line)) current = line.slice(line.indexOf(":") + 1).trim();
  }
  if (current !== undefined && fields.length < MAX_RECEIVED_FIELDS) fields.push(current);
  return fields.map((f) => f.slice(0, MAX_RECEIVED_CHARS));
}

/** The client of one Received field value, or undefined when it has no from clause with an address. */
export function parseReceivedFrom(value: string): ReceivedClient | undefined {
  const v = value.slice(0, MAX_RECEIVED_CHARS);
  const from = /^\s*from\s+(\S+)(.*?)(?:\s+by\s|;|$)/is.exec(v);
  if (!from) return undefined;
  const first = from[1]!;
  const rest = from[2] ?? "";
  let addr: string | undefined;
  let rdns: string | undefined;
  // "(rdns [ip])", "([ip] helo=x)", "(user@rdns [ip] (may be forged))"
  const bracketed = /(?:\(|\s)(?:[^\s()[\]]*@)?([^\s()[\]]*)\s*\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/.exec(rest);
  if (bracketed) {
    addr = bracketed[2];
    if (bracketed[1] && bracketed[1].toLowerCase() !== "unknown") rdns = bracketed[1];
  } else {
    const firstBracket = /^\[(?:IPv6:)?([0-9A-Fa-f:.]+)\](?::\d+)?$/.exec(first); // Exim "from [ip] (helo=x)"
    const paren = /\(\s*(?:IPv6:)?([0-9A-Fa-f:.]+)\s*\)/.exec(rest); // qmail "(1.2.3.4)"
    addr = firstBracket?.[1] ?? paren?.[1];
  }
  if (!addr || isIP(addr) === 0) return undefined;
  let helo: string | undefined;
  let clientName = rdns;
  const heloKw = /(?:^|[\s(])helo[= ]\s*([^\s()]+)/i.exec(rest);
  if (heloKw) {
    // Exim and qmail name the HELO after a keyword; the first word is then the reverse DNS name
    helo = heloKw[1];
    if (!clientName && !first.startsWith("[") && first.toLowerCase() !== "unknown") clientName = first;
  } else if (!first.startsWith("[")) {
    helo = first;
  }
  const out: ReceivedClient = { clientAddr: unmapIpv4(addr) };
  if (helo) out.helo = helo;
  if (clientName) out.clientName = clientName;
  return out;
}

/** The client our MTA saw, from the top Received fields (see the file comment), or undefined. */
export function clientFromReceived(raw: Buffer): ReceivedClient | undefined {
  for (const field of topReceivedFields(raw)) {
    const client = parseReceivedFrom(field);
    if (!client) return undefined;
    if (!isLoopbackIp(client.clientAddr)) return client;
  }
  return undefined;
}
