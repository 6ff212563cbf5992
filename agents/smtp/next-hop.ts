/**
 * The SMTP agent's session with the next hop ([smtp] server_addr:server_port), one per client
 * transaction, driven command by command as the client's own commands arrive: MAIL and each RCPT
 * are passed on at once and the next hop's reply goes back to the client, so a recipient the
 * next hop refuses ("550 5.1.1 User unknown", a full mailbox's 452) is refused to the client at
 * RCPT, exactly as if it talked to the next hop directly. DATA is passed on only after the
 * daemon accepted the mail; otherwise the session ends without it and the next hop never sees
 * the mail.
 *
 * Why not nodemailer's SMTP client, which the design card suggests: its API sends MAIL, every
 * RCPT and DATA as one unit at the end, so a recipient the next hop refused could only be
 * logged after the client had been told 250 for it: mail silently lost in the transparent-proxy
 * set-up. Speaking the few commands ourselves is smaller than working around that.
 *
 * Every failure comes back as a reply with code 0 (unreachable, timeout, closed, garbled), never
 * an exception; the caller turns code 0 into its own 451.
 */
import net from "node:net";

/** Time to open the TCP connection (loopback or LAN: seconds at most). */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Time for the greeting: Postfix may delay it (smtpd_delay_open), rarely beyond 30 s. */
export const GREETING_TIMEOUT_MS = 30_000;
/** Longest wait for one reply. The end-of-DATA reply may take long on a busy MTA (RFC 5321
 *  §4.5.3.2.6 gives 10 minutes), but our own client waits for us meanwhile with its timer
 *  running; 120 s still leaves it time to hear our 451. */
export const REPLY_TIMEOUT_MS = 120_000;
/** A NOOP is sent when the session has been idle this long (the client is still sending DATA,
 *  or the daemon is scanning): Postfix's smtpd drops an idle client after 300 s. */
export const KEEPALIVE_MS = 60_000;
/** QUIT's reply is only a courtesy: the transaction is over whatever it says. */
export const QUIT_TIMEOUT_MS = 5_000;
/** Longest reply accepted (all lines together): a greeting or EHLO reply is a few hundred bytes;
 *  more is a broken or hostile peer, and reading on would grow memory without bound. */
export const MAX_REPLY_BYTES = 64 * 1024;

export interface Reply {
  /** 0 when there was no reply: unreachable, timeout, connection closed, garbled */
  code: number;
  /** the reply's text lines without the code ("2.0.0 Ok: queued as 4Xyz") */
  lines: string[];
  /** for code 0: what went wrong */
  error?: string;
}

export interface Hop {
  host: string;
  port: number;
  /** our EHLO name */
  name: string;
}

const failed = (error: string): Reply => ({ code: 0, lines: [], error });

/** The reply as one log or error text: "550 5.1.1 <x@y>: User unknown". */
export function replyText(r: Reply): string {
  return r.code === 0 ? `no reply (${r.error})` : `${r.code} ${r.lines.join(" / ")}`;
}

/** RFC 5321 §4.5.2: a line that starts with "." gets one more; the body must use CRLF line
 *  ends. The result ends with CRLF "." CRLF. */
export function dotStuff(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  if (message.length > 0 && message[0] === 0x2e) parts.push(Buffer.from("."));
  for (let i = message.indexOf("\r\n.", 0, "latin1"); i !== -1; i = message.indexOf("\r\n.", i + 3, "latin1")) {
    parts.push(message.subarray(from, i + 2), Buffer.from("."));
    from = i + 2;
  }
  parts.push(message.subarray(from));
  const endsWithCrlf = message.length >= 2 && message[message.length - 2] === 0x0d && message[message.length - 1] === 0x0a;
  parts.push(Buffer.from(endsWithCrlf || message.length === 0 ? ".\r\n" : "\r\n.\r\n"));
  return Buffer.concat(parts);
}

