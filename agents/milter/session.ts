/**
 * One milter connection from an MTA (Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER): option
 * negotiation, the envelope and the message as the MTA hands them over, and at end of message
 * the daemon's decision translated with wireOf(decision, "milter").
 * Talks to: the MTA on `sock`, and the daemon through `opts.judge` (zBWMAIL). Writes: nothing.
 * On failure: any daemon failure, timeout, malformed packet or internal error answers
 * SMFIR_TEMPFAIL (the MTA answers its client 4xx and keeps the mail); a framing error or a
 * malformed command also closes the connection, because the byte stream can no longer be trusted.
 */
import type { Socket } from "node:net";
import { sanitizeHeaderValue } from "../../host/policy/headers.js";
import { findSubject, MAX_SUBJECT_VALUE, ownFieldIndexes } from "../../host/spam/mark.js";
import { replyTextWithReason, wireOf } from "../../host/policy/wire.js";
import { type MailRequest, MAX_ADDRESS_TEXT, MAX_RECIPIENTS } from "../../host/service/protocol.js";
import type { MailAnswer } from "../common/daemon-client.js";
import { type RecipientIdentity, RecipientSplitter, SPLIT_REPLY } from "../common/recipient-split.js";
import {
  SMFI_PROT_VERSION, SMFIF_ADDHDRS, SMFIF_CHGBODY, SMFIF_CHGHDRS, SMFIF_QUARANTINE, SMFIP_NODATA, SMFIP_NOUNKNOWN,
  SMFIP_NR_CONN, SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_HDR, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT,
  SMFIP_NR_UNKN, SMFIP_NR_BODY,
} from "./constants.js";
import { type DecodeResult, MilterDecoder, type MilterCommand } from "./protocol.js";
import {
  encodeAddHeader, encodeChgHeader, encodeContinue, encodeDiscard, encodeOptneg, encodeProgress, encodeReplBody, encodeReplyCode,
  encodeTempfail,
} from "./replies.js";

/**
 * Keepalive while the daemon scans: Sendmail's default filter read timeout (F=T, R:) is 10 s and
 * Postfix's milter_content_timeout is 300 s; SMFIR_PROGRESS resets both, so every 5 s keeps even
 * Sendmail's shortest default from giving up on a long scan.
 */
export const PROGRESS_INTERVAL_MS = 5_000;
/**
 * A milter connection lives as long as the MTA's SMTP session and sits idle while that client
 * types. Sendmail's default SMTP command timeout is 1 h (Postfix's smtpd_timeout is 300 s), so
 * only a connection silent for longer than that is dead; closing it then frees its socket.
 */
export const IDLE_TIMEOUT_MS = 65 * 60_000;
/** Actions we ask for, when offered: header fields (X-Bulwark-*), the cleaned body, changed
 *  header fields (the tagged Subject of spam, deleting forged X-Bulwark-* fields), and
 *  quarantine (reserved for the MTA-side hold; the daemon keeps its own quarantine today). */
const WANTED_ACTIONS = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
/** Steps we do not need (DATA, unknown commands) and replies we do not send (HELO and headers:
 *  one round trip per header line saved). Each is asked only when the MTA offers it. HELO is
 *  taken (for the daemon's log and the anti-spam checks) but never answered when the MTA allows. */
const WANTED_PROTOCOL = SMFIP_NODATA | SMFIP_NOUNKNOWN | SMFIP_NR_HDR | SMFIP_NR_HELO;

/** What keeps recipients with different settings out of one message (agents/common/recipient-split.ts). */
export interface RecipientKeys {
  keyOf(who: RecipientIdentity): string | undefined;
}

export interface SessionOptions {
  /** absent: recipients are never split (the daemon then applies the strictest decision) */
  splitter?: RecipientKeys;
  /** Ask the daemon (daemonMail bound to the socket and limits). Never rejects. */
  judge(req: MailRequest, mail: Buffer): Promise<MailAnswer>;
  /** max_file_size: bytes of one mail held here; past it the mail is sent truncated (not scanned). */
  maxMailBytes: number;
  log(line: string): void;
}

