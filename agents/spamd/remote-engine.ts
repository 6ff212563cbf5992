/**
 * The spamd listener's backend in the [spamd] agent: classification and training are asked of
 * the manager on daemon_socket_path (zBWSPAM / zBWLEARN, host/service/spam-protocol.ts), one
 * request per connection, bounded in time; marking (PROCESS, HEADERS) is done here with the
 * message the agent already holds (host/spam/mark.ts), so the mail is not sent back and forth.
 *
 * Every failure (no daemon, no engine in the daemon, timeout, a malformed reply) is a
 * BackendError, which the server turns into a temporary-failure line; never a verdict.
 */
import { DEFAULT_REQUEST_TIMEOUT_MS, request } from "../common/daemon-client.js";
import { markMail } from "../../host/spam/mark.js";
import type { LearnOutcome, SpamResult } from "../../host/spam/types.js";
import { BWLEARN, BWSPAM, checkLearnOutcome, checkSpamResult, type LearnRequest, type SpamRequest } from "../../host/service/spam-protocol.js";
import { EX } from "../../host/spamd/protocol.js";
import { BackendError, type SpamdBackend } from "../../host/spamd/server.js";

const message = (e: unknown) => String((e as Error)?.message ?? e);

export interface RemoteEngineOptions {
  socketPath: string;
  /** the subject template ([spamd] as_eml_subject_template; the supervisor restarts the agent
   *  when its configuration changes) */
  subjectTemplate: () => string;
  timeoutMs?: number;
}

export class RemoteSpamEngine implements SpamdBackend {
  constructor(private readonly o: RemoteEngineOptions) {}

  private async ask(command: string, head: unknown, raw: Buffer): Promise<unknown> {
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let reply;
    try {
      reply = await request(this.o.socketPath, command, head, raw, { hasBody: () => false, maxBody: 0 }, timeoutMs);
    } catch (e) {
      const text = message(e);
      // a silent daemon may come back; an absent one is "unavailable" (spamd's word for it)
      if (text.startsWith("no answer")) throw new BackendError(EX.TEMPFAIL, `Timeout: ${text}`);
      throw new BackendError(EX.UNAVAILABLE, `Service Unavailable: ${text}`);
    }
    return reply.head;
  }

  async classify(raw: Buffer): Promise<SpamResult> {
    const head = await this.ask(BWSPAM, { agent: "spamd" } satisfies SpamRequest, raw);
    try {
      return checkSpamResult(head);
    } catch (e) {
      throw new BackendError(EX.UNAVAILABLE, `Service Unavailable: ${message(e)}`);
    }
  }

  async learn(raw: Buffer, cls: "spam" | "ham" | "forget"): Promise<LearnOutcome> {
    const head = await this.ask(BWLEARN, { cls, agent: "spamd" } satisfies LearnRequest, raw);
    try {
      return checkLearnOutcome(head);
    } catch (e) {
      throw new BackendError(EX.UNAVAILABLE, `Service Unavailable: ${message(e)}`);
    }
  }

  mark(raw: Buffer, result: SpamResult): Buffer {
    return markMail(raw, result, { subjectTemplate: this.o.subjectTemplate(), headers: true });
  }
}
