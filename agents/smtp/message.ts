/**
 * One message through the SMTP agent, from end of DATA to the reply: read the DATA (bounded by
 * max_file_size), normalise line ends, ask the daemon (zBWMAIL), and on accept relay to the next
 * hop and pass its reply back. The answer is either the text of a 250 (smtp-server adds the
 * code) or an Error carrying responseCode; replies come from host/policy/wire.ts except the next
 * hop's own.
 */
import type { Readable } from "node:stream";
import type { SMTPServerSession } from "smtp-server";
import { formatHeaderFields } from "../../host/policy/headers.js";
import { setSubject, stripOwnFields } from "../../host/spam/mark.js";
import { replyTextWithReason, wireOf } from "../../host/policy/wire.js";
import { MAX_REWRITE_GROWTH } from "../../host/service/protocol.js";
import { daemonMail } from "../common/daemon-client.js";
import { type NextHopSession, type Reply, replyText } from "./next-hop.js";
import { normaliseLineEnds } from "./line-ends.js";

export interface MessageContext {
  socketPath: string;
  /** "host:port" of the next hop, for log lines */
  hopName: string;
  maxFileSize: number;
  daemonTimeoutMs: number;
  log: (m: string) => void;
}

export type MessageAnswer = { message: string } | { error: Error };

export function smtpError(code: number, text: string): Error {
  const e = new Error(text.replace(/[\r\n]+/g, " ")) as Error & { responseCode: number };
  e.responseCode = code;
  return e;
}

/** The next hop's own refusal (4xx/5xx), passed back to the client as it gave it. */
export function nextHopRefusal(r: Reply): Error {
  return smtpError(r.code, r.lines.join(" "));
}

/** The wire table's reply for defer or reject as the Error smtp-server sends; only a reject
 *  carries its reason (the signature name). */
export function wireError(action: "defer" | "reject", reason?: string): Error {
  const w = wireOf({ action }, "smtp");
  return smtpError(w.code, `${w.enhanced} ${replyTextWithReason(w, reason)}`);
}

/** Reads the DATA stream, keeping at most `max` bytes but consuming all of it. */
function readBounded(stream: Readable, max: number): Promise<{ data: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    stream.on("data", (c: Buffer) => {
      size += c.length;
      if (kept < max) {
        const take = c.subarray(0, Math.min(c.length, max - kept));
        chunks.push(take);
        kept += take.length;
      }
    });
    stream.on("end", () => resolve({ data: Buffer.concat(chunks, kept), size }));
    stream.on("error", reject);
  });
}

/**
 * `next` is the transaction's next-hop session, which already took MAIL and the recipients;
 * the caller ends it afterwards, so here it only gets DATA when the mail is accepted.
 */
export async function handleMessage(ctx: MessageContext, stream: Readable, session: SMTPServerSession, peer: string, next: NextHopSession | undefined): Promise<MessageAnswer> {
  const { data, size } = await readBounded(stream, ctx.maxFileSize + 1);
  if (size > ctx.maxFileSize) {
    return { error: smtpError(552, `5.3.4 Message size exceeds fixed limit of ${ctx.maxFileSize} bytes`) };
  }
  const mail = normaliseLineEnds(data);
  const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
  const to = session.envelope.rcptTo.map((r) => r.address);
  const clientAddr = session.remoteAddress; // the XFORWARD ADDR when the trusted MTA sent one
  const answer = await daemonMail(
    ctx.socketPath,
    {
      agent: "smtp",
      sender: from,
      recipients: to,
      clientAddr,
      serverAddr: session.localAddress,
      // the client's EHLO name (XFORWARD HELO replaces it) and the MTA's name for its address
      ...(session.hostNameAppearsAs ? { helo: String(session.hostNameAppearsAs) } : {}),
      ...(typeof session.xForward?.get("NAME") === "string" ? { clientName: String(session.xForward.get("NAME")) } : {}),
    },
    mail,
    ctx.maxFileSize + MAX_REWRITE_GROWTH,
    ctx.daemonTimeoutMs,
  );
  const tag = `from=<${from}> to=${to.map((t) => `<${t}>`).join(",")} client=${clientAddr} peer=${peer}`;
  if (!answer.ok) {
    ctx.log(`error: deferring ${tag}: ${answer.error}`);
    return { error: wireError("defer") };
  }
  const r = answer.result;
  switch (r.action) {
    case "reject":
      ctx.log(`rejected ${tag}: ${r.reason}`);
      return { error: wireError("reject", r.reason) };
    case "defer":
      ctx.log(`deferred ${tag}: ${r.reason}`);
      return { error: wireError("defer") };
    case "discard":
      ctx.log(`discarded ${tag}: ${r.reason}${r.quarantineId ? ` (quarantine ${r.quarantineId})` : ""}`);
      // looks exactly like accept to the sender (wire.ts)
      return { message: `${wireOf(r, "smtp").enhanced} ${wireOf(r, "smtp").text}` };
    case "accept":
      break;
    default:
      return { error: wireError("defer") };
  }
  // incoming X-Bulwark-* fields are forged (or an earlier hop's): ours replace them
  const held = stripOwnFields(r.rewritten && answer.mail ? normaliseLineEnds(answer.mail) : mail);
  // the subject template applied to spam (the daemon sends the whole new value)
  const body = r.subject !== undefined ? setSubject(held, r.subject) : held;
  const outgoing = Buffer.concat([Buffer.from(formatHeaderFields(r.headers, "\r\n"), "utf8"), body]);
  if (!next || next.isClosed) {
    ctx.log(`error: deferring ${tag}: the session with the next hop ${ctx.hopName} was lost`);
    return { error: wireError("defer") };
  }
  const sent = await next.data(outgoing);
  if (sent.code >= 200 && sent.code < 300) {
    ctx.log(`relayed ${tag}: ${replyText(sent)}`);
    // the next hop's own reply, e.g. "2.0.0 Ok: queued as 4Xyz"
    return { message: sent.lines[0] ?? "Ok" };
  }
  if (sent.code >= 400) {
    // its own refusal, passed back as it gave it
    ctx.log(`next hop refused ${tag}: ${replyText(sent)}`);
    return { error: nextHopRefusal(sent) };
  }
  ctx.log(`error: deferring ${tag}: next hop ${ctx.hopName}: ${replyText(sent)}`);
  return { error: wireError("defer") };
}