/** Per-message state; reset by MAIL, ABORT, QUIT_NC and after each end of message. */
class Message {
  sender: string | undefined;
  recipients: string[] = [];
  chunks: Buffer[] = [];
  stored = 0;
  truncated = false;
  headersDone = false;
  queueId = "";
  /** the options key of the first accepted recipient (RecipientSplitter) */
  firstKey: string | undefined;

  constructor(private readonly max: number) {}

  /** Hold `b` up to the limit; past it keep nothing more and remember the mail is cut. */
  add(b: Buffer): void {
    if (this.truncated || b.length === 0) return;
    const room = this.max - this.stored;
    if (b.length > room) {
      this.truncated = true;
      if (room > 0) { this.chunks.push(Buffer.from(b.subarray(0, room))); this.stored += room; }
      return;
    }
    this.chunks.push(Buffer.from(b)); // copy: a decoder chunk may share a larger socket buffer
    this.stored += b.length;
  }

  endHeaders(): void {
    if (!this.headersDone) { this.headersDone = true; this.add(Buffer.from("\r\n")); }
  }
}

/** "<a@b>" -> "a@b"; the null sender "<>" -> "". */
const unbracket = (s: string): string => s.trim().replace(/^<(.*)>$/s, "$1");

/** The body of a whole mail: what follows the header block's empty line, with CRLF line ends
 *  (REPLBODY data is in SMTP form). A mail without an empty line has no body. */
export function bodyOf(mail: Buffer): Buffer {
  const text = mail.toString("latin1");
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return Buffer.alloc(0);
  return Buffer.from(text.slice(m.index + m[0].length).replace(/\r?\n/g, "\r\n"), "latin1");
}

