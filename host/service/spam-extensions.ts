/**
 * The daemon's private anti-spam commands zBWSPAM and zBWLEARN (spam-protocol.ts) as
 * clamd-server extensions on the daemon's local socket, next to zBWSCAN/zBWMAIL
 * (extensions.ts), over the SpamEngine the daemon owns.
 *
 * Each connection: read the request like the other private commands (transport.ts: metadata
 * frame, mail stored up to max_file_size and charged to the stream budget), answer once, close.
 * No engine (anti-spam not set up yet, or failed to open), a request that cannot be read, a mail
 * over max_file_size or an engine that throws: the reply is `{ error }`, which the agent turns
 * into a temporary failure; never a verdict made up here. zBWLEARN from the spamd agent is
 * refused unless [spamd] allow_tell = yes (the agent checks it too: this is the second lock).
 */
import type { Socket } from "node:net";
import { type ByteBudget, processStreamBudget } from "../clamd/byte-budget.js";
import type { ExtensionHandler } from "../clamd/server.js";
import type { Config } from "../config/load.js";
import type { Logger } from "../log/types.js";
import { formatScore } from "../spam/mark.js";
import type { SpamEngine } from "../spam/types.js";
import { encodeMessage } from "./frames.js";
import { type ErrorReply, parseLearnRequest, parseSpamRequest, trimSpamResult } from "./spam-protocol.js";
import { type Request, receiveRequest, sendReply } from "./transport.js";

const message = (e: unknown) => String((e as Error)?.message ?? e);

export interface SpamServiceDeps {
  config: () => Config;
  log: Logger;
  /** the daemon's engine; undefined while there is none (the commands then answer an error) */
  spam: () => SpamEngine | undefined;
  streamBudget?: ByteBudget;
}

/** The engine, or throws the error the agent is told. */
function engineOf(deps: SpamServiceDeps): SpamEngine {
  const engine = deps.spam();
  if (!engine) throw new Error("the anti-spam engine is not available in the Bulwark daemon");
  return engine;
}

export function createSpamExtensions(deps: SpamServiceDeps): { BWSPAM: ExtensionHandler; BWLEARN: ExtensionHandler } {
  const budget = deps.streamBudget ?? processStreamBudget;
  const { log } = deps;

  /** One request: read it, compute the reply (an error becomes `{ error }`), send, close. */
  const serve = (name: string, sock: Socket, rest: Buffer, work: (req: Request) => Promise<unknown>) => {
    sock.on("error", (e) => log.debug(`service: connection error: ${e.message}`));
    void (async () => {
      const maxFileSize = deps.config().int("global", "max_file_size");
      let reply: unknown;
      let req: Request | undefined;
      try {
        req = await receiveRequest(sock, rest, maxFileSize, undefined, budget);
        if (req.overflow) throw new Error(`the mail is larger than max_file_size (${maxFileSize} bytes)`);
        reply = await work(req);
      } catch (e) {
        log.error(`${name}: ${message(e)}`);
        reply = { error: message(e) } satisfies ErrorReply;
      } finally {
        req?.release();
      }
      sendReply(sock, encodeMessage(reply));
    })().catch((e) => {
      log.error(`${name}: internal error: ${message(e)}`);
      sock.destroy();
    });
  };

  const BWSPAM: ExtensionHandler = (sock, rest) =>
    serve("BWSPAM", sock, rest, async (req) => {
      const { agent, ctx } = parseSpamRequest(req.head);
      if (!deps.config().bool(agent, "agent_enabled")) throw new Error(`the ${agent} agent is disabled`);
      const result = await engineOf(deps).classify(req.body, ctx ?? {});
      const names = result.reasons.map((r) => r.name).join(",");
      log.log("summall", `${agent}: spam check: ${result.status} (score ${formatScore(result.score)} / ${formatScore(result.required)})${names ? ` ${names}` : ""}`, { agent });
      return trimSpamResult(result);
    });

  const BWLEARN: ExtensionHandler = (sock, rest) =>
    serve("BWLEARN", sock, rest, async (req) => {
      const { cls, agent } = parseLearnRequest(req.head);
      // only the spamd listener trains through the daemon (`bulwark spam learn` opens the database
      // itself), and only when the administrator allowed it
      if (agent !== "spamd" || !deps.config().bool("spamd", "allow_tell")) throw new Error(`learning through the daemon is disabled ([spamd] allow_tell = no, agent ${agent})`);
      const engine = engineOf(deps);
      const outcome = cls === "forget" ? await engine.forget(req.body) : await engine.learn(req.body, cls);
      log.log("info", `${agent}: ${cls}: ${outcome.outcome} (spam ${outcome.nspam}, ham ${outcome.nham})`, { agent });
      return outcome;
    });

  return { BWSPAM, BWLEARN };
}
