/**
 * The daemon's private commands zBWSCAN and zBWMAIL (protocol.ts) as clamd-server extensions
 * (host/clamd/server.ts `extensions`), mounted on the daemon's local socket only.
 *
 * Each connection: read the request (metadata frame ≤ MAX_METADATA_FRAME; stream stored up to
 * the current max_file_size and drained beyond it, so an oversized object costs no memory;
 * stored bytes are charged to the process-wide stream budget, host/clamd/byte-budget.ts, and a
 * stream it has no room for is drained and answered like a request that could not be read),
 * answer once, close. A request that cannot be read (bad frames, bad JSON, early end, idle
 * timeout) still gets an answer when the socket is writable: an error verdict (BWSCAN) or a
 * defer (BWMAIL); the agent would defer anyway, this only tells it why.
 */
import type { Socket } from "node:net";
import { type ByteBudget, processStreamBudget } from "../clamd/byte-budget.js";
import type { ExtensionHandler } from "../clamd/server.js";
import { encodeMessage } from "./frames.js";
import { MailService, type ServiceDeps } from "./mail-service.js";
import { type MailResult, parseMailRequest, parseScanRequest } from "./protocol.js";
import { createSpamExtensions } from "./spam-extensions.js";
import { receiveRequest, sendReply } from "./transport.js";
import { errorVerdict, oversizeVerdict, trimVerdict } from "./verdicts.js";

export type { ServiceDeps } from "./mail-service.js";

const message = (e: unknown) => String((e as Error)?.message ?? e);

export interface ExtensionOptions {
  /** what the requests' streams are charged to (host/clamd/byte-budget.ts); default: the
   *  process-wide budget, shared with the clamd servers */
  streamBudget?: ByteBudget;
}

export function createDaemonExtensions(deps: ServiceDeps, opts: ExtensionOptions = {}): Record<"BWSCAN" | "BWMAIL" | "BWSPAM" | "BWLEARN", ExtensionHandler> {
  const budget = opts.streamBudget ?? processStreamBudget;
  const mail = new MailService(deps);
  const { log } = deps;
  const watch = (sock: Socket) => sock.on("error", (e) => log.debug(`service: connection error: ${e.message}`));

  const BWSCAN: ExtensionHandler = (sock, rest) => {
    watch(sock);
    void (async () => {
      const maxFileSize = deps.config().int("global", "max_file_size");
      let reply;
      let req;
      try {
        req = await receiveRequest(sock, rest, maxFileSize, undefined, budget);
        const { agent } = parseScanRequest(req.head);
        if (!deps.config().bool(agent, "agent_enabled")) throw new Error(`the ${agent} agent is disabled`);
        // the body serves nothing else: the scanner may move it to its worker (transfer)
        const verdict = req.overflow ? oversizeVerdict(maxFileSize, req.received, true) : await deps.scanner().scan(req.body, { name: "stream", transfer: true });
        try {
          deps.stats.recordScan(agent, verdict, false);
        } catch (e) {
          log.error(`statistics: ${message(e)}`);
        }
        for (const d of verdict.detections) log.log("part", `${agent}: ${d.path || "(object)"}: ${d.name} found`, { agent, name: d.name });
        for (const n of verdict.notScanned) log.log("part", `${agent}: ${n.path || "(object)"}: not scanned: ${n.name}`, { agent, name: n.name });
        if (verdict.status === "error") log.error(`scan failed: ${verdict.error ?? "unknown error"}`, { agent });
        reply = trimVerdict(verdict);
      } catch (e) {
        log.error(`BWSCAN: ${message(e)}`);
        reply = errorVerdict(message(e));
      } finally {
        req?.release(); // scanned, or not going to be
      }
      sendReply(sock, encodeMessage(reply));
    })().catch((e) => {
      log.error(`BWSCAN: internal error: ${message(e)}`);
      sock.destroy();
    });
  };

  const BWMAIL: ExtensionHandler = (sock, rest) => {
    watch(sock);
    void (async () => {
      const maxFileSize = deps.config().int("global", "max_file_size");
      let req;
      try {
        req = await receiveRequest(sock, rest, maxFileSize, undefined, budget);
      } catch (e) {
        const reason = message(e);
        log.error(`BWMAIL: request not read, deferring: ${reason}`);
        return sendReply(sock, encodeMessage(deferResult(reason)));
      }
      let outcome;
      try {
        let request;
        try {
          request = parseMailRequest(req.head);
        } catch (e) {
          const reason = `bad request: ${message(e)}`;
          log.error(`BWMAIL: ${reason}`);
          return sendReply(sock, encodeMessage(deferResult(reason)));
        }
        outcome = await mail.handle(request, { mail: req.body, received: req.received, overflow: req.overflow });
      } finally {
        req.release(); // judged (or refused); the reply's mail is a buffer of its own
      }
      sendReply(sock, encodeMessage(outcome.result, outcome.result.rewritten ? outcome.mail : undefined));
    })().catch((e) => {
      log.error(`BWMAIL: internal error: ${message(e)}`);
      sock.destroy();
    });
  };

  // zBWSPAM / zBWLEARN (the [spamd] agent's), over the same engine the mail service uses
  const spamCommands = createSpamExtensions({ config: deps.config, log, spam: () => deps.spam?.(), streamBudget: budget });
  return { BWSCAN, BWMAIL, ...spamCommands };
}

function deferResult(reason: string): MailResult {
  return { action: "defer", reason, recipients: [], verdict: errorVerdict(reason), cleaned: false, rewritten: false, headers: [] };
}