/** Serve one MTA connection until it quits, fails or goes idle. */
export function serveMilterConnection(sock: Socket, opts: SessionOptions): void {
  const decoder = new MilterDecoder();
  let actions = 0;
  let protocol = 0;
  let clientAddr: string | undefined;
  /** the client's host name as the MTA found it, and its HELO name (for the daemon's log and
   *  anti-spam), each bounded like an address */
  let clientName: string | undefined;
  let helo: string | undefined;
  /** The last macro packet for each command code ("M", "R", ...), consumed by that command. */
  let macros = new Map<string, Map<string, string>>();
  let msg = new Message(opts.maxMailBytes);
  const queue: DecodeResult[] = [];
  let running = false;
  let closed = false;

  const who = () => `milter ${sock.remoteAddress ?? "unix"}${msg.queueId ? ` ${msg.queueId}` : ""}`;
  const send = (...packets: Buffer[]) => { if (!closed && !sock.destroyed) for (const p of packets) sock.write(p); };
  const reply = (noReplyFlag: number, packet: Buffer = encodeContinue()) => { if (!(protocol & noReplyFlag)) send(packet); };
  const close = () => { closed = true; queue.length = 0; sock.end(); };

  sock.setTimeout(IDLE_TIMEOUT_MS);
  sock.on("timeout", () => {
    if (running) return; // waiting for the daemon, not idle
    opts.log(`${who()}: idle for ${IDLE_TIMEOUT_MS} ms; closing`);
    sock.destroy();
  });
  sock.on("error", (e) => opts.log(`${who()}: connection error: ${e.message}`));
  sock.on("close", () => { closed = true; queue.length = 0; });
  sock.on("data", (d: Buffer) => {
    queue.push(...decoder.push(d));
    void drain();
  });

  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    sock.pause(); // at most one socket read is queued while a command (an EOM) is in progress
    try {
      while (queue.length && !closed) await handle(queue.shift()!);
    } catch (e) {
      opts.log(`${who()}: internal error: ${(e as Error)?.stack ?? e}; tempfail`);
      send(encodeTempfail());
      close();
    } finally {
      running = false;
      if (!closed) sock.resume();
    }
  }

  async function handle(r: DecodeResult): Promise<void> {
    if (!r.ok) {
      opts.log(`${who()}: ${r.error.message}; tempfail and close`);
      send(encodeTempfail());
      close();
      return;
    }
    const c: MilterCommand = r.command;
    switch (c.kind) {
      case "optneg": {
        if (c.version < 2) { opts.log(`${who()}: milter protocol version ${c.version} is too old; closing`); close(); return; }
        actions = c.actions & WANTED_ACTIONS;
        protocol = c.protocol & WANTED_PROTOCOL;
        send(encodeOptneg({ version: Math.min(c.version, SMFI_PROT_VERSION), actions, protocol }));
        return;
      }
      case "macro": {
        // keep only the macros used here: a peer cannot make this map grow
        const kept = new Map<string, string>();
        for (const [name, value] of c.macros) {
          if (["i", "{client_addr}", "{mail_addr}", "{rcpt_addr}"].includes(name) && value.length <= MAX_ADDRESS_TEXT) kept.set(name, value);
        }
        macros.set(c.forCommand, kept);
        const id = kept.get("i");
        if (id) msg.queueId = id;
        return;
      }
      case "connect":
        clientAddr = c.family === "inet" || c.family === "inet6" ? c.address : macros.get("C")?.get("{client_addr}");
        clientName = c.hostname && c.hostname.length <= MAX_ADDRESS_TEXT ? c.hostname : undefined;
        macros.delete("C");
        reply(SMFIP_NR_CONN);
        return;
      case "helo":
        helo = c.name.length <= MAX_ADDRESS_TEXT ? c.name : undefined;
        reply(SMFIP_NR_HELO);
        return;
      case "mail": {
        msg = new Message(opts.maxMailBytes);
        const m = macros.get("M");
        msg.queueId = m?.get("i") ?? "";
        msg.sender = m?.get("{mail_addr}") ?? unbracket(c.sender);
        macros.delete("M");
        reply(SMFIP_NR_MAIL);
        return;
      }
      case "rcpt": {
        const rcpt = macros.get("R")?.get("{rcpt_addr}") ?? unbracket(c.recipient);
        macros.delete("R");
        if (msg.recipients.length >= MAX_RECIPIENTS || rcpt.length > MAX_ADDRESS_TEXT) {
          // the daemon takes no more; this recipient is retried later by the MTA
          send(encodeTempfail());
          return;
        }
        const key = opts.splitter?.keyOf({ sender: msg.sender ?? "", recipient: rcpt, clientAddr });
        if (msg.recipients.length > 0 && !RecipientSplitter.fits(msg.firstKey, key)) {
          opts.log(`${who()}: split: <${rcpt}> has other settings than the message's first recipient; asked to send it separately`);
          send(encodeReplyCode(String(SPLIT_REPLY.code), SPLIT_REPLY.enhanced, SPLIT_REPLY.text));
          return;
        }
        if (msg.recipients.length === 0) msg.firstKey = key;
        msg.recipients.push(rcpt);
        reply(SMFIP_NR_RCPT);
        return;
      }
      case "data": reply(SMFIP_NR_DATA); return;
      case "header":
        // header values may carry folded lines with bare LF; the mail is held in SMTP form (CRLF)
        msg.add(Buffer.from(`${c.name}: ${c.value.replace(/\r?\n/g, "\r\n")}\r\n`, "latin1"));
        reply(SMFIP_NR_HDR);
        return;
      case "eoh": msg.endHeaders(); reply(SMFIP_NR_EOH); return;
      case "body": msg.endHeaders(); msg.add(c.chunk); reply(SMFIP_NR_BODY); return;
      case "bodyeob": msg.endHeaders(); msg.add(c.chunk); await endOfMessage(); return;
      case "abort": msg = new Message(opts.maxMailBytes); return;
      case "quit_nc":
        msg = new Message(opts.maxMailBytes);
        macros = new Map();
        clientAddr = clientName = helo = undefined;
        return;
      case "quit": close(); return;
      case "unknown": reply(SMFIP_NR_UNKN); return;
    }
  }

  async function endOfMessage(): Promise<void> {
    const m = msg;
    msg = new Message(opts.maxMailBytes);
    msg.queueId = m.queueId;
    const req: MailRequest = { agent: "smfi", recipients: m.recipients };
    if (m.sender !== undefined) req.sender = m.sender;
    if (clientAddr) req.clientAddr = clientAddr;
    if (clientName) req.clientName = clientName;
    if (helo) req.helo = helo;
    if (m.truncated) req.truncated = true;
    const progress = setInterval(() => send(encodeProgress()), PROGRESS_INTERVAL_MS);
    let answer: MailAnswer;
    const held = Buffer.concat(m.chunks, m.stored);
    try {
      answer = await opts.judge(req, held);
    } finally {
      clearInterval(progress);
    }
    const id = m.queueId ? ` ${m.queueId}` : "";
    if (!answer.ok) {
      opts.log(`milter${id}: the daemon did not decide (${answer.error}); tempfail`);
      send(encodeTempfail());
      return;
    }
    const { result } = answer;
    const wire = wireOf(result, "milter");
    if (wire.command === "d") { send(encodeDiscard()); return; }
    if (wire.command === "y") {
      const parts = /^([45]\d\d) ([45]\.\d{1,3}\.\d{1,3}) (.*)$/.exec(wire.reply ?? "");
      if (!parts) { send(encodeTempfail()); return; }
      // as the SMTP agent says it: a reject names the signature, a defer says nothing more
      const text = replyTextWithReason({ code: Number(parts[1]), enhanced: parts[2], text: parts[3] }, result.action === "reject" ? result.reason : undefined);
      send(encodeReplyCode(parts[1], parts[2], text));
      return;
    }
    // accept: header fields, the rewritten body, then continue
    const out: Buffer[] = [];
    // incoming X-Bulwark-* fields are forged (or an earlier hop's): deleted (an empty
    // CHGHEADER value), last first so the indexes stay right, before ours are added
    if (actions & SMFIF_CHGHDRS) {
      for (const f of ownFieldIndexes(held)) out.push(encodeChgHeader(f.index, f.name, ""));
    }
    if (actions & SMFIF_ADDHDRS) {
      for (const h of result.headers) out.push(encodeAddHeader(h.name, sanitizeHeaderValue(h.value)));
    }
    if (result.rewritten) {
      // Never let the MTA deliver the uncleaned mail as if it had been cleaned.
      if (!(actions & SMFIF_CHGBODY) || m.truncated || !answer.mail) {
        opts.log(`milter${id}: the daemon rewrote the mail but the body cannot be replaced (${!(actions & SMFIF_CHGBODY) ? "the MTA did not allow SMFIF_CHGBODY" : "the mail was held only in part"}); tempfail`);
        send(encodeTempfail());
        return;
      }
      out.push(...encodeReplBody(bodyOf(answer.mail)));
    }
    if (result.subject !== undefined) {
      // the subject template applied to spam: replace the first Subject field, or add one
      if (actions & SMFIF_CHGHDRS) {
        // only what would break the packet or the header goes; 8-bit subject bytes stay, as
        // the SMTP and pipe agents keep them
        const value = result.subject.replace(/[\r\n\0]/g, " ").slice(0, MAX_SUBJECT_VALUE);
        out.push(findSubject(held) ? encodeChgHeader(1, "Subject", value) : encodeAddHeader("Subject", value));
      } else {
        opts.log(`milter${id}: the MTA did not allow SMFIF_CHGHDRS; the subject is left untagged`);
      }
    }
    send(...out, encodeContinue());
  }
}