export class NextHopSession {
  /** the next hop's EHLO keywords, upper case, with their parameters ("SIZE 10240000") */
  readonly keywords: string[] = [];
  private buf = "";
  private pending: ((r: Reply) => void) | undefined;
  private closed = false;
  private closeReason = "connection closed";
  private keepalive: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => this.onData(d));
    sock.on("error", (e) => this.fail(e.message));
    sock.on("close", () => this.fail(this.closeReason));
  }

  /** Connect, read the greeting, EHLO (HELO when EHLO is refused). */
  static async open(hop: Hop): Promise<{ session: NextHopSession } | { reply: Reply }> {
    const sock = net.createConnection({ host: hop.host, port: hop.port });
    const s = new NextHopSession(sock);
    const connected = await new Promise<string | undefined>((resolve) => {
      const t = setTimeout(() => resolve("connection timed out"), CONNECT_TIMEOUT_MS);
      sock.once("connect", () => (clearTimeout(t), resolve(undefined)));
      sock.once("error", (e) => (clearTimeout(t), resolve(e.message)));
    });
    if (connected !== undefined) {
      s.close();
      return { reply: failed(connected) };
    }
    const greeting = await s.read(GREETING_TIMEOUT_MS);
    if (greeting.code !== 220) {
      s.close();
      return { reply: greeting.code === 0 ? greeting : { ...greeting, error: "greeting" } };
    }
    let hello = await s.command(`EHLO ${hop.name}`);
    if (hello.code === 250) s.keywords.push(...hello.lines.slice(1).map((l) => l.toUpperCase()));
    else if (hello.code !== 0) hello = await s.command(`HELO ${hop.name}`);
    if (hello.code !== 250) {
      s.close();
      return { reply: hello };
    }
    s.idle();
    return { session: s };
  }

  /** Whether the next hop announced `keyword` (the first word of an EHLO line). */
  offers(keyword: string): boolean {
    return this.keywords.some((k) => k.split(" ")[0] === keyword);
  }

  /** Runs exchanges one after the other: a keep-alive NOOP and the DATA that follows it must
   *  never wait for replies at the same time, or one would take the other's reply. */
  private serial<T>(exchange: () => Promise<T>): Promise<T> {
    const run = this.queue.then(exchange);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async exchange(bytes: Buffer): Promise<Reply> {
    this.write(bytes);
    const r = await this.read(REPLY_TIMEOUT_MS);
    this.idle();
    return r;
  }

  /** One command line (no CRLF) and its reply. */
  command(line: string): Promise<Reply> {
    if (/[\r\n]/.test(line)) return Promise.resolve(failed("a command may not hold CR or LF"));
    return this.serial(() => this.exchange(Buffer.from(`${line}\r\n`, "utf8")));
  }

  /** DATA, then the message (CRLF line ends, not dot-stuffed), then the end-of-data reply. A
   *  reply to DATA other than 354 is returned as it is (never a 2xx: that would read as
   *  "delivered" for a mail that was not sent). */
  data(message: Buffer): Promise<Reply> {
    return this.serial(async () => {
      const go = await this.exchange(Buffer.from("DATA\r\n"));
      if (go.code !== 354) return go.code >= 200 && go.code < 400 ? failed(`DATA answered ${replyText(go)}`) : go;
      return this.exchange(dotStuff(message));
    });
  }

  /** QUIT without waiting long for its reply, then close. */
  async quit(): Promise<void> {
    await this.serial(async () => {
      if (!this.closed) {
        this.write(Buffer.from("QUIT\r\n"));
        await this.read(QUIT_TIMEOUT_MS);
      }
    });
    this.close();
  }

  close(): void {
    clearTimeout(this.keepalive);
    this.closeReason = "closed by us";
    this.closed = true;
    this.sock.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private write(b: Buffer) {
    clearTimeout(this.keepalive);
    if (!this.closed) this.sock.write(b);
  }

  /** After each reply, keep the session alive with NOOP. The timer is armed only once a reply
   *  is in and cleared by every write, so it never fires with an exchange in flight. */
  private idle() {
    clearTimeout(this.keepalive);
    if (this.closed) return;
    this.keepalive = setTimeout(() => {
      if (!this.closed) void this.command("NOOP");
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  private read(timeoutMs: number): Promise<Reply> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending = undefined;
        this.closeReason = "timed out";
        this.sock.destroy();
        resolve(failed(`no reply within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending = (r) => {
        clearTimeout(t);
        resolve(r);
      };
      this.take();
    });
  }

  private onData(d: string) {
    this.buf += d;
    if (this.buf.length > MAX_REPLY_BYTES) return this.fail(`reply longer than ${MAX_REPLY_BYTES} bytes`);
    this.take();
  }

  /** Hand a complete reply in the buffer to the waiting reader. */
  private take() {
    if (!this.pending) return;
    const lines: string[] = [];
    let at = 0;
    for (;;) {
      const nl = this.buf.indexOf("\n", at);
      if (nl === -1) {
        if (this.closed) this.fail(this.closeReason);
        return;
      }
      const line = this.buf.slice(at, nl).replace(/\r$/, "");
      at = nl + 1;
      const m = /^([2-5]\d\d)([ -])(.*)$/.exec(line) ?? /^([2-5]\d\d)()$/.exec(line);
      if (!m) return this.fail(`garbled reply line ${JSON.stringify(line.slice(0, 80))}`);
      lines.push(m[3] ?? "");
      if (m[2] !== "-") {
        this.buf = this.buf.slice(at);
        const done = this.pending;
        this.pending = undefined;
        done({ code: Number(m[1]), lines });
        return;
      }
    }
  }

  private fail(error: string) {
    this.closed = true;
    clearTimeout(this.keepalive);
    this.sock.destroy();
    const done = this.pending;
    this.pending = undefined;
    done?.(failed(error));
  }
}

/** The next hop's EHLO keyword lines (as it wrote them, without the greeting line), read once
 *  at start-up to decide what the agent offers its own clients; or why they could not be read. */
export async function probeEhlo(hop: Hop): Promise<{ lines: string[] } | { error: string }> {
  const opened = await NextHopSession.open(hop);
  if ("reply" in opened) return { error: replyText(opened.reply) };
  const lines = [...opened.session.keywords];
  await opened.session.quit();
  return { lines };
}
