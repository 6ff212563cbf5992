/**
 * The SMTP agent's side towards the next hop ([smtp] server_addr:server_port), with nodemailer's
 * SMTP client: one connection per relayed mail (the agent holds no idle connections, so a
 * restarted Postfix is picked up at once), plus an EHLO probe at start-up that tells the agent
 * which keywords it may offer its own clients. Every failure comes back as a value, never an
 * exception: the caller answers 451 (or the downstream's own 5xx).
 */
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";

/** Time to open the TCP connection to the next hop (loopback/LAN: seconds at most). */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Time for the next hop's greeting: Postfix may delay it (smtpd_delay_open), rarely > 30 s. */
export const GREETING_TIMEOUT_MS = 30_000;
/** Longest silence of the next hop during one command or the DATA: Postfix's own
 *  smtp_data_done_timeout is 600 s, but our client is waiting with its own (usually 600 s at
 *  end-of-DATA, RFC 5321 §4.5.3.2.6) timer running; 120 s leaves it time to hear our 451. */
export const SOCKET_TIMEOUT_MS = 120_000;

export interface Hop {
  host: string;
  port: number;
  /** our EHLO name */
  name: string;
}

function connection(hop: Hop): RelayConnection {
  return new RelayConnection({
    host: hop.host,
    port: hop.port,
    name: hop.name,
    secure: false,
    ignoreTLS: true, // loopback/LAN hop; STARTTLS towards it is not part of this slice
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    logger: false,
  });
}

/** The next hop's EHLO keyword lines (without the greeting line), or an error. */
export function probeEhlo(hop: Hop): Promise<{ lines: string[] } | { error: string }> {
  return new Promise((resolve) => {
    const c = connection(hop);
    let done = false;
    const finish = (r: { lines: string[] } | { error: string }) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    c.on("error", (e: Error) => finish({ error: e.message }));
    c.connect((err) => {
      if (err) return finish({ error: err.message });
      // nodemailer keeps the EHLO reply lines here; not in its typings
      const lines = (c as unknown as { _ehloLines?: string[] })._ehloLines ?? [];
      c.quit();
      finish({ lines: [...lines] });
    });
  });
}

export interface RelayRecipient {
  address: string;
  /** RFC 3461 NOTIFY values as the client gave them (already checked by smtp-server) */
  notify?: string[];
  /** RFC 3461 ORCPT, decoded ("rfc822;user@example.org") */
  orcpt?: string;
}

export interface RelayEnvelope {
  from: string;
  to: RelayRecipient[];
  use8BitMime: boolean;
  /** the client sent MAIL FROM ... SMTPUTF8 (RFC 6531): pass it on, even for ASCII addresses,
   *  since it also covers UTF-8 in the header fields */
  smtpUtf8: boolean;
  /** RFC 3461 RET and ENVID (ENVID decoded) */
  dsn?: { ret?: string; envid?: string };
}

/** RFC 3461 §4: xtext. Every octet outside "!".."~", and "+" and "=", as "+HH". */
export function encodeXtext(value: string): string {
  let out = "";
  for (const b of Buffer.from(value, "utf8")) {
    out += b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d ? `+${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b);
  }
  return out;
}

/** RCPT TO parameters for one recipient, with a leading space ("" for none). */
export function dsnRcptArgs(r: RelayRecipient): string {
  const args: string[] = [];
  if (r.notify?.length) args.push(`NOTIFY=${r.notify.join(",")}`);
  if (r.orcpt) args.push(`ORCPT=${encodeXtext(r.orcpt)}`);
  return args.length ? ` ${args.join(" ")}` : "";
}

/**
 * nodemailer's client with the two things it cannot be told through its API (pinned nodemailer
 * 6.10; the agent tests would notice a change in these internals, since they check the next
 * hop's envelope):
 * - NOTIFY/ORCPT per recipient: nodemailer puts one set of DSN parameters on every RCPT, but
 *   each recipient has its own (RFC 3461 §4.1). It pushes the recipient it is about to send on
 *   `_recipientQueue` just before it asks `_getDsnRcptToArgs()` for the parameters.
 * - SMTPUTF8 for ASCII addresses: nodemailer adds it only for non-ASCII addresses.
 * Both are added only when the next hop announced DSN / SMTPUTF8 (we offer them only then).
 */
class RelayConnection extends SMTPConnection {
  rcptArgs = new Map<string, string>();
  forceSmtpUtf8 = false;

  _getDsnRcptToArgs(): string {
    const self = this as unknown as { _recipientQueue: string[]; _supportedExtensions: string[] };
    if (!self._supportedExtensions.includes("DSN")) return "";
    return this.rcptArgs.get(self._recipientQueue[self._recipientQueue.length - 1]) ?? "";
  }

  _sendCommand(line: string): void {
    const self = this as unknown as { _supportedExtensions: string[] };
    let out = line;
    if (this.forceSmtpUtf8 && /^MAIL FROM:/i.test(line) && !/ SMTPUTF8(?: |$)/i.test(line) && self._supportedExtensions.includes("SMTPUTF8")) {
      out = `${line} SMTPUTF8`;
    }
    (SMTPConnection.prototype as unknown as { _sendCommand(l: string): void })._sendCommand.call(this, out);
  }
}

/** What the next hop said: `accepted` with its DATA reply line, or a failure with its reply
 *  when it gave one (`code` 0 when it gave none: unreachable, timeout, cut connection). */
export type RelayResult =
  | { ok: true; reply: string; rejected: string[] }
  | { ok: false; code: number; reply: string; error: string };

/** Relay one message; `message` must use CRLF line ends and must not be dot-stuffed. */
export function relay(hop: Hop, envelope: RelayEnvelope, message: Buffer): Promise<RelayResult> {
  return new Promise((resolve) => {
    const c = connection(hop);
    let done = false;
    const finish = (r: RelayResult) => {
      if (done) return;
      done = true;
      if (r.ok) c.quit();
      else c.close();
      resolve(r);
    };
    const fail = (e: SMTPConnection.SMTPError | Error) => {
      const se = e as SMTPConnection.SMTPError;
      const reply = typeof se.response === "string" ? se.response : "";
      finish({ ok: false, code: /^[245]\d\d/.test(reply) ? Number(reply.slice(0, 3)) : 0, reply, error: e.message });
    };
    c.on("error", fail);
    c.connect((err) => {
      if (err) return fail(err);
      for (const r of envelope.to) c.rcptArgs.set(r.address, dsnRcptArgs(r));
      c.forceSmtpUtf8 = envelope.smtpUtf8;
      // nodemailer checks RET itself (FULL or HDRS, as smtp-server did) and xtext-encodes ENVID
      const dsn = envelope.dsn && (envelope.dsn.ret || envelope.dsn.envid) ? (envelope.dsn as SMTPConnection.DSNOptions) : undefined;
      const to = envelope.to.map((r) => r.address);
      c.send({ from: envelope.from, to, use8BitMime: envelope.use8BitMime, size: message.length, dsn }, message, (e, info) => {
        if (e) return fail(e);
        finish({ ok: true, reply: String(info.response), rejected: (info.rejected ?? []).map(String) });
      });
    });
  });
}
