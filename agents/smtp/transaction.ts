/**
 * The SMTP agent's open next-hop sessions, one per client transaction (agents/smtp/next-hop.ts),
 * and the ESMTP parameters carried from the client's MAIL/RCPT to the next hop's. A transaction
 * is identified by smtp-server's envelope object, which it replaces at every RSET, HELO/EHLO
 * and end of DATA: a next-hop session whose envelope is gone is closed at the client's next
 * MAIL or when the client leaves.
 */
import type { SMTPServerAddress, SMTPServerSession } from "smtp-server";
import { type Hop, NextHopSession, type Reply } from "./next-hop.js";

/** RFC 3461 §4: xtext. Every octet outside "!".."~", and "+" and "=", as "+HH". */
export function encodeXtext(value: string): string {
  let out = "";
  for (const b of Buffer.from(value, "utf8")) {
    out += b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d ? `+${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b);
  }
  return out;
}

/** XFORWARD attribute values are xtext too, at most 255 characters (XFORWARD_README). */
const MAX_XFORWARD_VALUE = 255;

type Args = Record<string, string | boolean> | false | undefined;
const argText = (args: Args, key: string): string | undefined => {
  const v = args ? args[key] : undefined;
  return typeof v === "string" && v !== "" ? v : undefined;
};

/** MAIL FROM parameters for the next hop: those the client gave that the next hop offers. */
export function mailParameters(session: SMTPServerSession, mail: SMTPServerAddress, hop: NextHopSession): string[] {
  const env = session.envelope as SMTPServerSession["envelope"] & { smtpUtf8?: boolean; dsn?: { ret?: string; envid?: string } };
  const out: string[] = [];
  const body = argText(mail.args as Args, "BODY")?.toUpperCase();
  if (body === "8BITMIME" && hop.offers("8BITMIME")) out.push("BODY=8BITMIME");
  if (env.smtpUtf8 && hop.offers("SMTPUTF8")) out.push("SMTPUTF8");
  const size = argText(mail.args as Args, "SIZE");
  if (size && /^\d{1,15}$/.test(size) && hop.offers("SIZE")) out.push(`SIZE=${size}`);
  if (hop.offers("DSN")) {
    if (env.dsn?.ret) out.push(`RET=${env.dsn.ret}`);
    if (env.dsn?.envid) out.push(`ENVID=${encodeXtext(env.dsn.envid)}`);
  }
  return out;
}

/** RCPT TO parameters for the next hop: the recipient's own NOTIFY and ORCPT (RFC 3461). */
export function rcptParameters(rcpt: SMTPServerAddress, hop: NextHopSession): string[] {
  const dsn = (rcpt as SMTPServerAddress & { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
  if (!dsn || !hop.offers("DSN")) return [];
  const out: string[] = [];
  if (dsn.notify?.length) out.push(`NOTIFY=${dsn.notify.join(",")}`);
  if (dsn.orcpt) out.push(`ORCPT=${encodeXtext(dsn.orcpt)}`);
  return out;
}

/** The XFORWARD line telling the next hop who the real client is (when it offers XFORWARD,
 *  i.e. trusts us): the client's address, the MTA's name for it, its HELO name. */
export function xforwardLine(session: SMTPServerSession, hop: NextHopSession): string | undefined {
  if (!hop.offers("XFORWARD")) return undefined;
  const offered = new Set(hop.keywords.find((k) => k.startsWith("XFORWARD"))!.split(" ").slice(1));
  const xf = session.xForward;
  const values: Array<[string, string | undefined]> = [
    ["ADDR", session.remoteAddress],
    ["NAME", typeof xf?.get("NAME") === "string" ? String(xf.get("NAME")) : "[UNAVAILABLE]"],
    ["HELO", session.hostNameAppearsAs ? String(session.hostNameAppearsAs) : undefined],
    ["PROTO", typeof xf?.get("PROTO") === "string" ? String(xf.get("PROTO")) : session.transmissionType?.startsWith("E") ? "ESMTP" : "SMTP"],
  ];
  const attrs = values
    .filter(([k, v]) => v !== undefined && v !== "" && offered.has(k))
    .map(([k, v]) => `${k}=${encodeXtext(v!.slice(0, MAX_XFORWARD_VALUE))}`);
  return attrs.length ? `XFORWARD ${attrs.join(" ")}` : undefined;
}

interface Open {
  envelope: object;
  hop: NextHopSession;
}

export class Transactions {
  private readonly open = new Map<string, Open>();

  constructor(private readonly hop: Hop) {}

  /** Start the transaction's next-hop session: connect, XFORWARD, MAIL. On any reply but 250 the
   *  session is closed again and the reply is returned for the client. */
  async begin(session: SMTPServerSession, mail: SMTPServerAddress): Promise<Reply> {
    await this.end(session);
    const opened = await NextHopSession.open(this.hop);
    if ("reply" in opened) return opened.reply;
    const hop = opened.session;
    const xf = xforwardLine(session, hop);
    // a next hop that announces XFORWARD but refuses ours is only less informed: go on
    if (xf) await hop.command(xf);
    const params = mailParameters(session, mail, hop);
    const r = await hop.command(`MAIL FROM:<${mail.address}>${params.length ? ` ${params.join(" ")}` : ""}`);
    if (r.code !== 250) {
      await hop.quit();
      return r;
    }
    this.open.set(session.id, { envelope: session.envelope, hop });
    return r;
  }

  /** The next-hop session of the session's current transaction, if one is open. */
  current(session: SMTPServerSession): NextHopSession | undefined {
    const o = this.open.get(session.id);
    return o && o.envelope === session.envelope && !o.hop.isClosed ? o.hop : undefined;
  }

  async rcpt(session: SMTPServerSession, rcpt: SMTPServerAddress): Promise<Reply> {
    const hop = this.current(session);
    if (!hop) return { code: 0, lines: [], error: "no next-hop session for this transaction" };
    const params = rcptParameters(rcpt, hop);
    return hop.command(`RCPT TO:<${rcpt.address}>${params.length ? ` ${params.join(" ")}` : ""}`);
  }

  /** End the session's next-hop session (QUIT), whatever state it is in. */
  async end(session: SMTPServerSession): Promise<void> {
    const o = this.open.get(session.id);
    if (!o) return;
    this.open.delete(session.id);
    await o.hop.quit();
  }

  /** Close every session at once (the agent is stopping). */
  closeAll(): void {
    for (const o of this.open.values()) o.hop.close();
    this.open.clear();
  }
}
