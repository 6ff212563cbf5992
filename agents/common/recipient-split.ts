/**
 * Keeping recipients with different policies out of one transaction (SMTP and milter agents).
 *
 * An SMTP server gives one reply at end of DATA for all recipients, so if user_config gave two
 * recipients different policies (one whitelisted, one on the black-list, or different
 * action_av_infected), one answer would be wrong for one of them. So at RCPT time a recipient
 * whose effective options differ from those of the transaction's first accepted recipient gets
 * `452 4.5.3` (RFC 5321 §4.5.3.1.10, "too many recipients"): every SMTP client, Postfix's
 * included, then sends the mail to the accepted recipients and the refused ones again in a
 * later transaction, where they lead. Each transaction then has one policy and one decision.
 *
 * The options come from host/service/recipient-options.ts, the function the daemon decides
 * with. With no user_config every recipient has the agent section's options: no split. While
 * the file is broken the recipients are not split (the daemon defers the whole mail anyway).
 */
import type { Config } from "../../host/config/load.js";
import type { AgentSection } from "../../host/config/schema.js";
import { optionsKey } from "../../host/policy/user-config.js";
import { recipientOptions } from "../../host/service/recipient-options.js";
import { UserConfigCache } from "../../host/service/user-config-file.js";

/** The reply to a recipient that must wait for its own transaction (enhanced code 4.5.3:
 *  "too many recipients", RFC 3463). */
export const SPLIT_REPLY = { code: 452, enhanced: "4.5.3", text: "Too many recipients: this one has other content-filter settings, send it in a separate transaction" } as const;

export interface RecipientIdentity {
  sender: string;
  recipient: string;
  clientAddr?: string;
  serverAddr?: string;
}

export class RecipientSplitter {
  private readonly cache = new UserConfigCache();
  private warned = false;

  constructor(
    private readonly config: Config,
    private readonly agent: AgentSection,
    private readonly log: (m: string) => void,
  ) {}

  /** A key that is equal for two recipients of one transaction exactly when the daemon will
   *  give them the same options; undefined when this cannot be told now (broken file). */
  keyOf(who: RecipientIdentity): string | undefined {
    // without a user_config every recipient has the agent section's options: nothing to split
    if (this.config.path(this.agent, "user_config") === "") return undefined;
    try {
      const { perRecipient } = recipientOptions(this.config, this.cache, {
        agent: this.agent,
        sender: who.sender,
        recipients: [who.recipient],
        clientAddr: who.clientAddr,
        serverAddr: who.serverAddr,
      });
      this.warned = false;
      return optionsKey(perRecipient[0].options);
    } catch (e) {
      if (!this.warned) this.log(`warning: recipients are not split by policy while user_config is broken: ${(e as Error).message}`);
      this.warned = true;
      return undefined;
    }
  }

  /** Whether `key` may join a transaction whose first recipient had `first` (undefined: no
   *  recipient yet, or a key that could not be told; such a transaction is never split). */
  static fits(first: string | undefined, key: string | undefined): boolean {
    return first === undefined || key === undefined || first === key;
  }
}
