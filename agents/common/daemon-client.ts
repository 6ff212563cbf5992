/**
 * The agents' client for the daemon's private commands (host/service/protocol.ts) on its local
 * socket daemon_socket_path: zBWSCAN (one object -> Verdict) and zBWMAIL (one mail -> the
 * daemon's decision, MailResult, and the rewritten mail when there is one).
 *
 * One request per connection, bounded in time (the whole request) and in size (the reply's
 * metadata frame, the rewritten mail). Every failure (no daemon, timeout, a reply that is cut,
 * too big or malformed) comes back as an error value, never an exception: BWSCAN gives a
 * Verdict with status "error", BWMAIL `{ ok: false, error }`, which the agents turn into defer.
 */
import net from "node:net";
import { DECISION_ACTIONS } from "../../host/policy/actions.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { encodeMessage, FramedMessageDecoder } from "../../host/service/frames.js";
import { BWMAIL, BWSCAN, type MailRequest, type MailResult, MAX_RESULT_FRAME, type ScanRequest } from "../../host/service/protocol.js";
import { errorVerdict } from "../../host/service/verdicts.js";

/** Default time for a whole request. Below Postfix's 100 s pipe/filter timeout (the daemon's
 *  own max_scan_time default is 60 s), so the MTA hears our defer rather than timing us out. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 90_000;

export interface Reply {
  head: unknown;
  body: Buffer;
}

/** Send `z<command>\0`, the metadata frame and the body as frames; read the reply. Rejects on
 *  any failure with a message an operator can act on. */
export function request(
  socketPath: string,
  command: string,
  head: unknown,
  body: Uint8Array,
  reply: { hasBody: (head: unknown) => boolean; maxBody: number },
  timeoutMs: number,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const dec = new FramedMessageDecoder({ maxHead: MAX_RESULT_FRAME, maxBody: reply.maxBody, hasBody: reply.hasBody });
    const sock = net.createConnection({ path: socketPath });
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve({ head: dec.head, body: dec.body() });
    };
    const timer = setTimeout(() => finish(new Error(`no answer from the daemon within ${timeoutMs} ms`)), timeoutMs);
    // The daemon may answer before it has read everything (a request it refuses) and close:
    // a write error after a complete reply is not a failure.
    sock.on("error", (e) => finish(dec.complete ? null : new Error(`cannot talk to the daemon at ${socketPath}: ${e.message}`)));
    sock.on("data", (d: Buffer) => {
      dec.push(d);
      if (dec.error !== undefined) finish(new Error(`bad reply from the daemon: ${dec.error}`));
      else if (dec.overflow) finish(new Error(`the daemon's reply is larger than ${reply.maxBody} bytes`));
    });
    sock.on("end", () => {
      if (dec.complete) finish(null);
      else finish(new Error(dec.head === undefined ? "the daemon closed the connection without an answer" : "the daemon's answer was cut short"));
    });
    sock.on("connect", () => {
      sock.write(`z${command}\0`, "latin1");
      for (const part of encodeMessage(head, body)) sock.write(part);
    });
  });
}

/** Scan one object for `agent` through the daemon. Never rejects. */
export async function daemonScan(socketPath: string, agent: ScanRequest["agent"], data: Uint8Array, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<Verdict> {
  try {
    const r = await request(socketPath, BWSCAN, { agent } satisfies ScanRequest, data, { hasBody: () => false, maxBody: 0 }, timeoutMs);
    const v = r.head as Verdict;
    if (!v || typeof v !== "object" || typeof v.status !== "string" || !Array.isArray(v.names) || !Array.isArray(v.notScanned)) {
      return errorVerdict("the daemon's verdict is malformed");
    }
    return v;
  } catch (e) {
    return errorVerdict((e as Error).message);
  }
}

export type MailAnswer = { ok: true; result: MailResult; mail?: Buffer } | { ok: false; error: string };

function checkResult(v: unknown): MailResult {
  const r = v as MailResult;
  const ok =
    !!r && typeof r === "object" &&
    (DECISION_ACTIONS as readonly string[]).includes(r.action) &&
    typeof r.reason === "string" &&
    typeof r.rewritten === "boolean" &&
    typeof r.cleaned === "boolean" &&
    Array.isArray(r.recipients) &&
    !!r.verdict && typeof r.verdict === "object" &&
    Array.isArray(r.headers) && r.headers.every((h) => h && typeof h.name === "string" && typeof h.value === "string");
  if (!ok) throw new Error("the daemon's result is malformed");
  return r;
}

/**
 * Ask the daemon to judge one mail. `mail` is what the agent holds (with `truncated` set in the
 * request when that is only the start of the mail). `maxMail` bounds the rewritten mail read
 * back (max_file_size plus MAX_REWRITE_GROWTH). Never rejects.
 */
export async function daemonMail(socketPath: string, req: MailRequest, mail: Uint8Array, maxMail: number, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<MailAnswer> {
  try {
    const hasBody = (h: unknown) => (h as MailResult | null)?.rewritten === true;
    const r = await request(socketPath, BWMAIL, req, mail, { hasBody, maxBody: maxMail }, timeoutMs);
    const result = checkResult(r.head);
    return result.rewritten ? { ok: true, result, mail: r.body } : { ok: true, result };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
